#include "http/response.h"

#include <cstring>

#include "fmt/format.h"

namespace kvd::http {

void DateCache::Update(time_t now) {
  if (now == second_) return;
  second_ = now;
  tm t;
  gmtime_r(&now, &t);
  len_ = strftime(buf_, sizeof buf_, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

void AppendHead(Buffer* out, const DateCache& date, const Head& head) {
  // One Reserve for the whole head: the status line and header names are short and fixed.
  std::string_view reason = ReasonPhrase(head.status);
  fmt::format_int len(head.content_length);
  size_t need = 13 + reason.size() + 2 + date.header().size() + 14 + head.content_type.size() + 2 +
                16 + len.size() + 2 + (head.close ? 19 : 0) + head.extra_headers.size() + 2;
  char* p = out->Reserve(need);
  char* start = p;
  auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // an empty view may have a null data()
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put("HTTP/1.1 ");
  fmt::format_int code(head.status);
  put({code.data(), code.size()});
  *p++ = ' ';
  put(reason);
  put("\r\n");
  put(date.header());
  put("Content-Type: ");
  put(head.content_type);
  put("\r\n");
  if (head.status != 204) {  // RFC 9110 15.3.5: no Content-Length on a 204
    put("Content-Length: ");
    put({len.data(), len.size()});
    put("\r\n");
  }
  if (head.close) put("Connection: close\r\n");
  put(head.extra_headers);
  put("\r\n");
  out->Commit(size_t(p - start));
}

}  // namespace kvd::http
