// Unit tests for the URI parser, RequestWriter and report helpers (doctest); see
// response_parser_test.cc.
#include "kvbench/workload.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kvbench/report.h"
#include "kvbench/rng.h"

namespace kvbench {
namespace {

TEST_CASE("ParseUri") {
  Target t;
  std::string err;
  REQUIRE(ParseUri("http://127.0.0.1:8081", &t, &err));
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 8081);
  CHECK(t.host_header == "127.0.0.1:8081");
  CHECK(t.path_prefix == "");
  REQUIRE(ParseUri("HTTP://localhost/kv/", &t, &err));
  CHECK(t.port == 80);
  CHECK(t.host_header == "localhost:80");
  CHECK(t.path_prefix == "/kv");
  REQUIRE(ParseUri("http://[::1]:9000", &t, &err));
  CHECK(t.host == "::1");
  CHECK(t.host_header == "[::1]:9000");
  CHECK_FALSE(ParseUri("https://x", &t, &err));
  CHECK_FALSE(ParseUri("http://", &t, &err));
  CHECK_FALSE(ParseUri("http://h:0", &t, &err));
  CHECK_FALSE(ParseUri("http://h:70000", &t, &err));
  CHECK_FALSE(ParseUri("http://h:x", &t, &err));
  CHECK_FALSE(ParseUri("http://h/?q", &t, &err));
  CHECK_FALSE(ParseUri("http://u@h", &t, &err));
}

Config TestConfig(size_t value_bytes, const char* method = "POST") {
  Config c;
  std::string err;
  REQUIRE(ParseUri("http://127.0.0.1:8081", &c.target, &err));
  c.value_bytes = value_bytes;
  c.set_method = method;
  return c;
}

TEST_CASE("requests are exact and within max_request_bytes") {
  const Config c = TestConfig(0);
  RequestWriter w(c);
  std::string buf(w.max_request_bytes(), '\0');
  buf.resize(w.WriteGet(buf.data(), 42));
  CHECK(buf == "GET /42 HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n\r\n");
  buf.assign(w.max_request_bytes(), '\0');
  buf.resize(w.WriteSet(buf.data(), 999999, 1234));
  CHECK(buf == "POST /999999 HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nContent-Length: 4\r\n\r\n1234");
  buf.assign(w.max_request_bytes(), '\0');
  const size_t n = w.WriteSet(buf.data(), UINT64_MAX, INT64_MIN);
  CHECK(n <= w.max_request_bytes());
  buf.assign(w.max_request_bytes(), '\0');
  CHECK(w.WriteGet(buf.data(), UINT64_MAX) <= w.max_request_bytes());
}

TEST_CASE("WriteDecimal at every digit-count boundary") {
  std::vector<uint64_t> values = {0, 1, 9, UINT64_MAX, UINT64_MAX - 1};
  for (uint64_t p = 10; p <= 10000000000000000000ULL; p *= 10) {
    values.insert(values.end(), {p - 1, p, p + 1, p * 5 + 3});
    if (p == 10000000000000000000ULL) break;
  }
  for (uint64_t v : values) {
    char out[21] = {};
    const size_t n = WriteDecimal(out, v);
    CHECK(std::string(out, n) == std::to_string(v));
    CHECK(out[n] == '\0');  // writes exactly its digits
  }
}

TEST_CASE("every body length, in exactly max_request_bytes of memory") {
  // The writer copies whole blocks and moves short bodies with a fixed-size move: check the
  // bytes it returns against a plain formatting, in a buffer of exactly max_request_bytes()
  // (ASan builds catch a write past it), for keys and bodies of every length and sign.
  const Config c = TestConfig(0);
  RequestWriter w(c);
  std::vector<int64_t> bodies = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MIN + 1};
  for (int64_t p = 10;; p *= 10) {
    bodies.insert(bodies.end(), {p - 1, p, -(p - 1), -p});
    if (p == 1000000000000000000LL) break;
  }
  for (int64_t b : bodies) {
    for (uint64_t key : {uint64_t{0}, uint64_t{123456}, UINT64_MAX}) {
      const std::string body = std::to_string(b);
      std::vector<char> buf(w.max_request_bytes());
      const size_t n = w.WriteSet(buf.data(), key, b);
      CHECK(std::string(buf.data(), n) ==
            "POST /" + std::to_string(key) + " HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
      CHECK(w.Body(b) == body);
      std::vector<char> get(w.max_request_bytes());
      const size_t g = w.WriteGet(get.data(), key);
      CHECK(std::string(get.data(), g) ==
            "GET /" + std::to_string(key) + " HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n\r\n");
    }
  }
  // Long templates (a long path prefix and host) span several blocks.
  Config long_uri = c;
  std::string err;
  const std::string prefix = "/" + std::string(40, 'p');
  REQUIRE(ParseUri("http://" + std::string(30, 'h') + ":9" + prefix, &long_uri.target, &err));
  RequestWriter lw(long_uri);
  std::vector<char> buf(lw.max_request_bytes());
  const size_t n = lw.WriteGet(buf.data(), 77);
  CHECK(std::string(buf.data(), n) ==
        "GET " + prefix + "/77 HTTP/1.1\r\nHost: " + std::string(30, 'h') + ":9\r\n\r\n");
}

TEST_CASE("PUT and a path prefix") {
  Config c = TestConfig(0, "PUT");
  std::string err;
  REQUIRE(ParseUri("http://h:1/p", &c.target, &err));
  RequestWriter w(c);
  std::string buf(w.max_request_bytes(), '\0');
  buf.resize(w.WriteSet(buf.data(), 7, 1));
  CHECK(buf == "PUT /p/7 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 1\r\n\r\n1");
}

TEST_CASE("an auth token goes in every request's header section") {
  Config c = TestConfig(0);
  c.auth_token = "s3cret";
  RequestWriter w(c);
  std::string buf(w.max_request_bytes(), '\0');
  buf.resize(w.WriteGet(buf.data(), 5));
  CHECK(buf == "GET /5 HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nAuthorization: Bearer s3cret\r\n\r\n");
  buf.assign(w.max_request_bytes(), '\0');
  buf.resize(w.WriteSet(buf.data(), 6, -1));
  CHECK(buf == "POST /6 HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nAuthorization: Bearer s3cret\r\nContent-Length: 2\r\n\r\n-1");
}

TEST_CASE("padded bodies are exactly value_bytes and parse back") {
  RequestWriter w(TestConfig(8));
  CHECK(w.Body(42) == "00000042");
  CHECK(w.Body(-42) == "-0000042");
  CHECK(w.Body(123456789) == "23456789");
  std::string buf(w.max_request_bytes(), '\0');
  buf.resize(w.WriteSet(buf.data(), 1, 5));
  CHECK(buf == "POST /1 HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nContent-Length: 8\r\n\r\n00000005");
  RequestWriter one(TestConfig(1));
  CHECK(one.Body(0) == "0");
  CHECK(one.Body(19) == "9");
}

TEST_CASE("keys are uniform in [0, n)") {
  Xoshiro256 rng(1);
  std::vector<int> hist(10, 0);
  for (int i = 0; i < 100000; i++) hist[rng.Below(10)]++;
  for (int h : hist) CHECK(std::abs(h - 10000) < 500);
  Coin coin(0.25);
  int heads = 0;
  for (int i = 0; i < 100000; i++) heads += coin.Flip(rng);
  CHECK(std::abs(heads - 25000) < 600);
  CHECK_FALSE(Coin(0).Flip(rng));
  CHECK(Coin(1).Flip(rng));
}

TEST_CASE("report helpers") {
  CHECK(FormatBytes(0) == "0 B");
  CHECK(FormatBytes(844000) == "844 kB");
  CHECK(FormatBytes(1.2e6) == "1.2 MB");
  CHECK(FormatBytes(3.4e9) == "3.4 GB");
  const std::string t = RenderTable({{"STAT", "50%"}, {"Req/Sec", "12"}, {"Bytes/Sec", "1 kB"}});
  CHECK(t ==
        "+-----------+------+\n"
        "|   STAT    | 50%  |\n"
        "+-----------+------+\n"
        "| Req/Sec   |   12 |\n"
        "| Bytes/Sec | 1 kB |\n"
        "+-----------+------+\n");
}

}  // namespace
}  // namespace kvbench
