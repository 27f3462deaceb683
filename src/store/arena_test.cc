#include "store/arena.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <vector>

namespace kvd::store {
namespace {

// Appends `bytes` to q, opening heads as needed (as a shard does once its budget allows).
uint32_t Put(Arena& a, Arena::Queue q, size_t bytes) {
  uint32_t id = a.Append(q, bytes);
  if (id != Arena::kNil) return id;
  if (!a.OpenHead(q)) return Arena::kNil;
  return a.Append(q, bytes);
}

// Pages of [p, p + n) resident in memory.
size_t ResidentPages(const char* p, size_t n) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v(n / page);
  REQUIRE(mincore(const_cast<char*>(p), n, v.data()) == 0);
  size_t r = 0;
  for (unsigned char c : v) r += c & 1;
  return r;
}

TEST_CASE("Arena: appends fill a head segment in order, then need a new one") {
  Arena a(8);
  CHECK(a.Append(Arena::kSmall, 16) == Arena::kNil);  // no head yet
  REQUIRE(a.OpenHead(Arena::kSmall));
  uint32_t first = a.Append(Arena::kSmall, 16);
  CHECK(first == Arena::FirstId(Arena::SegmentOf(first)));
  CHECK(a.Append(Arena::kSmall, 40) == first + 4);
  CHECK(a.LiveBytes(Arena::SegmentOf(first)) == 56);
  CHECK(a.LiveEntries(Arena::SegmentOf(first)) == 2);
  // Up to the last unit, then nothing.
  size_t left = Arena::kSegmentBytes - 56;
  CHECK(a.Fits(Arena::kSmall, left));
  CHECK_FALSE(a.Fits(Arena::kSmall, left + 4));
  CHECK(a.Append(Arena::kSmall, left) != Arena::kNil);
  CHECK(a.Append(Arena::kSmall, 4) == Arena::kNil);
  CHECK(a.EndId(Arena::SegmentOf(first)) == Arena::FirstId(Arena::SegmentOf(first)) + Arena::kSegmentUnits);
  CHECK(a.in_use() == 1);
  CHECK(a.bytes_held() == Arena::kSegmentBytes);
  // Every id names its bytes, 4-byte aligned.
  std::memset(a.Ptr(first), 0xab, 56);
  CHECK(reinterpret_cast<uintptr_t>(a.Ptr(first)) % Arena::kUnit == 0);
  CHECK(a.Ptr(first + 1) == a.Ptr(first) + 4);
}

TEST_CASE("Arena: queues are FIFOs of segments; a freed segment leaves from anywhere") {
  Arena a(16);
  std::vector<uint32_t> segs;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(a.OpenHead(Arena::kMain));
    segs.push_back(Arena::SegmentOf(a.Append(Arena::kMain, 8)));
  }
  REQUIRE(a.OpenHead(Arena::kSmall));
  a.Append(Arena::kSmall, 8);
  CHECK(a.Segments(Arena::kMain) == 4);
  CHECK(a.Segments(Arena::kSmall) == 1);
  auto order = [&] {
    std::vector<uint32_t> v;
    for (uint32_t s = a.Tail(Arena::kMain); s != Arena::kNoSegment; s = a.Newer(s)) v.push_back(s);
    return v;
  };
  CHECK(order() == segs);
  CHECK(a.IsHead(segs[3]));
  CHECK(a.QueueOf(segs[1]) == Arena::kMain);
  // Middle, tail, then the head (which seals the queue).
  a.FreeSegment(segs[1]);
  CHECK(order() == std::vector<uint32_t>{segs[0], segs[2], segs[3]});
  a.FreeSegment(segs[0]);
  CHECK(order() == std::vector<uint32_t>{segs[2], segs[3]});
  a.FreeSegment(segs[3]);
  CHECK(order() == std::vector<uint32_t>{segs[2]});
  CHECK(a.Append(Arena::kMain, 8) == Arena::kNil);  // sealed: no head
  CHECK(a.spares() == 3);
  CHECK(a.in_use() == 2);
  CHECK(a.bytes_held() == 5 * Arena::kSegmentBytes);
  // A new head reuses a spare and goes after the newest segment.
  REQUIRE(a.OpenHead(Arena::kMain));
  uint32_t reused = Arena::SegmentOf(a.Append(Arena::kMain, 8));
  CHECK(std::set<uint32_t>{segs[0], segs[1], segs[3]}.count(reused) == 1);
  CHECK(order() == std::vector<uint32_t>{segs[2], reused});
  CHECK(a.LiveEntries(reused) == 1);
  CHECK(a.spares() == 2);
  // Sealing keeps the segment in the queue.
  a.SealHead(Arena::kMain);
  REQUIRE(a.OpenHead(Arena::kMain));
  CHECK(order().size() == 3);
}

