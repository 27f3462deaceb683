// cachesim's policies on caches of a few 100-byte objects, with evictions worked out by hand, and
// the trace generator's definition (determinism, sizes, the scan's place).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <set>

#include "cachesim/policies.h"
#include "cachesim/trace.h"

namespace cachesim {
namespace {

// A miss inserts, as replay does; returns whether it hit.
bool Access(Cache& c, uint32_t id) {
  if (c.Get(id)) return true;
  c.Insert(id, 100);
  return false;
}

std::set<uint32_t> Held(const Cache& c, uint32_t n = 20) {
  std::set<uint32_t> s;
  for (uint32_t id = 0; id < n; ++id) {
    if (c.Contains(id)) s.insert(id);
  }
  return s;
}

void InsertAll(Cache& c, std::initializer_list<uint32_t> ids) {
  for (uint32_t id : ids) c.Insert(id, 100);
}

TEST_CASE("fifo evicts the oldest insert, hits or not") {
  Fifo c(300, 20);
  InsertAll(c, {1, 2, 3});
  CHECK(Access(c, 1));
  c.Insert(4, 100);
  CHECK(Held(c) == std::set<uint32_t>{2, 3, 4});
  CHECK(c.bytes() == 300);
  CHECK(c.objects() == 3);
}

TEST_CASE("lru evicts the least recently used") {
  Lru c(300, 20);
  InsertAll(c, {1, 2, 3});
  CHECK(c.Get(1));
  c.Insert(4, 100);  // order 3,1,4 (oldest first): 2 went
  CHECK(Held(c) == std::set<uint32_t>{1, 3, 4});
  c.Insert(5, 100);
  CHECK(Held(c) == std::set<uint32_t>{1, 4, 5});
}

TEST_CASE("clock reinserts a hit object once, clock2 as often as it was hit (up to 3)") {
  Clock one(300, 20, 1), two(300, 20, 3);
  for (Cache* c : {static_cast<Cache*>(&one), static_cast<Cache*>(&two)}) {
    InsertAll(*c, {1, 2, 3});
    c->Get(1), c->Get(1), c->Get(2);
    // 1 and 2 are reinserted (order 3,1,2), 3 goes.
    c->Insert(4, 100);
    CHECK(Held(*c) == std::set<uint32_t>{1, 2, 4});
  }
  // clock: 1's bit was spent, so 1 goes. clock2: 1 had 2 hits (one left), 2 had one (spent).
  one.Insert(5, 100);
  CHECK(Held(one) == std::set<uint32_t>{2, 4, 5});
  two.Insert(5, 100);  // 1 reinserted with 0 (order 4,1,5 after 2 goes)
  CHECK(Held(two) == std::set<uint32_t>{1, 4, 5});
  two.Insert(6, 100);
  CHECK(Held(two) == std::set<uint32_t>{1, 5, 6});
  two.Insert(7, 100);
  CHECK(Held(two) == std::set<uint32_t>{5, 6, 7});
}

TEST_CASE("sieve keeps visited objects in place and resumes from its hand") {
  Sieve c(300, 20);
  InsertAll(c, {1, 2, 3});  // oldest first: 1,2,3
  c.Get(1), c.Get(2);
  c.Insert(4, 100);  // hand clears 1 and 2, evicts 3; hand past the newest: back to the oldest
  CHECK(Held(c) == std::set<uint32_t>{1, 2, 4});
  c.Get(4);
  c.Insert(5, 100);  // from the oldest: 1 (bit cleared) goes; hand at 2
  CHECK(Held(c) == std::set<uint32_t>{2, 4, 5});
  c.Insert(6, 100);  // 2 goes; hand at 4
  CHECK(Held(c) == std::set<uint32_t>{4, 5, 6});
  c.Insert(7, 100);  // 4 visited: cleared and kept in place (still the oldest); 5 goes
  CHECK(Held(c) == std::set<uint32_t>{4, 6, 7});
  c.Insert(8, 100);  // hand at 6: evicted; the hand moves on to 7, the oldest (4) waits
  CHECK(Held(c) == std::set<uint32_t>{4, 7, 8});
  c.Erase(7);  // the hand was on 7: it moves on to 8
  c.Insert(9, 100);  // room without evicting
  CHECK(Held(c) == std::set<uint32_t>{4, 8, 9});
  c.Insert(10, 100);  // hand at 8: evicted
  CHECK(Held(c) == std::set<uint32_t>{4, 9, 10});
}

TEST_CASE("s3fifo: small to main on a hit, small's misses to the ghost, ghost hits to main") {
  // Small's share: 102 of 300 bytes, so eviction takes from small while it holds >= 2 objects.
  S3Fifo c(300, 20, {.small = 0.34});
  InsertAll(c, {1, 2, 3});
  CHECK(c.QueueOf(1) == S3Fifo::kSmall);
  c.Get(1);
  c.Insert(4, 100);  // small's oldest 1 was hit: to main; 2 was not: evicted into the ghost
  CHECK(Held(c) == std::set<uint32_t>{1, 3, 4});
  CHECK(c.QueueOf(1) == S3Fifo::kMain);
  CHECK(c.InGhost(2));
  c.Insert(2, 100);  // in the ghost: to main; small (3,4) is over its share, 3 goes to the ghost
  CHECK(Held(c) == std::set<uint32_t>{1, 2, 4});
  CHECK(c.QueueOf(2) == S3Fifo::kMain);
  CHECK(!c.InGhost(2));
  CHECK(c.InGhost(3));  // the ghost holds as many as main (1, 2): just 3
  c.Get(1);
  c.Insert(5, 100);  // small (4) under its share: main's oldest 1 has a hit: reinserted, 2 goes
  CHECK(Held(c) == std::set<uint32_t>{1, 4, 5});
  CHECK(c.QueueOf(5) == S3Fifo::kSmall);
  c.Insert(3, 100);  // ghost hit: to main; small (4,5) over its share: 4 evicted
  CHECK(Held(c) == std::set<uint32_t>{1, 3, 5});
  CHECK(c.QueueOf(3) == S3Fifo::kMain);
  CHECK(c.InGhost(4));
  CHECK(c.bytes() == 300);
}

TEST_CASE("s3fifo move=2: one hit in small is not enough") {
  S3Fifo c(300, 20, {.small = 0.34, .move = 2});
  InsertAll(c, {1, 2, 3});
  c.Get(1), c.Get(1), c.Get(2);
  c.Insert(4, 100);  // 1 (two hits) to main, 2 (one) evicted
  CHECK(Held(c) == std::set<uint32_t>{1, 3, 4});
  CHECK(c.QueueOf(1) == S3Fifo::kMain);
  CHECK(c.InGhost(2));
}

TEST_CASE("s3fifo-seg evicts whole segments, copies what it keeps, leaves holes") {
  // 5 segments of 2 objects; small's share 1 segment; one segment kept free for copies.
  S3FifoSeg c(1000, 20, {.small = 0.2, .segment = 200});
  InsertAll(c, {1, 2, 3, 4, 5, 6, 7, 8});  // small: [1 2] [3 4] [5 6] [7 8], one free
  CHECK(c.reserved() == 800);
  c.Get(1), c.Get(4);
  // [1 2] goes: 1 is copied to main (into the free segment), 2 goes to the ghost; [3 4] goes: 3
  // to the ghost, 4 copied; then 9 can start a new small segment.
  c.Insert(9, 100);
  CHECK(Held(c) == std::set<uint32_t>{1, 4, 5, 6, 7, 8, 9});
  CHECK(c.InMain(1));
  CHECK(c.InMain(4));
  // The ghost holds as many ids as main holds objects: 1 when 3 arrived, so 2 was dropped.
  CHECK(!c.InGhost(2));
  CHECK(c.InGhost(3));
  CHECK(c.segments(S3FifoSeg::kSmall) == 3);
  CHECK(c.segments(S3FifoSeg::kMain) == 1);
  CHECK(c.copied() == 200);
  CHECK(c.bytes() == 700);
  CHECK(c.reserved() == 800);
  c.Erase(5);  // a hole in [5 6]
  CHECK(c.bytes() == 600);
  CHECK(c.reserved() == 800);
  c.Insert(10, 100);  // [9 10]
  c.Insert(11, 100);  // [5 6] goes (the hole is skipped): 6 to the ghost, which now holds 3 and 6
  CHECK(Held(c) == std::set<uint32_t>{1, 4, 7, 8, 9, 10, 11});
  CHECK(c.InGhost(3));
  CHECK(c.InGhost(6));
  c.Insert(3, 100);  // ghost hit: to main, whose head [1 4] is full; [7 8] goes to the ghost
  CHECK(Held(c) == std::set<uint32_t>{1, 3, 4, 9, 10, 11});
  CHECK(c.InMain(3));
  CHECK(c.segments(S3FifoSeg::kMain) == 2);
  CHECK(c.InGhost(7));
  CHECK(c.InGhost(8));
  CHECK(!c.InGhost(6));  // pushed out: main holds 2
}

TEST_CASE("s3fifo-seg main eviction reinserts hit objects with one hit less") {
  S3FifoSeg c(1000, 20, {.small = 0.2, .segment = 200});
  InsertAll(c, {1, 2, 3, 4, 5, 6, 7, 8});
  for (uint32_t id : {1, 2, 3, 4, 5, 6, 7, 8}) c.Get(id);
  // Every small segment is copied to main, counters cleared: main [1 2] [3 4] [5 6] [7 8] and no
  // free segment but the spare, so main's oldest [1 2] is evicted for 9.
  c.Insert(9, 100);
  CHECK(Held(c) == std::set<uint32_t>{3, 4, 5, 6, 7, 8, 9});
  CHECK(c.segments(S3FifoSeg::kMain) == 3);
  CHECK(c.copied() == 800);
  c.Get(3), c.Get(3), c.Get(5);
  InsertAll(c, {10, 11});  // small [9 10] goes to the ghost for 11
  InsertAll(c, {9, 10});   // ghost hits, to main: small [11] goes to the ghost for 9's segment
  CHECK(c.InMain(9));
  CHECK(c.InMain(10));
  CHECK(c.segments(S3FifoSeg::kSmall) == 0);
  c.Insert(11, 100);  // ghost hit; small is empty, so main's oldest [3 4] goes: 3 copied (2 -> 1)
  CHECK(Held(c) == std::set<uint32_t>{3, 5, 6, 7, 8, 9, 10, 11});
  CHECK(c.reserved() == 800);
  c.Insert(4, 100);  // to small, which needs a segment: [5 6] goes (5 copied, 1 -> 0), then [7 8]
  CHECK(Held(c) == std::set<uint32_t>{3, 4, 5, 9, 10, 11});
  CHECK(c.segments(S3FifoSeg::kMain) == 3);  // [9 10] [3 11] [5]
  CHECK(c.segments(S3FifoSeg::kSmall) == 1);
}

TEST_CASE("policies never exceed the budget and agree on a trace's accounting") {
  TraceSpec s{.requests = 20000, .keys = 2000, .zipf = 0.9, .scan = true, .seed = 7};
  Trace t = Generate(s);
  for (const char* spec : {"fifo", "lru", "clock", "clock2", "sieve", "s3fifo", "s3fifo:small=0.2:move=2",
                           "s3fifo-seg=4096", "s3fifo-seg=8K:move=2"}) {
    auto c = MakeCache(spec, 100000, t.id_limit());
    uint64_t hits = 0;
    for (const Record& r : t.records) {
      if (c->Get(r.id)) {
        ++hits;
      } else {
        c->Insert(r.id, ObjectBytesOf(r.id, r.value_bytes));
      }
      REQUIRE(c->bytes() <= c->budget());
      REQUIRE(c->reserved() <= c->budget());
    }
    uint64_t sum = 0, n = 0;
    for (uint32_t id = 0; id < t.id_limit(); ++id) {
      if (c->Contains(id)) sum += ObjectBytesOf(id, ValueSize(id)), ++n;
    }
    CHECK(sum == c->bytes());
    CHECK(n == c->objects());
    CHECK(hits > 0);
  }
  CHECK_THROWS(MakeCache("lru:small=0.1", 1000, 10));
  CHECK_THROWS(MakeCache("nope", 1000, 10));
  CHECK_THROWS(MakeCache("s3fifo:small=2", 1000, 10));
}

TEST_CASE("the trace: deterministic, sizes fixed per key, the scan at the midpoint") {
  TraceSpec s{.requests = 1000, .keys = 100, .zipf = 0.99, .scan = true, .seed = 3};
  Trace a = Generate(s), b = Generate(s);
  REQUIRE(a.records.size() == 1200);
  CHECK(std::memcmp(a.records.data(), b.records.data(), a.records.size() * sizeof(Record)) == 0);
  for (size_t i = 0; i < a.records.size(); ++i) {
    const Record& r = a.records[i];
    bool scan = i >= 500 && i < 700;
    CHECK((r.flags == kScan) == scan);
    CHECK(r.id == (scan ? 100 + (i - 500) : r.id));
    if (!scan) CHECK(r.id < 100);
    CHECK(r.value_bytes == ValueSize(r.id));
    CHECK(r.value_bytes >= 64);
    CHECK(r.value_bytes <= 1024);
  }
  s.seed = 4;
  Trace c = Generate(s);
  CHECK(std::memcmp(a.records.data(), c.records.data(), 500 * sizeof(Record)) != 0);
  // The byte model: "/k7" with 100 bytes is round_up_4(16 + 3 + 100) + 10.
  CHECK(ObjectBytesOf(7, 100) == 120 + 10);
  CHECK(ObjectBytesOf(12345, 64) == 88 + 10);
  CHECK(ParseBytes("64M") == 64u << 20);
  CHECK(ParseBytes("262144") == 262144);
}

TEST_CASE("the trace's Zipf draw follows the distribution") {
  TraceSpec s{.requests = 200000, .keys = 1000, .zipf = 1.0, .scan = false, .seed = 1};
  Trace t = Generate(s);
  std::vector<uint32_t> count(1000, 0);
  for (const Record& r : t.records) ++count[r.id];
  std::sort(count.begin(), count.end(), std::greater<>());
  double h = 0;
  for (int r = 1; r <= 1000; ++r) h += 1.0 / r;
  // The most requested key is rank 1: 1/H of the requests, H = 7.485.
  CHECK(double(count[0]) / 200000 == doctest::Approx(1 / h).epsilon(0.03));
  CHECK(double(count[1]) / 200000 == doctest::Approx(0.5 / h).epsilon(0.05));
}

}  // namespace
}  // namespace cachesim
