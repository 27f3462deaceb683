#include "store/shard.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace kvd::store {
namespace {

constexpr uint64_t kBig = uint64_t(1) << 40;  // no memory limit to speak of
constexpr uint64_t kSec = 1000;
constexpr uint64_t kHour = 3600 * kSec;

std::optional<std::string> Get(Shard& s, std::string_view key, uint64_t now) {
  std::optional<std::string> out;
  s.Get(key, now, [&](std::string_view v) { out.emplace(v); });
  return out;
}

SetResult Put(Shard& s, std::string_view key, std::string_view value, uint64_t ttl, uint64_t now,
              SetMode mode = SetMode::kAlways) {
  return s.Set(key, value, ttl, mode, now);
}

// What a table of ids costs once it has seen n inserts (capacity never shrinks on erase).
uint64_t TableBytesAfter(size_t n) {
  absl::flat_hash_set<uint32_t> mirror;
  for (uint32_t i = 0; i < n; ++i) mirror.insert(i);
  return mirror.capacity() * (sizeof(uint32_t) + 1);
}

TEST_CASE("Shard: set, get, overwrite in place and across sizes") {
  const uint64_t t = 1000;
  Shard s(kBig, t);
  CHECK(s.BytesUsed() == 0);
  CHECK_FALSE(Get(s, "/a", t).has_value());

  CHECK(Put(s, "/a", "hello", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "hello");
  CHECK(s.LiveCount(t) == 1);
  const uint64_t one = s.BytesUsed();
  CHECK(one >= Arena::BlockSize(16 + 2 + 5));

  // Same size class: rewritten in place, memory unchanged.
  CHECK(Put(s, "/a", "world", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "world");
  CHECK(Put(s, "/a", "x", 10 * kSec, t) == SetResult::kStored);  // 19 B, same 24-byte class
  CHECK(Get(s, "/a", t) == "x");
  CHECK(s.BytesUsed() == one);
  CHECK(Put(s, "/a", "", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "");
  CHECK(s.BytesUsed() == one);

  // A bigger class, then back.
  std::string v100(100, 'v');
  CHECK(Put(s, "/a", v100, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == v100);
  CHECK(s.BytesUsed() == one - Arena::BlockSize(16 + 2) + Arena::BlockSize(16 + 2 + 100));
  CHECK(Put(s, "/a", "hello", 10 * kSec, t) == SetResult::kStored);
  CHECK(s.BytesUsed() == one);

  // Inline up to a 4096-byte block; out of line beyond, counted byte for byte; and back.
  const size_t max_inline = Arena::kMaxBlock - 16 - 2;
  std::string at_limit(max_inline, 'i');
  CHECK(Put(s, "/a", at_limit, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == at_limit);
  CHECK(s.BytesUsed() == one - Arena::BlockSize(16 + 2 + 5) + 4096);
  std::string over(max_inline + 1, 'o');
  over[0] = 'O';
  over.back() = '!';
  CHECK(Put(s, "/a", over, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == over);
  CHECK(s.BytesUsed() == one - Arena::BlockSize(16 + 2 + 5) + Arena::BlockSize(16 + 2 + 8) + over.size());
  std::string big(100000, 'b');
  CHECK(Put(s, "/a", big, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == big);
  CHECK(s.BytesUsed() == one - Arena::BlockSize(16 + 2 + 5) + Arena::BlockSize(16 + 2 + 8) + big.size());
  CHECK(Put(s, "/a", "hello", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "hello");
  CHECK(s.BytesUsed() == one);
  CHECK(s.LiveCount(t) == 1);
  CHECK(s.WheelSize() == 1);

  // Largest value and longest key.
  std::string huge(kMaxValueLen, 'h');
  huge[12345] = '\0';
  std::string long_key = "/" + std::string(kMaxKeyLen - 1, 'k');
  CHECK(Put(s, long_key, huge, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, long_key, t) == huge);
  CHECK(Put(s, long_key, "short", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, long_key, t) == "short");
  CHECK(s.LiveCount(t) == 2);
  CHECK(s.Delete(long_key, t));
  CHECK(s.BytesUsed() == one + (TableBytesAfter(2) - TableBytesAfter(1)));
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: an in-place rewrite moves the deadline between the near and far rings") {
  uint64_t t = 0;
  Shard s(kBig, t);
  // Far (1 h) to near (5 s), same block: rewritten in place.
  CHECK(Put(s, "/r", "1", kHour, t) == SetResult::kStored);
  const uint64_t bytes = s.BytesUsed();
  CHECK(Put(s, "/r", "2", 5 * kSec, t) == SetResult::kStored);
  CHECK(s.BytesUsed() == bytes);
  CHECK(s.CheckConsistency() == "");
  CHECK(s.LiveCount(t + 5 * kSec - 1) == 1);
  CHECK(s.LiveCount(t + 5 * kSec) == 0);
  CHECK(s.Expire(t + 5 * kSec - 1, SIZE_MAX));
  CHECK(s.WheelSize() == 1);
  CHECK(s.Expire(t + 5 * kSec, SIZE_MAX));
  CHECK(s.WheelSize() == 0);
  CHECK(s.CheckConsistency() == "");
  // Near to far.
  t += 5 * kSec;
  CHECK(Put(s, "/r", "3", 5 * kSec, t) == SetResult::kStored);
  CHECK(Put(s, "/r", "4", kHour, t) == SetResult::kStored);
  CHECK(s.CheckConsistency() == "");
  CHECK(s.Expire(t + kHour - 1, SIZE_MAX));
  CHECK(Get(s, "/r", t + kHour - 1) == "4");
  CHECK(s.LiveCount(t + kHour) == 0);
  CHECK(s.Expire(t + kHour, SIZE_MAX));
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(t + kHour).expired == 2);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: binary keys and values round-trip") {
  const uint64_t t = 5;
  Shard s(kBig, t);
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  std::string key = std::string("/\0\xff\x01", 4);
  CHECK(Put(s, key, all, kSec, t) == SetResult::kStored);
  CHECK(Get(s, key, t) == all);
  CHECK_FALSE(Get(s, std::string("/\0\xff\x02", 4), t).has_value());
  CHECK_FALSE(Get(s, "/", t).has_value());
  std::string zeros(5000, '\0');
  CHECK(Put(s, key, zeros, kSec, t) == SetResult::kStored);
  CHECK(Get(s, key, t) == zeros);
}

TEST_CASE("Shard: nx / xx conditions") {
  const uint64_t t = 100;
  Shard s(kBig, t);
  CHECK(Put(s, "/k", "1", kSec, t, SetMode::kIfPresent) == SetResult::kConditionFailed);
  CHECK_FALSE(Get(s, "/k", t).has_value());
  CHECK(Put(s, "/k", "2", kSec, t, SetMode::kIfAbsent) == SetResult::kStored);
  CHECK(Put(s, "/k", "3", kSec, t, SetMode::kIfAbsent) == SetResult::kConditionFailed);
  CHECK(Get(s, "/k", t) == "2");
  CHECK(Put(s, "/k", "4", kSec, t, SetMode::kIfPresent) == SetResult::kStored);
  CHECK(Get(s, "/k", t) == "4");
  // The failed nx did not move the deadline: still t + 1 s.
  CHECK(Get(s, "/k", t + kSec - 1) == "4");
  CHECK_FALSE(Get(s, "/k", t + kSec).has_value());
  // An expired entry counts as absent for both.
  CHECK(Put(s, "/e", "1", 10, t) == SetResult::kStored);
  CHECK(Put(s, "/e", "2", kSec, t + 10, SetMode::kIfPresent) == SetResult::kConditionFailed);
  CHECK(Put(s, "/f", "1", 10, t) == SetResult::kStored);
  CHECK(Put(s, "/f", "2", kSec, t + 10, SetMode::kIfAbsent) == SetResult::kStored);
  CHECK(Get(s, "/f", t + 10) == "2");
  CHECK(s.LiveCount(t + 10) == 1);
  CHECK(s.WheelSize() == 1);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: delete") {
  const uint64_t t = 0;
  Shard s(kBig, t);
  CHECK_FALSE(s.Delete("/x", t));
  CHECK(Put(s, "/x", "1", kSec, t) == SetResult::kStored);
  CHECK(Put(s, "/y", std::string(6000, 'y'), kSec, t) == SetResult::kStored);
  CHECK(s.Delete("/x", t));
  CHECK_FALSE(s.Delete("/x", t));
  CHECK_FALSE(Get(s, "/x", t).has_value());
  CHECK(s.Delete("/y", t));
  CHECK(s.LiveCount(t) == 0);
  CHECK(s.WheelSize() == 0);
  CHECK(s.BytesUsed() == TableBytesAfter(2));
  // Deleting an expired key reports a miss.
  CHECK(Put(s, "/z", "1", 5, t) == SetResult::kStored);
  CHECK_FALSE(s.Delete("/z", t + 5));
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(t + 5).expired == 1);
}

TEST_CASE("Shard: expired entries are misses and uncounted before Expire runs") {
  const uint64_t t = 10'000;
  Shard s(kBig, t);
  for (int i = 0; i < 100; ++i) Put(s, "/a" + std::to_string(i), "v", 1000, t);
  for (int i = 0; i < 100; ++i) Put(s, "/b" + std::to_string(i), "v", 2000, t);
  for (int i = 0; i < 100; ++i) Put(s, "/c" + std::to_string(i), "v", 2 * kHour, t);
  CHECK(s.LiveCount(t) == 300);
  CHECK(s.LiveCount(t + 999) == 300);
  CHECK(s.LiveCount(t + 1000) == 200);
  CHECK(s.LiveCount(t + 2000) == 100);
  CHECK(s.WheelSize() == 300);
  CHECK(Get(s, "/a5", t + 999) == "v");
  CHECK_FALSE(Get(s, "/a5", t + 1000).has_value());  // erased on sight
  CHECK(s.WheelSize() == 299);
  CHECK(s.LiveCount(t + 1000) == 200);
  CHECK(s.Stats(t + 1000).expired == 1);
  // Partially reclaimed: still exact.
  CHECK_FALSE(s.Expire(t + 1500, 10));
  CHECK(s.LiveCount(t + 1500) == 200);
  CHECK(s.WheelSize() == 289);
  // Reclaiming lags by much more than the near ring: still exact.
  CHECK(s.LiveCount(t + kHour) == 100);
  CHECK(s.LiveCount(t + 3 * kHour) == 0);
  CHECK(s.Expire(t + kHour, SIZE_MAX));
  CHECK(s.WheelSize() == 100);
  CHECK(s.LiveCount(t + kHour) == 100);
  ShardStats st = s.Stats(t + kHour);
  CHECK(st.keys == 100);
  CHECK(st.expired == 200);
  CHECK(st.evicted == 0);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: Expire frees all memory") {
  const uint64_t t = 1;
  Shard s(kBig, t);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string v = i % 100 == 0 ? std::string(5000 + i, 'x') : std::to_string(i);
    REQUIRE(Put(s, "/" + std::to_string(i), v, 1 + i % 70000, t) == SetResult::kStored);
  }
  CHECK(s.LiveCount(t) == n);
  CHECK(s.BytesUsed() > TableBytesAfter(n) + n * 24);
  // Reclaim in budgeted slices.
  int calls = 0;
  while (!s.Expire(t + 70000, 1000)) ++calls;
  CHECK(calls >= 19);
  CHECK(s.LiveCount(t + 70000) == 0);
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(t + 70000).expired == n);
  CHECK(s.CheckConsistency() == "");
  // Only the table's slots remain; the arena and out-of-line values are all given back.
  CHECK(s.BytesUsed() == TableBytesAfter(n));
  // The table keeps its slots for the next load: half as many keys again fit without growing it,
  // and go the same way.
  size_t misses = 0;
  for (int i = 0; i < n / 2; ++i) Put(s, "/" + std::to_string(i), std::to_string(i), kSec, t + 70000);
  uint64_t again = s.BytesUsed();
  for (int i = 0; i < n / 2; ++i) misses += !Get(s, "/" + std::to_string(i), t + 70000).has_value();
  CHECK(misses == 0);
  CHECK(again > TableBytesAfter(n));
  CHECK(s.Expire(t + 70000 + kSec, SIZE_MAX));
  CHECK(s.BytesUsed() == TableBytesAfter(n));
}

// Sets keys with the given TTLs into a shard with the given limit, and checks that each eviction
// the shard reports took the entry with the nearest deadline then present (the key being set is
// never its own victim: room is made before it is stored).
void CheckEvictionOrder(uint64_t limit, const std::vector<uint64_t>& ttls, size_t value_len) {
  const uint64_t t = 0;
  Shard s(limit, t);
  std::map<uint64_t, std::string> model;  // deadline -> key; deadlines distinct
  uint64_t evicted = 0;
  size_t mismatches = 0, failed = 0, over_limit = 0;
  for (size_t i = 0; i < ttls.size(); ++i) {
    std::string key = "/key" + std::to_string(i);
    std::string value = std::to_string(i);
    value.resize(std::max(value.size(), value_len), '.');
    if (Put(s, key, value, ttls[i], t) != SetResult::kStored) ++failed;
    uint64_t now_evicted = s.Stats(t).evicted;
    for (; evicted < now_evicted; ++evicted) {
      if (model.empty()) {
        ++mismatches;
        break;
      }
      model.erase(model.begin());
    }
    model.emplace(t + ttls[i], key);
    if (s.BytesUsed() > limit) ++over_limit;
  }
  CHECK(failed == 0);
  CHECK(mismatches == 0);
  CHECK(over_limit == 0);
  CHECK(evicted > ttls.size() / 4);
  CHECK(s.LiveCount(t) == model.size());
  CHECK(s.LiveCount(t) + evicted == ttls.size());
  size_t missing = 0;
  for (auto& [d, key] : model) missing += !Get(s, key, t).has_value();
  CHECK(missing == 0);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: the memory limit evicts the nearest deadlines first") {
  std::mt19937 rng(11);
  SUBCASE("near deadlines, random order") {
    std::vector<uint64_t> ttls;
    for (uint64_t i = 0; i < 12000; ++i) ttls.push_back(1000 + i);
    std::shuffle(ttls.begin(), ttls.end(), rng);
    CheckEvictionOrder(256 * 1024, ttls, 0);
  }
  SUBCASE("far deadlines, one per window, random order") {
    std::vector<uint64_t> ttls;
    for (uint64_t i = 0; i < 400; ++i) ttls.push_back(kHour + i * 20 * kSec);
    std::shuffle(ttls.begin(), ttls.end(), rng);
    CheckEvictionOrder(8 * 1024, ttls, 10);
  }
  SUBCASE("out-of-line values count in full") {
    std::vector<uint64_t> ttls;
    for (uint64_t i = 0; i < 60; ++i) ttls.push_back(1000 + (i * 37) % 60);
    CheckEvictionOrder(256 * 1024, ttls, 20000);
  }
  SUBCASE("the table's own growth is paid for by eviction, not by overshooting") {
    // "/a" and "/b" take 24-byte blocks; the table's slots cost 5 bytes each. The second key
    // grows the table from 1 slot to 3: 48 + 15 bytes > 60, so "/a" goes.
    Shard s(60, 0);
    CHECK(Put(s, "/a", "1", kSec, 0) == SetResult::kStored);
    CHECK(s.BytesUsed() == 24 + 5);
    CHECK(Put(s, "/b", "2", 2 * kSec, 0) == SetResult::kStored);
    CHECK(s.BytesUsed() == 24 + 15);
    CHECK(s.Stats(0).evicted == 1);
    CHECK_FALSE(Get(s, "/a", 0).has_value());
    CHECK(Get(s, "/b", 0) == "2");
    CHECK(s.CheckConsistency() == "");
    // 24 bytes fit a limit of 26, but not with the table's first slot: refused, nothing kept.
    Shard t(26, 0);
    CHECK(Put(t, "/a", "1", kSec, 0) == SetResult::kNoMemory);
    CHECK(t.LiveCount(0) == 0);
    CHECK(t.WheelSize() == 0);
    CHECK(t.BytesUsed() <= 26);
    CHECK(t.CheckConsistency() == "");
  }
  SUBCASE("an entry larger than the whole budget cannot be stored") {
    Shard tiny(16, 0);
    CHECK(Put(tiny, "/t", "v", kSec, 0) == SetResult::kNoMemory);
    CHECK(tiny.LiveCount(0) == 0);
    CHECK(tiny.WheelSize() == 0);
    CHECK(tiny.BytesUsed() == 0);
  }
}

TEST_CASE("Shard: a million rewrites of one key leave no garbage") {
  uint64_t now = 1'000'000;
  Shard s(kBig, now);
  REQUIRE(Put(s, "/hot", "00000000", 1000, now) == SetResult::kStored);
  const uint64_t bytes = s.BytesUsed();
  size_t wrong_size = 0, wrong_bytes = 0, wrong_value = 0;
  char value[9] = "00000000";
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    // Deadlines near and far, earlier and later than the last one.
    uint64_t ttl;
    switch (i % 4) {
      case 0: ttl = 2 + i % 30000; break;
      case 1: ttl = 40 * kSec + (i * 7919) % (20 * kHour); break;
      case 2: ttl = kMaxTtlMs - i % 1000; break;
      default: ttl = 2 + (i * 104729) % (3 * kHour); break;
    }
    value[i % 8] = char('0' + i % 10);
    if (s.Set("/hot", std::string_view(value, 8), ttl, SetMode::kAlways, now) != SetResult::kStored) {
      ++wrong_value;
    }
    if (s.WheelSize() != 1) ++wrong_size;
    if (s.BytesUsed() != bytes) ++wrong_bytes;
    if (i % 1000 == 999) {
      now += 1;  // time moves; reclaiming finds nothing to do
      s.Expire(now, 100);
    }
    if (i % 50000 == 0 || i % 50000 == 1) {
      std::string e = s.CheckConsistency();
      CAPTURE(i);
      REQUIRE(e == "");
    }
  }
  CHECK(wrong_value == 0);
  CHECK(wrong_size == 0);
  CHECK(wrong_bytes == 0);
  CHECK(s.CheckConsistency() == "");
  CHECK(Get(s, "/hot", now) == std::string(value, 8));
  CHECK(s.LiveCount(now) == 1);
  CHECK(s.Stats(now).expired == 0);

  // The last deadline holds: live up to it, expired at it, whatever the rewrites before.
  const uint64_t last_ttl = 2 + (999'999ull * 104729) % (3 * kHour);
  const uint64_t last_deadline = now - 1 + last_ttl;  // set at the `now` before the final step
  REQUIRE(last_deadline > now + 40 * kSec);
  for (uint64_t t : {now, now + 1, now + 40 * kSec, (now + last_deadline) / 2, last_deadline - 1}) {
    CAPTURE(t - now);
    CHECK(s.LiveCount(t) == 1);
  }
  CHECK(s.LiveCount(last_deadline) == 0);
  CHECK(s.Expire(last_deadline - 1, SIZE_MAX));
  CHECK(s.WheelSize() == 1);
  CHECK(s.Expire(last_deadline, SIZE_MAX));
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(last_deadline).expired == 1);
  CHECK(s.CheckConsistency() == "");
  now = last_deadline;

  // Alternating sizes: each size always costs the same.
  const std::string small = "s", large(300, 'L'), outside(9000, 'O');
  std::map<size_t, std::set<uint64_t>> bytes_by_size;
  for (int i = 0; i < 30000; ++i) {
    const std::string& v = i % 3 == 0 ? small : i % 3 == 1 ? large : outside;
    s.Set("/hot", v, 1 + (i * 31) % 100000, SetMode::kAlways, now);
    bytes_by_size[v.size()].insert(s.BytesUsed());
    if (s.WheelSize() != 1) ++wrong_size;
  }
  CHECK(wrong_size == 0);
  CHECK(s.CheckConsistency() == "");
  for (auto& [size, set] : bytes_by_size) {
    CAPTURE(size);
    CHECK(set.size() == 1);
  }
}

}  // namespace
}  // namespace kvd::store
