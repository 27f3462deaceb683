#include "http/validators.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace kvd::http {
namespace {

std::string Tag(uint32_t run, uint32_t version) {
  char t[kEtagBytes];
  FormatEtag(run, version, t);
  return {t, sizeof t};
}

TEST_CASE("FormatEtag writes the run and the version as 16 hex digits in quotes") {
  CHECK(Tag(0, 0) == "\"0000000000000000\"");
  CHECK(Tag(0x50aca358, 1) == "\"50aca35800000001\"");
  CHECK(Tag(0xffffffff, 0xdeadbeef) == "\"ffffffffdeadbeef\"");
}

TEST_CASE("TagCondition parses '*' and entity-tag lists, and refuses the rest") {
  TagCondition c;
  CHECK(c.Parse(""));
  CHECK_FALSE(c.present());
  for (std::string ok : {"*", " * ", "\"a\"", "W/\"a\"", "\"a\", W/\"b\"", "\"\"", ",\"a\",,", "\"a\" , \"b\"",
                         "\"!#~\x80\xff\""}) {
    CAPTURE(ok);
    CHECK(c.Parse(ok));
    CHECK(c.present());
  }
  for (std::string bad : std::vector<std::string>{"a", "\"a", "a\"", "*,\"a\"", "**", "W/a", "w/\"a\"", "\"a\" \"b\"", ",", " , ",
                          "\"a\"x", "\"a\" ; q", "\"a\"\"b\"", "\"a\x7f\"", "\"a\x01\"", std::string("\"a\0\"", 4)}) {
    CAPTURE(bad);
    CHECK_FALSE(c.Parse(bad));
  }
}

TEST_CASE("TagCondition matches kvd's tags: strongly for If-Match, weakly for If-None-Match") {
  const uint32_t run = 0x12345678, v = 42;
  const std::string t = Tag(run, v);
  TagCondition c;
  REQUIRE(c.Parse(t));
  CHECK(c.Matches(true, run, v, false));
  CHECK(c.Matches(true, run, v, true));
  CHECK_FALSE(c.Matches(true, run, v + 1, false));
  CHECK_FALSE(c.Matches(true, run + 1, v, false));  // another run's tag
  CHECK_FALSE(c.Matches(false, run, v, false));     // nothing to match
  const std::string weak = "W/" + t;  // the condition keeps a view of its field
  REQUIRE(c.Parse(weak));
  CHECK_FALSE(c.Matches(true, run, v, false));  // a weak tag never matches strongly
  CHECK(c.Matches(true, run, v, true));
  const std::string list = "\"other\", \"1234567800000029\", " + t;
  REQUIRE(c.Parse(list));
  CHECK(c.Matches(true, run, v, false));
  REQUIRE(c.Parse("\"1234567800000029\""));  // 0x29 = 41
  CHECK_FALSE(c.Matches(true, run, v, false));
  REQUIRE(c.Parse("\"123456780000002A\""));  // upper case is not kvd's writing
  CHECK_FALSE(c.Matches(true, run, v, false));
  REQUIRE(c.Parse("*"));
  CHECK(c.Matches(true, run, v, false));
  CHECK_FALSE(c.Matches(false, run, v, false));
}

}  // namespace
}  // namespace kvd::http
