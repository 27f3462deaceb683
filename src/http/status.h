// Every HTTP status kvd sends, with its reason phrase (RFC 9110): the one table the status lines
// and the metrics' `code` label are made from.
//
// Thread safety: constants.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace kvd::http {

#define KVD_HTTP_STATUSES(X)                \
  X(100, "Continue")                        \
  X(200, "OK")                              \
  X(201, "Created")                         \
  X(204, "No Content")                      \
  X(304, "Not Modified")                    \
  X(400, "Bad Request")                     \
  X(401, "Unauthorized")                    \
  X(404, "Not Found")                       \
  X(405, "Method Not Allowed")              \
  X(408, "Request Timeout")                 \
  X(409, "Conflict")                        \
  X(412, "Precondition Failed")             \
  X(413, "Content Too Large")               \
  X(414, "URI Too Long")                    \
  X(417, "Expectation Failed")              \
  X(421, "Misdirected Request")             \
  X(431, "Request Header Fields Too Large") \
  X(500, "Internal Server Error")           \
  X(501, "Not Implemented")                 \
  X(503, "Service Unavailable")             \
  X(505, "HTTP Version Not Supported")      \
  X(507, "Insufficient Storage")

#define KVD_STATUS_CODE(code, text) code,
inline constexpr std::array kStatuses = {KVD_HTTP_STATUSES(KVD_STATUS_CODE)};
#undef KVD_STATUS_CODE
// Statuses a metric tells apart: every one of the table, and one more for anything else.
inline constexpr size_t kStatusSlots = kStatuses.size() + 1;

// The status's place in kStatuses, or kStatuses.size() for one not in it.
constexpr size_t StatusSlot(int status) {
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size();
}

// "OK", ...; "Unknown" for a status not in the table.
std::string_view ReasonPhrase(int status);
// "HTTP/1.1 200 OK\r\n", ...; empty for a status not in the table.
std::string_view StatusLine(int status);

}  // namespace kvd::http
