#include "util/flag_names.h"

#include <doctest/doctest.h>

TEST_CASE("NormalizeFlagNames rewrites dashes in flag names only") {
  std::vector<std::string> args = {"prog-name", "--max-key-bytes=a-b", "-log-level", "--port",
                                   "80-81", "--", "--not-a-flag"};
  std::vector<char*> out = kvd::NormalizeFlagNames(&args);
  REQUIRE(out.size() == 7);
  CHECK(std::string(out[0]) == "prog-name");
  CHECK(std::string(out[1]) == "--max_key_bytes=a-b");
  CHECK(std::string(out[2]) == "-log_level");
  CHECK(std::string(out[3]) == "--port");
  CHECK(std::string(out[4]) == "80-81");
  CHECK(std::string(out[5]) == "--");
  CHECK(std::string(out[6]) == "--not-a-flag");
}
