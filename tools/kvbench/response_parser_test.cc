// Unit tests for ResponseParser (doctest). Not linked into ./kvbench (the Makefile skips
// tools/kvbench/*_test.cc); build with the kvbench sources and src/doctest_main_test.cc.
#include "kvbench/response_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace kvbench {
namespace {

struct Parsed {
  std::vector<Response> responses;
  bool error = false;
  std::string why;
};

// Feeds `wire` to a parser in chunks of the given sizes (cycled), keeping unconsumed head bytes
// the way the client does.
Parsed Feed(const std::string& wire, const std::vector<size_t>& chunks, bool track = true) {
  Parsed out;
  ResponseParser p;
  std::string pending;
  size_t pos = 0, ci = 0;
  while (pos < wire.size()) {
    const size_t n = std::min(chunks[ci++ % chunks.size()], wire.size() - pos);
    pending.append(wire, pos, n);
    pos += n;
    size_t off = 0;
    while (off < pending.size()) {
      size_t used = 0;
      auto r = p.Parse(pending.data() + off, pending.size() - off, track, &used);
      off += used;
      if (r == ResponseParser::Result::kError) {
        out.error = true;
        out.why = p.error();
        return out;
      }
      if (r == ResponseParser::Result::kNeedMore) break;
      out.responses.push_back(p.response());
    }
    pending.erase(0, off);
    CHECK(pending.size() < ResponseParser::kMaxHeadBytes);
  }
  return out;
}

const std::string kOk =
    "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n41";

TEST_CASE("parses one response whole and split at every byte boundary") {
  for (size_t split = 1; split <= kOk.size(); split++) {
    Parsed r = Feed(kOk + kOk, {split});
    REQUIRE_FALSE(r.error);
    REQUIRE(r.responses.size() == 2);
    for (const auto& resp : r.responses) {
      CHECK(resp.status == 200);
      CHECK(resp.content_length == 2);
      CHECK(resp.wire_bytes == kOk.size());
      CHECK(resp.value_ok);
      CHECK(resp.value == 41);
      CHECK_FALSE(resp.close);
    }
  }
}

TEST_CASE("many pipelined responses in odd chunk sizes") {
  std::string wire;
  for (int i = 0; i < 50; i++) {
    const std::string body = std::to_string(i * 7);
    wire += "HTTP/1.1 " + std::string(i % 5 == 0 ? "404 Not Found" : "200 OK") +
            "\r\ncontent-length:" + std::to_string(body.size()) + "  \r\n\r\n" + body;
  }
  Parsed r = Feed(wire, {1, 7, 3, 64, 2, 1000});
  REQUIRE_FALSE(r.error);
  REQUIRE(r.responses.size() == 50);
  for (int i = 0; i < 50; i++) {
    CHECK(r.responses[i].status == (i % 5 == 0 ? 404 : 200));
    CHECK(r.responses[i].value == i * 7);
  }
}

TEST_CASE("body values") {
  auto value_of = [](const std::string& body, bool* ok) {
    Parsed r = Feed("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body,
                    {3});
    REQUIRE(r.responses.size() == 1);
    *ok = r.responses[0].value_ok;
    return r.responses[0].value;
  };
  bool ok = false;
  CHECK(value_of("0", &ok) == 0);
  CHECK(ok);
  CHECK(value_of("000123", &ok) == 123);
  CHECK(ok);
  CHECK(value_of("-5", &ok) == -5);
  CHECK(ok);
  CHECK(value_of("9223372036854775807", &ok) == INT64_MAX);
  CHECK(ok);
  value_of("9223372036854775808", &ok);
  CHECK_FALSE(ok);
  value_of("", &ok);
  CHECK_FALSE(ok);
  value_of("-", &ok);
  CHECK_FALSE(ok);
  value_of("12a", &ok);
  CHECK_FALSE(ok);
  value_of(" 1", &ok);
  CHECK_FALSE(ok);
}

TEST_CASE("no value tracking when not asked") {
  Parsed r = Feed(kOk, {5}, /*track=*/false);
  REQUIRE(r.responses.size() == 1);
  CHECK_FALSE(r.responses[0].value_ok);
}

TEST_CASE("204 and 304 have no body; Connection: close is reported") {
  Parsed r = Feed(
      "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\n1",
      {4});
  REQUIRE_FALSE(r.error);
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].status == 204);
  CHECK_FALSE(r.responses[0].close);
  CHECK(r.responses[1].close);
}

