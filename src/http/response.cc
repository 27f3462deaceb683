#include "http/response.h"

#include <cstring>
#include <initializer_list>

#include "fmt/format.h"
#include "http/status.h"

namespace kvd::http {

void DateCache::Update(time_t now) {
  if (now == second_) return;
  second_ = now;
  tm t;
  gmtime_r(&now, &t);
  len_ = strftime(buf_, sizeof buf_, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
  // The cached 200 prefix; left empty if the date is not the usual width (a year past 9999),
  // since AppendHead copies it with a fixed size.
  ok_len_ = 0;
  if (len_ != kDateBytes) return;
  for (std::string_view s : {std::string_view("HTTP/1.1 200 OK\r\n"), header(),
                             std::string_view("Content-Type: "), kTextPlain,
                             std::string_view("\r\nContent-Length: ")}) {
    std::memcpy(ok_ + ok_len_, s.data(), s.size());
    ok_len_ += s.size();
  }
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
#define KVD_REASON(code, text) case code: return text;
    KVD_HTTP_STATUSES(KVD_REASON)
#undef KVD_REASON
    default: return "Unknown";
  }
}

// The whole status line as one literal, so writing it is one copy.
std::string_view StatusLine(int status) {
  switch (status) {
#define KVD_LINE(code, text) case code: return "HTTP/1.1 " #code " " text "\r\n";
    KVD_HTTP_STATUSES(KVD_LINE)
#undef KVD_LINE
    default: return {};
  }
}

namespace {

// Writes v in decimal at p; returns the end. (fmt::format_int costs more for the one to four
// digits of most responses.)
char* WriteDecimal(char* p, uint64_t v) {
  size_t digits = 1;
  for (uint64_t t = v; t >= 10; t /= 10) ++digits;
  char* end = p + digits;
  for (char* q = end; q != p; v /= 10) *--q = char('0' + v % 10);
  return end;
}

bool IsTextPlain(std::string_view type) {
  // The same view in the common case; equal text from elsewhere is the same type too.
  return type.size() == kTextPlain.size() && (type.data() == kTextPlain.data() || type == kTextPlain);
}

}  // namespace

void AppendHead(Buffer* out, const DateCache& date, const Head& head) {
  // The common head (a 200 of the default type, kept open, no extra headers): the prefix cached
  // with the date, the length, the blank line, written where they go, with fixed-size copies.
  std::string_view ok = date.ok_prefix();
  if (head.status == 200 && !head.close && head.extra_headers.empty() && !ok.empty() &&
      IsTextPlain(head.content_type) && (head.etag.empty() || head.etag.size() == kEtagBytes)) {
    char* const start = out->Reserve(DateCache::kOkPrefixBytes + 20 + 8 + kEtagBytes + 4);
    std::memcpy(start, ok.data(), DateCache::kOkPrefixBytes);
    char* p = WriteDecimal(start + DateCache::kOkPrefixBytes, head.content_length);
    if (!head.etag.empty()) {  // kvd's own tag, of a fixed size: copied inline
      std::memcpy(p, "\r\nETag: ", 8);
      std::memcpy(p + 8, head.etag.data(), kEtagBytes);
      p += 8 + kEtagBytes;
    }
    std::memcpy(p, "\r\n\r\n", 4);
    out->Commit(size_t(p + 4 - start));
    return;
  }
  // One Reserve for the whole head: the status line and header names are short and fixed.
  std::string_view status_line = StatusLine(head.status);
  fmt::basic_memory_buffer<char, 48> unknown;
  if (status_line.empty()) {
    fmt::format_to(std::back_inserter(unknown), "HTTP/1.1 {} Unknown\r\n", head.status);
    status_line = {unknown.data(), unknown.size()};
  }
  fmt::format_int len(head.content_length);
  size_t need = status_line.size() + date.header().size() + 14 + head.content_type.size() + 2 +
                16 + len.size() + 2 + (head.close ? 19 : 0) + 8 + head.etag.size() +
                head.extra_headers.size() + 2;
  char* p = out->Reserve(need);
  char* start = p;
  auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // an empty view may have a null data()
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(status_line);
  put(date.header());
  // RFC 9110 15.4.5: a 304 carries no representation metadata, and its length (none) is not that
  // of the 200 it stands for. RFC 9110 15.3.5: no Content-Length on a 204.
  if (head.status != 304) {
    put("Content-Type: ");
    put(head.content_type);
    put("\r\n");
  }
  if (head.status != 204 && head.status != 304) {
    put("Content-Length: ");
    put({len.data(), len.size()});
    put("\r\n");
  }
  if (!head.etag.empty()) {
    put("ETag: ");
    put(head.etag);
    put("\r\n");
  }
  if (head.close) put("Connection: close\r\n");
  put(head.extra_headers);
  put("\r\n");
  out->Commit(size_t(p - start));
}

}  // namespace kvd::http
