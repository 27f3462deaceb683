// Response writing: appends HTTP/1.1 responses to a connection's output buffer, in the order the
// requests came, so one write(2) can carry a whole pipelined batch.
//
// Every response carries Date, Content-Type and Content-Length (not a 204's or a 304's, and a 304
// has no Content-Type either); `Connection: close` when the connection ends after it. Thread safety: DateCache is per reactor; the functions are pure.
#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

#include "util/buffer.h"

namespace kvd::http {

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

// "Date: <IMF-fixdate>\r\n", rebuilt at most once a second, and with it the head of a plain 200
// up to its length digits, so that the most common head is one fixed-size copy.
class DateCache {
 public:
  DateCache() { Update(std::time(nullptr)); }
  void Update(time_t now);
  std::string_view header() const { return {buf_, len_}; }

  // "HTTP/1.1 200 OK\r\n" Date "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ",
  // exactly kOkPrefixBytes long, or empty when the date has an unusual length (a year past 9999).
  static constexpr size_t kDateBytes = 37;  // "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
  static constexpr size_t kOkPrefixBytes = 17 + kDateBytes + 14 + kTextPlain.size() + 2 + 16;
  std::string_view ok_prefix() const { return {ok_, ok_len_}; }

 private:
  time_t second_ = -1;
  char buf_[64];
  size_t len_ = 0;
  char ok_[kOkPrefixBytes];
  size_t ok_len_ = 0;
};

// An ETag's value as kvd writes it, quotes included: "<8 hex digits of the run><8 of the version>".
inline constexpr size_t kEtagBytes = 18;

struct Head {
  int status = 200;
  uint64_t content_length = 0;
  bool close = false;                        // adds Connection: close
  std::string_view content_type = kTextPlain;
  std::string_view etag = {};                // the ETag field's value, quotes included
  std::string_view extra_headers = {};       // whole lines, each ending in \r\n
};

// Appends the status line and headers, up to and including the blank line.
void AppendHead(Buffer* out, const DateCache& date, const Head& head);

// Appends a whole response; with head_only (HEAD requests) the body is left out but
// Content-Length still gives its size.
inline void AppendResponse(Buffer* out, const DateCache& date, Head head, std::string_view body,
                           bool head_only = false) {
  head.content_length = body.size();
  AppendHead(out, date, head);
  if (!head_only) out->Append(body);
}

// The interim response to `Expect: 100-continue`.
inline constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";


}  // namespace kvd::http