TEST_CASE("empty reason phrase, with or without the space; HTTP/1.0") {
  Parsed r = Feed(
      "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\nHTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
      {1});
  REQUIRE_FALSE(r.error);
  CHECK(r.responses.size() == 3);
}

TEST_CASE("rejects invalid responses, whole or split") {
  const char* bad[] = {
      "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
      "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: a\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n1",
      "garbage",
  };
  for (const char* b : bad) {
    const std::string wire(b, b == bad[14] ? 45 : std::char_traits<char>::length(b));
    CAPTURE(wire);
    CHECK(Feed(wire, {1000}).error);
    CHECK(Feed(wire, {1}).error);
  }
}

TEST_CASE("kvd's head (names matched by the fast path), split at every byte boundary") {
  const std::string kvd =
      "HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 01:39:03 GMT\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\n12";
  for (size_t split = 1; split <= kvd.size(); split++) {
    Parsed r = Feed(kvd + kvd, {split});
    REQUIRE_FALSE(r.error);
    REQUIRE(r.responses.size() == 2);
    CHECK(r.responses[1].value == 12);
    CHECK(r.responses[1].wire_bytes == kvd.size());
  }
  // Names that only start like a known one take the generic path.
  Parsed r = Feed("HTTP/1.1 200 OK\r\nContent-Length-X: 9\r\nDate-Y: 1\r\nContent-Length: 0\r\n\r\n",
                  {1000});
  REQUIRE_FALSE(r.error);
  CHECK(r.responses.at(0).content_length == 0);
  CHECK(Feed("HTTP/1.1 200 OK\r\nDate : x\r\nContent-Length: 0\r\n\r\n", {1000}).error);
  CHECK(Feed("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", {1000}).error);
  CHECK(Feed("HTTP/1.1 200 OK\r\ncontent-length: 1\r\nContent-Length: 2\r\n\r\nab", {1000}).error);
}

TEST_CASE("every byte value at every offset of a field value and of the reason phrase") {
  // The value scan steps 8 bytes at a time: check each byte class at each position of a word,
  // and near the end of the buffer. Allowed: HTAB, SP..'~', 0x80..0xff (obs-text).
  for (int b = 0; b < 256; b++) {
    const bool allowed = b == '\t' || (b >= 0x20 && b != 0x7f);
    for (size_t off = 0; off < 20; off++) {
      const std::string value = std::string(off, 'a') + static_cast<char>(b) + std::string(9, 'z');
      const std::string field =
          "HTTP/1.1 200 OK\r\nX-Value: " + value + "\r\nContent-Length: 0\r\n\r\n";
      const std::string reason = "HTTP/1.1 200 " + value + "\r\nContent-Length: 0\r\n\r\n";
      CAPTURE(b);
      CAPTURE(off);
      for (const std::string& wire : {field, reason}) {
        Parsed whole = Feed(wire, {wire.size()});
        CHECK(whole.error == !allowed);
        if (allowed) CHECK(whole.responses.size() == 1);
        // Cut right after the byte, in a buffer of exactly that size (ASan builds catch reads
        // past it): the scan must stop at the end of what it was given.
        const std::vector<char> cut(wire.begin(), wire.end() - 23 - 9);
        ResponseParser p;
        size_t used = 0;
        const auto res = p.Parse(cut.data(), cut.size(), false, &used);
        const bool more = allowed || b == '\r';  // a CR at the end may yet be followed by LF
        CHECK(res == (more ? ResponseParser::Result::kNeedMore : ResponseParser::Result::kError));
      }
    }
  }
}

TEST_CASE("an identical repeated Content-Length is accepted") {
  Parsed r = Feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n7", {2});
  REQUIRE_FALSE(r.error);
  CHECK(r.responses.size() == 1);
}

TEST_CASE("head size and header count limits") {
  std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(ResponseParser::kMaxHeadBytes, 'a');
  Parsed r = Feed(big, {512});
  CHECK(r.error);
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i <= ResponseParser::kMaxHeaders; i++) many += "X: y\r\n";
  many += "Content-Length: 0\r\n\r\n";
  CHECK(Feed(many, {4096}).error);
}

}  // namespace
}  // namespace kvbench
