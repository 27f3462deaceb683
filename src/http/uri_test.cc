#include "http/uri.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "store/entry.h"

namespace kvd::http {
namespace {

using namespace std::string_literals;

constexpr uint64_t kMax = store::kMaxTtlMs;  // 24 days

TEST_CASE("SplitTarget: origin-form") {
  Target t = SplitTarget("/k1");
  CHECK(t.path == "/k1");
  CHECK(t.query.empty());

  t = SplitTarget("/k1?ttl=1s&nx");
  CHECK(t.path == "/k1");
  CHECK(t.query == "ttl=1s&nx");

  t = SplitTarget("/k1?");
  CHECK(t.path == "/k1");
  CHECK(t.query.empty());

  t = SplitTarget("/a/b%2Fc?x=1?y=2");  // only the first '?' splits
  CHECK(t.path == "/a/b%2Fc");
  CHECK(t.query == "x=1?y=2");

  t = SplitTarget("/");
  CHECK(t.path == "/");
  CHECK(t.query.empty());

  t = SplitTarget("?q");
  CHECK(t.path.empty());
  CHECK(t.query == "q");

  t = SplitTarget("*");
  CHECK(t.path == "*");

  t = SplitTarget("");
  CHECK(t.path.empty());
  CHECK(t.query.empty());
}

TEST_CASE("PlainPathLength: the path before '?', or npos for an escape in it") {
  constexpr size_t npos = std::string_view::npos;
  CHECK(PlainPathLength("/") == 1);
  CHECK(PlainPathLength("/k") == 2);
  CHECK(PlainPathLength("/k?") == 2);
  CHECK(PlainPathLength("/k%") == npos);
  CHECK(PlainPathLength("/k1?%") == 3);
  CHECK(PlainPathLength("/key") == 4);
  CHECK(PlainPathLength("/ke?y") == 3);
  CHECK(PlainPathLength("/key56") == 6);
  CHECK(PlainPathLength("/key5?") == 5);
  CHECK(PlainPathLength("/key5%") == npos);
  CHECK(PlainPathLength("/%ey56") == npos);
  CHECK(PlainPathLength("/key5678") == 8);
  CHECK(PlainPathLength("/key567?") == 7);
  CHECK(PlainPathLength("/key567%") == npos);
  CHECK(PlainPathLength("/key5678?ttl=1s") == 8);
  CHECK(PlainPathLength("/key5678%ttl=1s") == npos);
  CHECK(PlainPathLength("/key56789abcdef") == 15);
  CHECK(PlainPathLength("/key56789abcde?") == 14);
  CHECK(PlainPathLength("/key56789abcde%") == npos);
  CHECK(PlainPathLength("/key56789abcdef0123") == 19);
  CHECK(PlainPathLength("/key56789abcdef012?%") == 18);
  // Every position of each byte, in every length up to 40, against the plain reading.
  for (size_t n = 1; n <= 40; ++n) {
    for (size_t at = 1; at < n; ++at) {
      for (char c : {'?', '%'}) {
        std::string t(n, 'k');
        t[0] = '/';
        t[at] = c;
        if (at + 1 < n) t[n - 1] = c == '?' ? '%' : '?';  // the other byte after it changes nothing
        CAPTURE(t);
        CHECK(PlainPathLength(t) == (c == '?' ? at : npos));
      }
    }
  }
}

TEST_CASE("SplitTarget: absolute-form") {
  Target t = SplitTarget("http://example.com/k1");
  CHECK(t.path == "/k1");
  CHECK(t.query.empty());

  t = SplitTarget("http://example.com:8081/k1?ttl=5s");
  CHECK(t.path == "/k1");
  CHECK(t.query == "ttl=5s");

  t = SplitTarget("https://example.com/a/b?nx");
  CHECK(t.path == "/a/b");
  CHECK(t.query == "nx");

  // No path: the root.
  t = SplitTarget("http://example.com");
  CHECK(t.path == "/");
  CHECK(t.query.empty());
  t = SplitTarget("https://example.com");
  CHECK(t.path == "/");
  CHECK(t.query.empty());
  t = SplitTarget("http://example.com/");
  CHECK(t.path == "/");

  // The views point into the target.
  std::string target = "http://h/key?xx";
  t = SplitTarget(target);
  CHECK(t.path.data() == target.data() + 8);
  CHECK(t.query.data() == target.data() + 13);

  // The scheme in any case (the parser lets only http and https through).
  t = SplitTarget("HTTP://h/k?x");
  CHECK(t.path == "/k");
  CHECK(t.query == "x");
  t = SplitTarget("http://h?x=1");
  CHECK(t.path == "/");
  CHECK(t.query == "x=1");
}

TEST_CASE("ValidHostPort: RFC 3986 host [ \":\" port ], no userinfo, path, blanks or list") {
  for (std::string_view ok : {"h", "kvd", "kvd.example.com", "h:8081", "h:", "127.0.0.1", "10.0.0.7:8081",
                              "999.1.1.1", "[::1]", "[::1]:80", "[2001:db8::1]", "[::ffff:1.2.3.4]:1",
                              "[v1.a]", "[V7.a:b!]", "ex%41mple", "%ff", "a-b_c~d", "!$&'()*+;=", "1"}) {
    CAPTURE(ok);
    CHECK(ValidHostPort(ok));
  }
  for (std::string_view bad : {"", ":80", "u@h", "h/p", "h?x", "h#x", "a, b", "a,b", "h 1", " h", "h ", "h\t",
                               "h:80x", "h:80:81", "h:-1", "%", "%4", "%zz", "[::1", "::1", "[::g]", "[1.2.3.4]",
                               "[::1]x", "[::1]:x", "[]", "[v1]", "[v.a]", "[vx.a]", "[v1.]", "[v1.a,b]", "h\xc3\xa9",
                               "[", "]", "h]", "[::1]]"}) {
    CAPTURE(bad);
    CHECK_FALSE(ValidHostPort(bad));
  }
}

TEST_CASE("AbsoluteFormAuthority") {
  std::string_view a;
  CHECK(AbsoluteFormAuthority("http://h:1/k?x", &a));
  CHECK(a == "h:1");
  bool https = false;
  CHECK(AbsoluteFormAuthority("HTTPS://h", &a, &https));
  CHECK(a == "h");
  CHECK(https);
  CHECK(AbsoluteFormAuthority("Http://h", &a, &https));
  CHECK_FALSE(https);
  CHECK(AbsoluteFormAuthority("http://h?x", &a));
  CHECK(a == "h");
  CHECK(AbsoluteFormAuthority("http:///k", &a));
  CHECK(a.empty());
  CHECK_FALSE(AbsoluteFormAuthority("ftp://h/k", &a));
  CHECK_FALSE(AbsoluteFormAuthority("/k", &a));
  CHECK_FALSE(AbsoluteFormAuthority("http:/k", &a));
}

TEST_CASE("PercentDecode: valid escapes, either case") {
  std::string out = "left over";
  CHECK(PercentDecode("/plain", &out));
  CHECK(out == "/plain");

  CHECK(PercentDecode("/%41%62", &out));
  CHECK(out == "/Ab");
  CHECK(PercentDecode("%4a%4A%4b%4B", &out));
  CHECK(out == "JJKK");
  CHECK(PercentDecode("%ff%FF%fF", &out));
  CHECK(out == "\xff\xff\xff");
  CHECK(PercentDecode("a%20b%2Fc%3f", &out));
  CHECK(out == "a b/c?");
  CHECK(PercentDecode("%00", &out));
  CHECK(out == "\0"s);
  CHECK(PercentDecode("%25", &out));  // an escaped '%' is not decoded twice
  CHECK(out == "%");
  CHECK(PercentDecode("%2541", &out));
  CHECK(out == "%41");
  CHECK(PercentDecode("x%41", &out));  // an escape that ends the input
  CHECK(out == "xA");

  // '+' is a plus in a path, not a space.
  CHECK(PercentDecode("a+b%2B", &out));
  CHECK(out == "a+b+");

  CHECK(PercentDecode("", &out));
  CHECK(out.empty());
}

TEST_CASE("PercentDecode: malformed escapes fail") {
  std::string out;
  for (std::string_view bad : {"%", "%4", "%zz", "%%41", "a%", "a%4", "%4g", "%g4", "/k%", "/k%2", "%%", "% 41",
                          "%-1", "%41%"}) {
    CAPTURE(bad);
    CHECK_FALSE(PercentDecode(bad, &out));
  }
}

uint64_t Ttl(std::string_view text, uint64_t max = kMax) {
  uint64_t ms = 12345;
  REQUIRE_MESSAGE(ParseTtl(text, max, &ms), text);
  return ms;
}

bool TtlFails(std::string_view text, uint64_t max = kMax) {
  uint64_t ms = 777;
  bool ok = ParseTtl(text, max, &ms);
  CHECK(ms == 777);  // untouched on failure
  return !ok;
}

TEST_CASE("ParseTtl: Go-style durations") {
  CHECK(Ttl("500ms") == 500);
  CHECK(Ttl("30s") == 30000);
  CHECK(Ttl("2m") == 120000);
  CHECK(Ttl("1h") == 3600000);
  CHECK(Ttl("1h30m") == 5400000);
  CHECK(Ttl("1h30m15s") == 5415000);
  CHECK(Ttl("1.5s") == 1500);
  CHECK(Ttl("1.5h") == 5400000);
  CHECK(Ttl("0.3s") == 300);
  CHECK(Ttl("1.001s") == 1001);
  CHECK(Ttl("4.35s") == 4350);
  CHECK(Ttl("1ms") == 1);
}

TEST_CASE("ParseTtl: a bare number is seconds") {
  CHECK(Ttl("10") == 10000);
  CHECK(Ttl("0.5") == 500);
  CHECK(Ttl("1") == 1000);
  CHECK(Ttl("0.1") == 100);
  CHECK(Ttl("0.3") == 300);
  CHECK(Ttl("2.675") == 2675);
  CHECK(Ttl("100.1") == 100100);
  CHECK(Ttl("0.001") == 1);
  CHECK(Ttl(".5") == 500);
}

TEST_CASE("ParseTtl: rounds up to whole milliseconds") {
  CHECK(Ttl("1us") == 1);
  CHECK(Ttl("1ns") == 1);
  CHECK(Ttl("999us") == 1);
  CHECK(Ttl("1001us") == 2);
  CHECK(Ttl("1500us") == 2);
  CHECK(Ttl("2000us") == 2);
  CHECK(Ttl("0.0001") == 1);
  CHECK(Ttl("1.0001") == 1001);
  CHECK(Ttl("1.0000001") == 1001);
}

TEST_CASE("ParseTtl: zero, negative and garbage are refused") {
  for (std::string_view bad : {"0", "0s", "0ms", "0.0", "0h0m", "-1", "-1s", "-0.5", "-0", "", "abc", "s", "ms",
                          "10x", "1m30", "5.", "1 s", "1s ", "1e", "inf", "+inf", "-inf", "Inf", "infs",
                          "nan", "NaN", "nans", "1.5.5", "--1s"}) {
    CAPTURE(bad);
    CHECK(TtlFails(bad));
  }
}

TEST_CASE("ParseTtl: the maximum is accepted exactly, 1 ms over is refused") {
  // 24 days.
  CHECK(kMax == 2073600000);
  CHECK(Ttl("2073600000ms") == kMax);
  CHECK(TtlFails("2073600001ms"));
  CHECK(Ttl("576h") == kMax);
  CHECK(TtlFails("576h0m0.001s"));
  CHECK(Ttl("2073600") == kMax);
  CHECK(TtlFails("2073600.001"));
  CHECK(Ttl("2073599.999") == kMax - 1);
  // Rounding up can push a value over the maximum.
  CHECK(TtlFails("2073600000.5ms"));
  CHECK(TtlFails("1000000h"));
  CHECK(TtlFails("1e300"));
  // A smaller maximum.
  CHECK(Ttl("100ms", 100) == 100);
  CHECK(TtlFails("101ms", 100));
  CHECK(Ttl("0.1", 100) == 100);
  CHECK(TtlFails("0.1001", 100));
  CHECK(TtlFails("100001us", 100));
}

WriteOptions Opts(std::string_view query) {
  WriteOptions o;
  o.ttl_ms = 99;
  o.nx = o.xx = true;  // reset by the parse
  const char* error = nullptr;
  REQUIRE_MESSAGE(ParseWriteOptions(query, kMax, &o, &error), query);
  CHECK(error == nullptr);
  return o;
}

std::string OptsError(std::string_view query) {
  WriteOptions o;
  const char* error = nullptr;
  CHECK_FALSE(ParseWriteOptions(query, kMax, &o, &error));
  REQUIRE(error != nullptr);
  return error;
}

TEST_CASE("ParseWriteOptions: incr") {
  WriteOptions o = Opts("incr");
  CHECK(o.incr);
  CHECK(o.delta == 1);
  o = Opts("incr=-42&ttl=2s");
  CHECK(o.incr);
  CHECK(o.delta == -42);
  CHECK(o.ttl_ms == 2000);
  CHECK(Opts("incr=9223372036854775807").delta == INT64_MAX);
  CHECK(Opts("incr=-9223372036854775808").delta == INT64_MIN);
  CHECK_FALSE(Opts("").incr);
  for (std::string bad : {"incr=", "incr=+1", "incr=007", "incr=-0", "incr=1.0", "incr=abc", "incr=9223372036854775808",
                          "incr=-9223372036854775809", "incr=-", "incr=1%20", "incr=%31"}) {
    CAPTURE(bad);
    CHECK(OptsError(bad).find("invalid incr") == 0);
  }
}

TEST_CASE("ParseWriteOptions") {
  WriteOptions o = Opts("");
  CHECK(o.ttl_ms == 0);
  CHECK_FALSE(o.nx);
  CHECK_FALSE(o.xx);

  o = Opts("nx");
  CHECK(o.nx);
  CHECK_FALSE(o.xx);
  CHECK(o.ttl_ms == 0);

  o = Opts("xx");
  CHECK_FALSE(o.nx);
  CHECK(o.xx);

  o = Opts("nx=");
  CHECK(o.nx);
  o = Opts("xx=1");
  CHECK(o.xx);

  o = Opts("ttl=500ms");
  CHECK(o.ttl_ms == 500);
  CHECK_FALSE(o.nx);

  o = Opts("ttl=10");
  CHECK(o.ttl_ms == 10000);

  o = Opts("nx&ttl=2s");
  CHECK(o.nx);
  CHECK(o.ttl_ms == 2000);
  o = Opts("ttl=1m&xx");
  CHECK(o.xx);
  CHECK(o.ttl_ms == 60000);

  // Unknown parameters, empty ones and look-alikes are ignored.
  o = Opts("foo=bar&ttl=1s&baz&&=x&NX&ttlx=5&nxx");
  CHECK(o.ttl_ms == 1000);
  CHECK_FALSE(o.nx);
  CHECK_FALSE(o.xx);

  // The ttl value is percent-decoded.
  o = Opts("ttl=1%2E5s");
  CHECK(o.ttl_ms == 1500);
  o = Opts("ttl=%31%30%30ms");
  CHECK(o.ttl_ms == 100);
  // The last ttl wins.
  o = Opts("ttl=1s&ttl=2s");
  CHECK(o.ttl_ms == 2000);

  // Errors.
  CHECK(OptsError("nx&xx") == "nx and xx cannot be combined");
  CHECK(OptsError("xx&ttl=1s&nx") == "nx and xx cannot be combined");
  const std::string bad_ttl = "invalid ttl: use a duration such as 500ms, 30s, 2m, or a number of seconds";
  CHECK(OptsError("ttl=bad") == bad_ttl);
  CHECK(OptsError("ttl=") == bad_ttl);
  CHECK(OptsError("ttl") == bad_ttl);
  CHECK(OptsError("ttl=0") == bad_ttl);
  CHECK(OptsError("ttl=-5s") == bad_ttl);
  CHECK(OptsError("ttl=%zz") == bad_ttl);
  CHECK(OptsError("ttl=2073600001ms") == bad_ttl);
  CHECK(OptsError("nx&ttl=1x") == bad_ttl);
}

}  // namespace
}  // namespace kvd::http
