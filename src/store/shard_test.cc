#include "store/shard.h"

#include "util/integer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace kvd::store {
namespace {

constexpr uint64_t kBig = uint64_t(1) << 32;  // 4 GiB: no memory limit to speak of
constexpr uint64_t kSec = 1000;
constexpr uint64_t kHour = 3600 * kSec;
constexpr uint64_t kSeg = Arena::kSegmentBytes;

std::optional<std::string> Get(Shard& s, std::string_view key, uint64_t now) {
  std::optional<std::string> out;
  s.Get(key, now, [&](std::string_view v) { out.emplace(v); });
  return out;
}

SetResult Put(Shard& s, std::string_view key, std::string_view value, uint64_t ttl, uint64_t now,
              SetMode mode = SetMode::kAlways) {
  return s.Set(key, value, ttl, mode, now);
}

uint64_t Evicted(const ShardStats& st) { return st.evicted_small + st.evicted_main; }

TEST_CASE("Shard: set, get, overwrite in place and across sizes") {
  const uint64_t t = 1000;
  Shard s(kBig, t);
  const uint64_t empty = s.BytesHeld();
  CHECK(empty == s.Stats(t).bytes_used);
  CHECK_FALSE(Get(s, "/a", t).has_value());

  CHECK(Put(s, "/a", "hello", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "hello");
  CHECK(s.LiveCount(t) == 1);
  // One segment is now held, and the entry's 20 + 2 + 5 bytes (padded to 28) are live in it.
  CHECK(EntryBytes(2, 5) == 28);
  CHECK(s.BytesHeld() == empty + kSeg);
  CHECK(s.Stats(t).bytes_used == empty + 28);

  // The same padded size: rewritten in place.
  CHECK(Put(s, "/a", "world", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "world");
  CHECK(Put(s, "/a", "xyzw", 10 * kSec, t) == SetResult::kStored);  // 26 bytes: still 28
  CHECK(Get(s, "/a", t) == "xyzw");
  CHECK(s.Stats(t).bytes_used == empty + 28);
  // Other sizes are written anew; the old copy's bytes stop counting.
  CHECK(Put(s, "/a", "", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "");
  CHECK(s.Stats(t).bytes_used == empty + 24);
  std::string v100(100, 'v');
  CHECK(Put(s, "/a", v100, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == v100);
  CHECK(s.Stats(t).bytes_used == empty + 124);

  // Inline up to kMaxInlineEntry; beyond, the value has its own page-rounded mapping.
  const size_t max_inline = kMaxInlineEntry - sizeof(Header) - 2;
  std::string at_limit(max_inline, 'i');
  CHECK(Put(s, "/a", at_limit, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == at_limit);
  CHECK(s.Stats(t).out_of_line_bytes == 0);
  CHECK(s.Stats(t).bytes_used == empty + kMaxInlineEntry);
  std::string over(max_inline + 1, 'o');
  over[0] = 'O';
  over.back() = '!';
  CHECK(Put(s, "/a", over, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == over);
  CHECK(s.Stats(t).out_of_line_bytes == (over.size() + 4095) / 4096 * 4096);
  CHECK(s.Stats(t).bytes_used == empty + EntryBytes(2, over.size()) + s.Stats(t).out_of_line_bytes);
  CHECK(EntryBytes(2, over.size()) == 36);
  std::string big(100000, 'b');
  CHECK(Put(s, "/a", big, 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == big);
  CHECK(s.Stats(t).out_of_line_bytes == 102400);
  CHECK(Put(s, "/a", "hello", 10 * kSec, t) == SetResult::kStored);
  CHECK(Get(s, "/a", t) == "hello");
  CHECK(s.Stats(t).out_of_line_bytes == 0);
  CHECK(s.Stats(t).bytes_used == empty + 28);
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
  CHECK(s.Stats(t).bytes_used == empty + 28);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: an in-place rewrite moves the deadline between the near and far rings") {
  uint64_t t = 0;
  Shard s(kBig, t);
  // Far (1 h) to near (5 s), same size: rewritten in place.
  CHECK(Put(s, "/r", "1", kHour, t) == SetResult::kStored);
  const uint64_t bytes = s.Stats(t).bytes_used;
  CHECK(Put(s, "/r", "2", 5 * kSec, t) == SetResult::kStored);
  CHECK(s.Stats(t).bytes_used == bytes);
  CHECK(s.CheckConsistency() == "");
  CHECK(s.LiveCount(t + 5 * kSec - 1) == 1);
  CHECK(s.LiveCount(t + 5 * kSec) == 0);
  CHECK(s.Housekeep(t + 5 * kSec - 1, SIZE_MAX));
  CHECK(s.WheelSize() == 1);
  CHECK(s.Housekeep(t + 5 * kSec, SIZE_MAX));
  CHECK(s.WheelSize() == 0);
  CHECK(s.CheckConsistency() == "");
  // Near to far.
  t += 5 * kSec;
  CHECK(Put(s, "/r", "3", 5 * kSec, t) == SetResult::kStored);
  CHECK(Put(s, "/r", "4", kHour, t) == SetResult::kStored);
  CHECK(s.CheckConsistency() == "");
  CHECK(s.Housekeep(t + kHour - 1, SIZE_MAX));
  CHECK(Get(s, "/r", t + kHour - 1) == "4");
  CHECK(s.LiveCount(t + kHour) == 0);
  CHECK(s.Housekeep(t + kHour, SIZE_MAX));
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
  std::string zeros(50000, '\0');
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
  const uint64_t empty = s.Stats(t).bytes_used;
  CHECK_FALSE(s.Delete("/x", t));
  CHECK(Put(s, "/x", "1", kSec, t) == SetResult::kStored);
  CHECK(Put(s, "/y", std::string(60000, 'y'), kSec, t) == SetResult::kStored);
  CHECK(s.Delete("/x", t));
  CHECK_FALSE(s.Delete("/x", t));
  CHECK_FALSE(Get(s, "/x", t).has_value());
  CHECK(s.Delete("/y", t));
  CHECK(s.LiveCount(t) == 0);
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(t).bytes_used == empty);
  CHECK(s.Stats(t).out_of_line_bytes == 0);
  // Deleting an expired key reports a miss.
  CHECK(Put(s, "/z", "1", 5, t) == SetResult::kStored);
  CHECK_FALSE(s.Delete("/z", t + 5));
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(t + 5).expired == 1);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: expired entries are misses and uncounted before they are reclaimed") {
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
  CHECK_FALSE(Get(s, "/a5", t + 1000).has_value());  // reclaimed on sight
  CHECK(s.WheelSize() == 299);
  CHECK(s.LiveCount(t + 1000) == 200);
  CHECK(s.Stats(t + 1000).expired == 1);
  // Partially reclaimed: still exact.
  CHECK_FALSE(s.Housekeep(t + 1500, 10));
  CHECK(s.LiveCount(t + 1500) == 200);
  CHECK(s.WheelSize() == 289);
  // Reclaiming lags by much more than the near ring: still exact.
  CHECK(s.LiveCount(t + kHour) == 100);
  CHECK(s.LiveCount(t + 3 * kHour) == 0);
  CHECK(s.Housekeep(t + kHour, SIZE_MAX));
  CHECK(s.WheelSize() == 100);
  CHECK(s.LiveCount(t + kHour) == 100);
  ShardStats st = s.Stats(t + kHour);
  CHECK(st.keys == 100);
  CHECK(st.expired == 200);
  CHECK(Evicted(st) == 0);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: expiry gives every segment and mapping back") {
  const uint64_t t = 1;
  Shard s(kBig, t);
  const uint64_t empty = s.BytesHeld();
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string v = i % 100 == 0 ? std::string(40000 + i, 'x') : std::to_string(i);
    REQUIRE(Put(s, "/" + std::to_string(i), v, 1 + i % 70000, t) == SetResult::kStored);
  }
  CHECK(s.LiveCount(t) == n);
  CHECK(s.Stats(t).out_of_line_bytes >= 200 * 40000);
  // Reclaim in budgeted slices.
  int calls = 0;
  while (!s.Housekeep(t + 70000, 1000)) ++calls;
  CHECK(calls >= 19);
  CHECK(s.LiveCount(t + 70000) == 0);
  CHECK(s.WheelSize() == 0);
  CHECK(s.Stats(t + 70000).expired == n);
  CHECK(s.CheckConsistency() == "");
  // What is left: the table (it keeps its size for the next load), the heads, two spares.
  ShardStats st = s.Stats(t + 70000);
  CHECK(st.out_of_line_bytes == 0);
  CHECK(st.segments_small + st.segments_main <= 2);
  CHECK(st.segments_spare <= 2);
  CHECK(s.BytesHeld() <= empty + st.table_bytes + 4 * kSeg);
  // Half as many keys again go in and out the same way.
  for (int i = 0; i < n / 2; ++i) Put(s, "/" + std::to_string(i), std::to_string(i), kSec, t + 70000);
  size_t misses = 0;
  for (int i = 0; i < n / 2; ++i) misses += !Get(s, "/" + std::to_string(i), t + 70000).has_value();
  CHECK(misses == 0);
  CHECK(s.Housekeep(t + 70000 + kSec, SIZE_MAX));
  CHECK(s.LiveCount(t + 70000 + kSec) == 0);
  CHECK(s.CheckConsistency() == "");
}

// Writes random keys with the given value sizes, phase after phase, into a shard with the given
// limit, checking after every write that the shard holds no more than its limit.
void SizeShift(uint64_t limit, const std::vector<size_t>& sizes, uint64_t bytes_per_phase, bool reads) {
  uint64_t t = 0;
  Shard s(limit, t);
  std::mt19937 rng(7);
  size_t over = 0, refused = 0, wrong = 0;
  uint64_t max_held = 0;
  for (size_t size : sizes) {
    CAPTURE(size);
    for (uint64_t written = 0; written < bytes_per_phase; written += size) {
      std::string key = "/" + std::to_string(rng() % 1000000);
      std::string value(size, char('a' + size % 26));
      if (Put(s, key, value, kHour, t) != SetResult::kStored) ++refused;
      if (reads && rng() % 4 == 0) {
        auto v = Get(s, key, t);
        if (v && *v != value) ++wrong;
      }
      max_held = std::max(max_held, s.BytesHeld());
      if (s.BytesHeld() > limit) ++over;
      if (rng() % 64 == 0) s.Housekeep(++t, 2000);
    }
    REQUIRE(s.CheckConsistency() == "");
  }
  CHECK(over == 0);
  CHECK(refused == 0);
  CHECK(wrong == 0);
  CHECK(max_held <= limit);
  CHECK(Evicted(s.Stats(t)) > 0);
}

TEST_CASE("Shard: the limit holds through any sequence of value sizes") {
  SUBCASE("the size shift that defeated size classes") {
    SizeShift(8 << 20, {100, 300, 900, 2700, 6000, 100}, 16 << 20, true);
  }
  SUBCASE("values straddling the inline limit and far beyond it") {
    SizeShift(8 << 20, {kMaxInlineEntry - 40, kMaxInlineEntry, 300000, 50, 70000, 5}, 24 << 20, true);
  }
  SUBCASE("a small budget") {
    SizeShift(Shard::MinLimit() + kSeg, {10, 3000, 20000, 10}, 4 << 20, false);
  }
}

TEST_CASE("Shard: a write that cannot fit is refused and loses nothing") {
  const uint64_t t = 0;
  Shard s(4 << 20, t);
  for (int i = 0; i < 100; ++i) REQUIRE(Put(s, "/k" + std::to_string(i), "v", kHour, t) == SetResult::kStored);
  REQUIRE(Put(s, "/big", "old", kHour, t) == SetResult::kStored);
  // 5 MiB cannot fit in 4: refused before anything is evicted for it.
  std::string huge(5 << 20, 'h');
  CHECK(Put(s, "/big", huge, kHour, t) == SetResult::kNoMemory);
  CHECK(Get(s, "/big", t) == "old");
  CHECK(s.LiveCount(t) == 101);
  CHECK(Evicted(s.Stats(t)) == 0);
  CHECK(s.Stats(t).rejected == 1);
  CHECK(s.CheckConsistency() == "");
  // 3 MiB fits once everything else is evicted.
  std::string large(3 << 20, 'l');
  CHECK(Put(s, "/big", large, kHour, t) == SetResult::kStored);
  CHECK(Get(s, "/big", t) == large);
  CHECK(s.BytesHeld() <= 4 << 20);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: keys read often survive a scan of keys read once") {
  uint64_t t = 0;
  const uint64_t limit = 16 << 20;
  Shard s(limit, t);
  const std::string value(200, 'v');
  const int hot = 5000;  // ~1.1 MiB of entries: a tenth of the budget
  for (int i = 0; i < hot; ++i) Put(s, "/hot" + std::to_string(i), value, kHour, t);
  // A one-shot scan of 10x the budget, with the hot keys read (look-aside: written on a miss)
  // as it goes.
  size_t hot_misses = 0, hot_reads = 0;
  std::mt19937 rng(3);
  for (int i = 0; i < 800000; ++i) {
    Put(s, "/scan" + std::to_string(i), value, kHour, t);
    if (i % 4 == 0) {
      std::string key = "/hot" + std::to_string(rng() % hot);
      ++hot_reads;
      if (!Get(s, key, t)) {
        ++hot_misses;
        Put(s, key, value, kHour, t);
      }
    }
    if (i % 100 == 0) s.Housekeep(++t, 2000);
  }
  ShardStats st = s.Stats(t);
  CAPTURE(hot_misses);
  CAPTURE(st.evicted_small);
  CAPTURE(st.evicted_main);
  // The first reads of each hot key after the scan began may miss; after that they stay.
  CHECK(hot_misses < size_t(hot) * 2);
  CHECK(hot_misses * 20 < hot_reads);
  size_t present = 0;
  for (int i = 0; i < hot; ++i) present += Get(s, "/hot" + std::to_string(i), t).has_value();
  CHECK(present > size_t(hot) * 95 / 100);
  CHECK(st.evicted_small > 700000);  // the scan went out through the small queue
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: housekeeping evicts ahead, so writes at the limit rarely evict themselves") {
  uint64_t t = 0;
  Shard s(8 << 20, t);
  const std::string value(100, 'v');
  for (int i = 0; i < 200000; ++i) Put(s, "/" + std::to_string(i), value, kHour, t);
  REQUIRE(Evicted(s.Stats(t)) > 0);
  // Housekeeping makes a segment's worth of room, a budget at a time.
  int calls = 0;
  while (!s.Housekeep(t, 500)) ++calls;
  CHECK(calls > 0);
  uint64_t before = Evicted(s.Stats(t));
  // A segment of new entries fits without evicting.
  for (int i = 0; i < int(kSeg / 140) - 10; ++i) Put(s, "/new" + std::to_string(i), value, kHour, t);
  CHECK(Evicted(s.Stats(t)) == before);
  CHECK(s.CheckConsistency() == "");
}


TEST_CASE("Shard: every stored write gives the value a new version; reads and TTL changes do not") {
  uint64_t t = 0;
  Shard s(kBig, t);
  auto version = [&](std::string_view k) {
    uint32_t v = 0;
    s.Get(k, t, [&](std::string_view, uint32_t ver) { v = ver; });
    return v;
  };
  WriteOptions o;
  o.ttl_ms = kHour;
  WriteResult a = s.Write("/k", "one", o, t);
  CHECK(a.status == SetResult::kStored);
  CHECK(version("/k") == a.version);
  CHECK(version("/k") == a.version);  // a read changes nothing
  WriteResult b = s.Write("/k", "two", o, t);  // same size: in place
  CHECK(b.version != a.version);
  WriteResult c = s.Write("/k", "three", o, t);  // another size: a new entry
  CHECK(c.version != b.version);
  WriteResult d = s.Write("/k", "three", o, t);  // the same bytes again: still a new version
  CHECK(d.version != c.version);
  CHECK(s.SetTtl("/k", 5 * kSec, t));
  CHECK(version("/k") == d.version);
  CHECK(s.TtlMs("/k", t) == 5 * kSec);
  CHECK(s.TtlMs("/none", t) == -1);
  CHECK_FALSE(s.SetTtl("/none", kSec, t));
  // Versions survive eviction's copies: fill past the limit with the key read all along.
  Shard small(4 << 20, t);
  WriteResult kept = small.Write("/hot", "v", o, t);
  for (int i = 0; i < 100000; ++i) {
    small.Set("/f" + std::to_string(i), std::string(100, 'f'), kHour, SetMode::kAlways, t);
    uint32_t v = 0;
    CHECK(small.Get("/hot", t, [&](std::string_view, uint32_t ver) { v = ver; }));
    if (v != kept.version) {
      CHECK(v == kept.version);
      break;
    }
  }
  CHECK(small.Stats(t).promoted + small.Stats(t).reinserted > 0);
}

TEST_CASE("Shard: preconditions are checked with the write, and a failed one changes nothing") {
  uint64_t t = 0;
  Shard s(kBig, t);
  WriteOptions o;
  o.ttl_ms = kHour;
  uint32_t v1 = s.Write("/k", "one", o, t).version;
  // If-Match: the current version only.
  uint32_t want = v1 + 1000;
  auto match_fn = [&](bool exists, uint32_t v) { return exists && v == want; };
  Precondition match = match_fn;  // a FunctionRef: the lambda must outlive it
  o.precondition = &match;
  CHECK(s.Write("/k", "two", o, t).status == SetResult::kPreconditionFailed);
  CHECK(Get(s, "/k", t) == "one");
  want = v1;
  WriteResult w = s.Write("/k", "two", o, t);
  CHECK(w.status == SetResult::kStored);
  CHECK(Get(s, "/k", t) == "two");
  CHECK(s.Write("/k", "three", o, t).status == SetResult::kPreconditionFailed);  // v1 is gone
  // If-None-Match: * (absent only) is SetMode::kIfAbsent's twin.
  auto absent_fn = [](bool exists, uint32_t) { return !exists; };
  Precondition absent = absent_fn;
  o.precondition = &absent;
  CHECK(s.Write("/k", "x", o, t).status == SetResult::kPreconditionFailed);
  CHECK(s.Write("/new", "x", o, t).status == SetResult::kStored);
  // Mode first, then the precondition.
  o.mode = SetMode::kIfPresent;
  CHECK(s.Write("/other", "x", o, t).status == SetResult::kConditionFailed);
  // Deletes too.
  want = w.version;
  CHECK(s.DeleteIf("/k", match, t) == DeleteResult::kDeleted);
  CHECK(s.DeleteIf("/k", match, t) == DeleteResult::kPreconditionFailed);
  CHECK(s.DeleteIf("/k", absent, t) == DeleteResult::kAbsent);
  CHECK(s.CheckConsistency() == "");
}

TEST_CASE("Shard: keep_ttl keeps a live key's deadline; on_old sees the value replaced") {
  uint64_t t = 100;
  Shard s(kBig, t);
  s.Set("/k", "old", 10 * kSec, SetMode::kAlways, t);
  std::string seen = "none";
  auto on_old_fn = [&](std::string_view v) { seen = v; };
  absl::FunctionRef<void(std::string_view)> on_old = on_old_fn;
  WriteOptions o;
  o.ttl_ms = kHour;
  o.keep_ttl = true;
  o.on_old = &on_old;
  t += 3 * kSec;
  CHECK(s.Write("/k", "new value", o, t).status == SetResult::kStored);
  CHECK(seen == "old");
  CHECK(s.TtlMs("/k", t) == 7 * kSec);
  // An absent key takes ttl_ms; on_old is not called.
  seen = "none";
  CHECK(s.Write("/fresh", "v", o, t).status == SetResult::kStored);
  CHECK(seen == "none");
  CHECK(s.TtlMs("/fresh", t) == kHour);
}

TEST_CASE("ParseInteger takes what Redis's INCR takes") {  // util/integer.h
  int64_t v = 0;
  for (auto [text, want] : std::vector<std::pair<std::string, int64_t>>{
           {"0", 0}, {"7", 7}, {"-7", -7}, {"123456789", 123456789},
           {"9223372036854775807", INT64_MAX}, {"-9223372036854775808", INT64_MIN}}) {
    CAPTURE(text);
    CHECK(ParseInteger(text, &v));
    CHECK(v == want);
  }
  for (std::string bad : std::vector<std::string>{"", "-", "+1", " 1", "1 ", "01", "-0", "00", "1.0", "1e3", "0x10",
                          "9223372036854775808", "-9223372036854775809", "99999999999999999999",
                          std::string("1\0", 2)}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseInteger(bad, &v));
  }
}

TEST_CASE("Shard: Incr adds to a decimal value, counts a missing key as 0, and refuses the rest") {
  uint64_t t = 0;
  Shard s(kBig, t);
  WriteOptions o;
  o.ttl_ms = kHour;
  int64_t r = 0;
  CHECK(s.Incr("/c", 5, o, t, &r).status == SetResult::kStored);
  CHECK(r == 5);
  CHECK(Get(s, "/c", t) == "5");
  CHECK(s.Incr("/c", -12, o, t, &r).status == SetResult::kStored);
  CHECK(r == -7);
  CHECK(Get(s, "/c", t) == "-7");
  s.Set("/c", "9223372036854775806", kHour, SetMode::kAlways, t);
  CHECK(s.Incr("/c", 1, o, t, &r).status == SetResult::kStored);
  CHECK(Get(s, "/c", t) == "9223372036854775807");
  CHECK(s.Incr("/c", 1, o, t, &r).status == SetResult::kOverflow);
  CHECK(Get(s, "/c", t) == "9223372036854775807");
  s.Set("/n", "-9223372036854775808", kHour, SetMode::kAlways, t);
  CHECK(s.Incr("/n", -1, o, t, &r).status == SetResult::kOverflow);
  CHECK(s.Incr("/n", 0, o, t, &r).status == SetResult::kStored);
  CHECK(Get(s, "/n", t) == "-9223372036854775808");
  s.Set("/s", "abc", kHour, SetMode::kAlways, t);
  CHECK(s.Incr("/s", 1, o, t, &r).status == SetResult::kNotInteger);
  CHECK(Get(s, "/s", t) == "abc");
  // An expired key counts as 0; the sum takes the write's TTL.
  s.Set("/e", "41", 10, SetMode::kAlways, t);
  CHECK(s.Incr("/e", 1, o, t + 10, &r).status == SetResult::kStored);
  CHECK(r == 1);
  CHECK(s.TtlMs("/e", t + 10) == kHour);
  // Conditions apply as to any write.
  o.mode = SetMode::kIfPresent;
  CHECK(s.Incr("/absent", 1, o, t, &r).status == SetResult::kConditionFailed);
  CHECK_FALSE(Get(s, "/absent", t).has_value());
  CHECK(s.CheckConsistency() == "");
}

}  // namespace
}  // namespace kvd::store