TEST_CASE("Arena: Release counts live bytes; ReleaseSpare gives the pages back") {
  Arena a(4);
  REQUIRE(a.OpenHead(Arena::kSmall));
  uint32_t x = a.Append(Arena::kSmall, 100);
  uint32_t y = a.Append(Arena::kSmall, 2000);
  uint32_t seg = Arena::SegmentOf(x);
  std::memset(a.Ptr(x), 1, Arena::kSegmentBytes);  // every page resident
  CHECK(ResidentPages(a.Ptr(Arena::FirstId(seg)), Arena::kSegmentBytes) == Arena::kSegmentBytes / 4096);
  CHECK_FALSE(a.Release(x, 100));
  CHECK(a.LiveBytes(seg) == 2000);
  CHECK(a.Release(y, 2000));  // the last live bytes
  CHECK(a.LiveBytes(seg) == 0);
  a.SealHead(Arena::kSmall);
  a.FreeSegment(seg);
  CHECK(a.spares() == 1);
  CHECK(a.bytes_held() == Arena::kSegmentBytes);
  CHECK(ResidentPages(a.Ptr(Arena::FirstId(seg)), Arena::kSegmentBytes) > 0);
  CHECK(a.ReleaseSpare());
  CHECK_FALSE(a.ReleaseSpare());
  CHECK(a.bytes_held() == 0);
  CHECK(ResidentPages(a.Ptr(Arena::FirstId(seg)), Arena::kSegmentBytes) == 0);
  // A released segment is used again (spares first, then released ones, then fresh).
  REQUIRE(a.OpenHead(Arena::kMain));
  CHECK(Arena::SegmentOf(a.Append(Arena::kMain, 4)) == seg);
}

TEST_CASE("Arena: the segments one entry size gave up serve any other size") {
  // The size-shift that defeated size classes: fill with small entries, free them all, then fill
  // with large ones. The same segments take them; the arena never holds more.
  Arena a(64);
  auto fill_and_free = [&](size_t entry, size_t count) {
    std::vector<uint32_t> ids;
    for (size_t i = 0; i < count; ++i) {
      uint32_t id = Put(a, Arena::kSmall, entry);
      REQUIRE(id != Arena::kNil);
      ids.push_back(id);
    }
    size_t held = a.in_use();
    a.SealHead(Arena::kSmall);
    for (uint32_t id : ids) {
      if (a.Release(id, entry)) a.FreeSegment(Arena::SegmentOf(id));
    }
    CHECK(a.in_use() == 0);
    return held;
  };
  const size_t bytes = 40 * Arena::kSegmentBytes;
  for (size_t entry : {size_t(104), size_t(316), size_t(916), size_t(2716), size_t(6016), size_t(104)}) {
    CAPTURE(entry);
    size_t held = fill_and_free(entry, bytes / entry);
    CHECK(held <= 41);
    CHECK(a.in_use() + a.spares() <= 41);
  }
}

TEST_CASE("Arena: its address space is bounded by max_segments") {
  Arena a(2);
  CHECK(a.max_segments() == 2);
  CHECK(a.OpenHead(Arena::kSmall));
  CHECK(a.OpenHead(Arena::kMain));
  CHECK_FALSE(a.OpenHead(Arena::kMain));
  CHECK(Arena(Arena::kMaxSegments + 5).max_segments() == Arena::kMaxSegments);
  // The largest id still has its top bit clear.
  CHECK(Arena::FirstId(uint32_t(Arena::kMaxSegments - 1)) + Arena::kSegmentUnits - 1 == Arena::kMaxId);
}

}  // namespace
}  // namespace kvd::store
