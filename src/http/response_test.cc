#include "http/response.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http/status.h"

namespace kvd::http {
namespace {

constexpr time_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 5.6.7)
const std::string kDate = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
const std::string kText = "Content-Type: text/plain; charset=utf-8\r\n";

DateCache FixedDate() {
  DateCache d;
  d.Update(kRfcExample);
  return d;
}

TEST_CASE("DateCache: IMF-fixdate") {
  DateCache d = FixedDate();
  CHECK(d.header() == kDate);

  d.Update(0);
  CHECK(d.header() == "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
  d.Update(951782400);  // a leap day
  CHECK(d.header() == "Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n");
  d.Update(4102444799);
  CHECK(d.header() == "Date: Thu, 31 Dec 2099 23:59:59 GMT\r\n");

  // A fresh cache holds the current time, in the same format.
  DateCache now;
  std::string_view h = now.header();
  CHECK(h.size() == kDate.size());
  CHECK(h.substr(0, 6) == "Date: ");
  CHECK(h.substr(h.size() - 6) == " GMT\r\n");
}

TEST_CASE("DateCache: changes only on a new second") {
  DateCache d = FixedDate();
  std::string_view first = d.header();
  d.Update(kRfcExample);
  CHECK(d.header() == kDate);
  CHECK(d.header().data() == first.data());  // the same storage, rewritten in place at most
  d.Update(kRfcExample + 1);
  CHECK(d.header() == "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n");
  d.Update(kRfcExample + 1);
  CHECK(d.header() == "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n");
  d.Update(kRfcExample + 3600 * 24);
  CHECK(d.header() == "Date: Mon, 07 Nov 1994 08:49:37 GMT\r\n");
  d.Update(kRfcExample);  // back in time is a new second too
  CHECK(d.header() == kDate);
}

std::string Respond(const Head& head, std::string_view body, bool head_only = false) {
  DateCache d = FixedDate();
  Buffer out;
  AppendResponse(&out, d, head, body, head_only);
  return std::string(out.view());
}

TEST_CASE("AppendResponse: 200 with a body") {
  CHECK(Respond({}, "hello") ==
        "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: 5\r\n\r\nhello");
  // content_length is taken from the body, not from the Head passed in.
  Head h;
  h.content_length = 999;
  CHECK(Respond(h, "") == "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: 0\r\n\r\n");
  // Binary bodies are copied as they are.
  std::string bin("a\0\r\n\xff", 5);
  CHECK(Respond({}, bin) == "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: 5\r\n\r\n" + bin);
}

TEST_CASE("AppendResponse: HEAD leaves the body out but keeps its Content-Length") {
  CHECK(Respond({}, "hello", true) == "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: 5\r\n\r\n");
}

TEST_CASE("AppendResponse: Connection: close, extra headers, content type") {
  Head h;
  h.status = 405;
  h.close = true;
  h.extra_headers = "Allow: GET, HEAD\r\n";
  CHECK(Respond(h, "method not allowed") ==
        "HTTP/1.1 405 Method Not Allowed\r\n" + kDate + kText +
            "Content-Length: 18\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\nmethod not allowed");

  h = Head{};
  h.status = 401;
  h.extra_headers = "WWW-Authenticate: Bearer realm=\"kvd\"\r\nX-A: b\r\n";
  CHECK(Respond(h, "no") == "HTTP/1.1 401 Unauthorized\r\n" + kDate + kText +
                                "Content-Length: 2\r\nWWW-Authenticate: Bearer realm=\"kvd\"\r\nX-A: b\r\n\r\nno");

  h = Head{};
  h.content_type = "text/plain; version=0.0.4; charset=utf-8";
  CHECK(Respond(h, "m 1\n") == "HTTP/1.1 200 OK\r\n" + kDate +
                                   "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                   "Content-Length: 4\r\n\r\nm 1\n");
}

TEST_CASE("AppendResponse: 204 has no Content-Length") {
  Head h;
  h.status = 204;
  CHECK(Respond(h, "") == "HTTP/1.1 204 No Content\r\n" + kDate + kText + "\r\n");
  h.close = true;
  CHECK(Respond(h, "") == "HTTP/1.1 204 No Content\r\n" + kDate + kText + "Connection: close\r\n\r\n");
}

TEST_CASE("AppendHead: writes the head only, with the given length") {
  DateCache d = FixedDate();
  Buffer out;
  Head h;
  h.status = 404;
  h.content_length = 1234567890123;
  AppendHead(&out, d, h);
  CHECK(out.view() == "HTTP/1.1 404 Not Found\r\n" + kDate + kText + "Content-Length: 1234567890123\r\n\r\n");
}

TEST_CASE("AppendHead: the cached 200 head is the general head, for every length") {
  DateCache d = FixedDate();
  CHECK(d.ok_prefix() == "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: ");
  std::vector<uint64_t> lengths;
  for (uint64_t n = 0; n <= 1100; ++n) lengths.push_back(n);
  for (uint64_t p = 1000; p <= UINT64_MAX / 10; p *= 10) {
    lengths.insert(lengths.end(), {p - 1, p, p + 1, p * 10 - 1});
  }
  lengths.push_back(UINT64_MAX);
  std::string other_text(kTextPlain);  // equal text in other storage is the same type
  for (uint64_t n : lengths) {
    CAPTURE(n);
    std::string want = "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: " + std::to_string(n) + "\r\n\r\n";
    Head h;
    h.content_length = n;
    Buffer out;
    AppendHead(&out, d, h);
    CHECK(out.view() == want);
    h.content_type = other_text;
    out.Clear();
    AppendHead(&out, d, h);
    CHECK(out.view() == want);
  }
}

TEST_CASE("DateCache: the cached 200 head follows the second") {
  DateCache d = FixedDate();
  d.Update(kRfcExample + 1);
  CHECK(d.ok_prefix() ==
        "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\n" + kText + "Content-Length: ");
  Buffer out;
  AppendResponse(&out, d, {}, "x");
  CHECK(out.view() == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\n" + kText +
                          "Content-Length: 1\r\n\r\nx");
  // A date of another width (year 10000) has no cached head; the general path writes it.
  d.Update(253402300800);
  CHECK(d.header() == "Date: Sat, 01 Jan 10000 00:00:00 GMT\r\n");
  CHECK(d.ok_prefix().empty());
  out.Clear();
  AppendResponse(&out, d, {}, "x");
  CHECK(out.view() == "HTTP/1.1 200 OK\r\nDate: Sat, 01 Jan 10000 00:00:00 GMT\r\n" + kText +
                          "Content-Length: 1\r\n\r\nx");
  d.Update(kRfcExample);
  CHECK(d.ok_prefix() == "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: ");
}

TEST_CASE("AppendResponse: appends after what the buffer holds, for pipelined answers") {
  DateCache d = FixedDate();
  Buffer out;
  AppendResponse(&out, d, {}, "a");
  Head h;
  h.status = 404;
  AppendResponse(&out, d, h, "");
  out.Append(k100Continue);
  std::string one = "HTTP/1.1 200 OK\r\n" + kDate + kText + "Content-Length: 1\r\n\r\na";
  std::string two = "HTTP/1.1 404 Not Found\r\n" + kDate + kText + "Content-Length: 0\r\n\r\n";
  CHECK(out.view() == one + two + "HTTP/1.1 100 Continue\r\n\r\n");
  // A partly consumed buffer keeps its unsent bytes in front.
  out.Consume(one.size());
  AppendResponse(&out, d, {}, "b");
  CHECK(out.view() == two + "HTTP/1.1 100 Continue\r\n\r\n" + "HTTP/1.1 200 OK\r\n" + kDate + kText +
                          "Content-Length: 1\r\n\r\nb");
}

TEST_CASE("ReasonPhrase and status lines for every status kvd sends") {
  struct Case {
    int status;
    const char* line;
  } cases[] = {
      {100, "HTTP/1.1 100 Continue\r\n"},
      {200, "HTTP/1.1 200 OK\r\n"},
      {400, "HTTP/1.1 400 Bad Request\r\n"},
      {401, "HTTP/1.1 401 Unauthorized\r\n"},
      {404, "HTTP/1.1 404 Not Found\r\n"},
      {405, "HTTP/1.1 405 Method Not Allowed\r\n"},
      {408, "HTTP/1.1 408 Request Timeout\r\n"},
      {412, "HTTP/1.1 412 Precondition Failed\r\n"},
      {413, "HTTP/1.1 413 Content Too Large\r\n"},
      {414, "HTTP/1.1 414 URI Too Long\r\n"},
      {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
      {500, "HTTP/1.1 500 Internal Server Error\r\n"},
      {503, "HTTP/1.1 503 Service Unavailable\r\n"},
      {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
      {507, "HTTP/1.1 507 Insufficient Storage\r\n"},
      {299, "HTTP/1.1 299 Unknown\r\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.status);
    Head h;
    h.status = c.status;
    std::string r = Respond(h, "x");
    CHECK(r.substr(0, r.find("\r\n") + 2) == c.line);
    CHECK(r.substr(r.size() - 1) == "x");
  }
  CHECK(ReasonPhrase(204) == "No Content");
  CHECK(ReasonPhrase(418) == "Unknown");
  // Every status of the table has its line and its slot; others share the last slot.
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    CAPTURE(kStatuses[i]);
    CHECK(StatusSlot(kStatuses[i]) == i);
    CHECK(StatusLine(kStatuses[i]).size() > 13);
    CHECK(ReasonPhrase(kStatuses[i]) != "Unknown");
  }
  CHECK(StatusSlot(418) == kStatuses.size());
  CHECK(StatusLine(418).empty());
}

}  // namespace
}  // namespace kvd::http
