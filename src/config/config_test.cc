#include "config/config.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace kvd {
namespace {

constexpr uint64_t kKi = uint64_t(1) << 10, kMi = uint64_t(1) << 20, kGi = uint64_t(1) << 30,
                   kTi = uint64_t(1) << 40;

uint64_t Size(std::string_view text) {
  uint64_t v = 424242;
  REQUIRE_MESSAGE(ParseByteSize(text, &v), text);
  return v;
}

bool Refused(std::string_view text) {
  uint64_t v = 424242;
  bool ok = ParseByteSize(text, &v);
  CHECK(v == 424242);  // untouched on failure
  return !ok;
}

TEST_CASE("ParseByteSize: plain numbers are bytes") {
  CHECK(Size("1048576") == 1048576);
  CHECK(Size("0") == 0);
  CHECK(Size("1") == 1);
  CHECK(Size("4096") == 4096);
  CHECK(Size("18446744073709551615") == UINT64_MAX);
}

TEST_CASE("ParseByteSize: K, M, G, T are powers of 1024") {
  CHECK(Size("512K") == 512 * kKi);
  CHECK(Size("64M") == 64 * kMi);
  CHECK(Size("2G") == 2 * kGi);
  CHECK(Size("1T") == kTi);
  CHECK(Size("1K") == 1024);
  CHECK(Size("0M") == 0);
  CHECK(Size("8191K") == 8191 * kKi);
}

TEST_CASE("ParseByteSize: B and iB spellings, any case") {
  CHECK(Size("64MB") == 64 * kMi);
  CHECK(Size("64MiB") == 64 * kMi);
  CHECK(Size("64mb") == 64 * kMi);
  CHECK(Size("64mib") == 64 * kMi);
  CHECK(Size("64MIB") == 64 * kMi);
  CHECK(Size("64m") == 64 * kMi);
  CHECK(Size("512k") == 512 * kKi);
  CHECK(Size("512KB") == 512 * kKi);
  CHECK(Size("512KiB") == 512 * kKi);
  CHECK(Size("2g") == 2 * kGi);
  CHECK(Size("2GiB") == 2 * kGi);
  CHECK(Size("1t") == kTi);
  CHECK(Size("1TB") == kTi);
  CHECK(Size("100B") == 100);
  CHECK(Size("100b") == 100);
}

TEST_CASE("ParseByteSize: overflow is refused") {
  CHECK(Refused("18446744073709551616"));
  CHECK(Refused("99999999999999999999999"));
  CHECK(Size("16777215T") == 16777215 * kTi);
  CHECK(Refused("16777216T"));  // 2^64
  CHECK(Size("17179869183G") == 17179869183 * kGi);
  CHECK(Refused("17179869184G"));
  CHECK(Refused("18014398509481984K"));
  CHECK(Refused("18446744073709551615K"));
}

TEST_CASE("ParseByteSize: empty and garbage are refused") {
  for (std::string_view bad : {"", "K", "M", "MB", "MiB", "B", "iB", "abc", "12X", "1P", "1E", "-1", "-1M",
                          "1.5M", "0.5G", "1,024", "1_000", "64Mi", "64MM", "M64", "1 2", "0x10",
                          "64MBB"}) {
    CAPTURE(bad);
    CHECK(Refused(bad));
  }
}

TEST_CASE("DefaultShards: one for one reactor, 16 a reactor with several, each at least 32 MiB") {
  constexpr uint64_t M = uint64_t(1) << 20, G = uint64_t(1) << 30;
  CHECK(DefaultShards(1, 6 * G) == 1);
  CHECK(DefaultShards(2, 6 * G) == 32);
  CHECK(DefaultShards(64, 256 * G) == 1024);
  // The 32 MiB floor: 512M holds 16 such shards, not 32; a small budget keeps one a reactor.
  CHECK(DefaultShards(2, 512 * M) == 16);
  CHECK(DefaultShards(2, 32 * M) == 2);
  CHECK(DefaultShards(4, 8 * M) == 4);
  // A shard holds at most 8 GiB, with one reactor too.
  CHECK(DefaultShards(1, 20 * G) == 3);
  CHECK(DefaultShards(64, 40 * G) == 1024);
}

}  // namespace
}  // namespace kvd
