#include "store/arena.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace kvd::store {
namespace {

// The 56 class sizes the header promises: 8..128 in steps of 8, then 8 evenly spaced sizes per
// doubling up to 4096.
std::vector<size_t> ExpectedClassSizes() {
  std::vector<size_t> v;
  for (size_t s = 8; s <= 128; s += 8) v.push_back(s);
  for (size_t base = 128; base < 4096; base *= 2) {
    for (size_t j = 1; j <= 8; ++j) v.push_back(base + j * base / 8);
  }
  return v;
}

TEST_CASE("Arena::BlockSize rounds every size to its class") {
  const std::vector<size_t> classes = ExpectedClassSizes();
  REQUIRE(classes.size() == 56);
  CHECK(classes.back() == Arena::kMaxBlock);

  CHECK(Arena::BlockSize(0) == 8);
  std::set<size_t> seen;
  size_t bad = 0, prev = 0;
  for (size_t n = 1; n <= Arena::kMaxBlock; ++n) {
    size_t b = Arena::BlockSize(n);
    seen.insert(b);
    // The smallest class size that fits n.
    size_t want = *std::lower_bound(classes.begin(), classes.end(), n);
    if (b != want || b < prev || b % Arena::kUnit != 0) ++bad;
    if (n > 128 && (b - n) * 8 > n) ++bad;  // waste above 128 bytes stays within 12.5%
    if (n <= 128 && b != (n + 7) / 8 * 8) ++bad;
    prev = b;
  }
  CHECK(bad == 0);
  CHECK(seen == std::set<size_t>(classes.begin(), classes.end()));

  // Every boundary: a class size maps to itself and one byte more to the next class.
  for (size_t i = 0; i < classes.size(); ++i) {
    CAPTURE(classes[i]);
    CHECK(Arena::BlockSize(classes[i]) == classes[i]);
    CHECK(Arena::BlockSize(classes[i] - 1) == classes[i]);
    if (i + 1 < classes.size()) CHECK(Arena::BlockSize(classes[i] + 1) == classes[i + 1]);
  }
  // Spot values.
  CHECK(Arena::BlockSize(129) == 144);
  CHECK(Arena::BlockSize(256) == 256);
  CHECK(Arena::BlockSize(257) == 288);
  CHECK(Arena::BlockSize(2049) == 2304);
  CHECK(Arena::BlockSize(4095) == 4096);
}

TEST_CASE("Arena reuses freed blocks of the same class") {
  Arena a;
  CHECK(a.bytes_in_use() == 0);
  CHECK(a.bytes_reserved() == 0);
  uint32_t x = a.Alloc(24);
  uint32_t y = a.Alloc(24);
  REQUIRE(x != Arena::kNil);
  REQUIRE(y != Arena::kNil);
  CHECK(x != y);
  CHECK(a.bytes_in_use() == 48);
  CHECK(a.bytes_reserved() == Arena::kChunkBytes);

  a.Free(x, 24);
  CHECK(a.bytes_in_use() == 24);
  // Any size in the same class (17..24) gets the freed block back.
  CHECK(a.Alloc(17) == x);
  CHECK(a.bytes_in_use() == 48);

  // Another class does not take it.
  a.Free(x, 24);
  uint32_t z = a.Alloc(32);
  CHECK(z != x);
  CHECK(z != y);
  CHECK(a.Alloc(24) == x);

  // LIFO reuse across several frees.
  a.Free(x, 24);
  a.Free(y, 24);
  CHECK(a.Alloc(24) == y);
  CHECK(a.Alloc(24) == x);
  a.Free(x, 24);
  a.Free(y, 24);
  a.Free(z, 32);
  CHECK(a.bytes_in_use() == 0);
}

struct Block {
  uint32_t id;
  size_t size;  // requested
};

// Fills each block with a pattern derived from its id, so overlapping blocks are caught by the
// pattern check as well as by the address check.
void Fill(const Arena& a, const Block& b) {
  std::memset(a.Ptr(b.id), int(b.id * 131 % 251), b.size);
}
bool Intact(const Arena& a, const Block& b) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(a.Ptr(b.id));
  unsigned char want = static_cast<unsigned char>(b.id * 131 % 251);
  for (size_t i = 0; i < b.size; ++i) {
    if (p[i] != want) return false;
  }
  return true;
}

// Checks ids unique, blocks 8-aligned, inside one chunk, and not overlapping one another.
size_t CountLayoutErrors(const Arena& a, const std::vector<Block>& blocks) {
  size_t errors = 0;
  std::vector<std::pair<const char*, size_t>> spans;
  std::set<uint32_t> ids;
  for (const Block& b : blocks) {
    if (b.id == Arena::kNil || b.id > Arena::kMaxId) ++errors;
    if (!ids.insert(b.id).second) ++errors;
    const char* p = a.Ptr(b.id);
    if (reinterpret_cast<uintptr_t>(p) % 8 != 0) ++errors;
    size_t offset = (size_t(b.id) & ((size_t(1) << Arena::kChunkBits) - 1)) * Arena::kUnit;
    if (offset + Arena::BlockSize(b.size) > Arena::kChunkBytes) ++errors;
    spans.emplace_back(p, Arena::BlockSize(b.size));
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i - 1].first + spans[i - 1].second > spans[i].first) ++errors;
  }
  return errors;
}

TEST_CASE("Arena ids are unique and blocks disjoint across many chunks") {
  Arena a;
  std::mt19937 rng(12345);
  // Mostly small blocks, some large: ~20 MB over ~80 chunks, every class touched.
  auto random_size = [&]() -> size_t {
    uint32_t r = rng() % 100;
    if (r < 70) return 1 + rng() % 128;
    if (r < 95) return 129 + rng() % 896;
    return 1025 + rng() % 3072;
  };
  std::vector<Block> blocks;
  size_t expect_in_use = 0;
  for (int i = 0; i < 60000; ++i) {
    Block b{0, random_size()};
    b.id = a.Alloc(b.size);
    REQUIRE(b.id != Arena::kNil);
    Fill(a, b);
    expect_in_use += Arena::BlockSize(b.size);
    blocks.push_back(b);
  }
  // Every class size exactly, so each class's chunk tail handling is exercised.
  for (size_t s : ExpectedClassSizes()) {
    for (int i = 0; i < 200; ++i) {
      Block b{a.Alloc(s), s};
      REQUIRE(b.id != Arena::kNil);
      Fill(a, b);
      expect_in_use += s;
      blocks.push_back(b);
    }
  }
  CHECK(a.bytes_in_use() == expect_in_use);
  CHECK(a.bytes_reserved() > 50 * Arena::kChunkBytes);
  CHECK(a.bytes_reserved() >= a.bytes_in_use());
  CHECK(CountLayoutErrors(a, blocks) == 0);
  CHECK(std::all_of(blocks.begin(), blocks.end(), [&](const Block& b) { return Intact(a, b); }));

  // Free a random half, reallocate with new random sizes: freed blocks are reused, nothing
  // overlaps, and the accounting follows.
  std::shuffle(blocks.begin(), blocks.end(), rng);
  size_t half = blocks.size() / 2;
  for (size_t i = half; i < blocks.size(); ++i) {
    a.Free(blocks[i].id, blocks[i].size);
    expect_in_use -= Arena::BlockSize(blocks[i].size);
  }
  blocks.resize(half);
  CHECK(a.bytes_in_use() == expect_in_use);
  size_t reserved_before = a.bytes_reserved();
  for (size_t i = 0; i < half / 2; ++i) {
    Block b{0, random_size()};
    b.id = a.Alloc(b.size);
    REQUIRE(b.id != Arena::kNil);
    Fill(a, b);
    expect_in_use += Arena::BlockSize(b.size);
    blocks.push_back(b);
  }
  CHECK(a.bytes_in_use() == expect_in_use);
  // A quarter reallocated from the freed half's blocks needs (almost) no new chunks.
  CHECK(a.bytes_reserved() <= reserved_before + 8 * Arena::kChunkBytes);
  CHECK(CountLayoutErrors(a, blocks) == 0);
  CHECK(std::all_of(blocks.begin(), blocks.end(), [&](const Block& b) { return Intact(a, b); }));

  for (const Block& b : blocks) a.Free(b.id, b.size);
  CHECK(a.bytes_in_use() == 0);
}

TEST_CASE("Arena fills one class across chunk boundaries without gaps or overlap") {
  Arena a;
  // 24-byte blocks do not divide a 256 KiB chunk: the tail is skipped, never overlapped.
  const size_t per_chunk = Arena::kChunkBytes / 24;
  std::vector<Block> blocks;
  for (size_t i = 0; i < 3 * per_chunk + 5; ++i) blocks.push_back({a.Alloc(24), 24});
  CHECK(a.bytes_reserved() == 4 * Arena::kChunkBytes);
  CHECK(a.bytes_in_use() == blocks.size() * 24);
  CHECK(CountLayoutErrors(a, blocks) == 0);
  // Within a chunk, ids are consecutive blocks.
  CHECK(blocks[1].id == blocks[0].id + 3);
  CHECK((blocks[per_chunk].id >> Arena::kChunkBits) != (blocks[per_chunk - 1].id >> Arena::kChunkBits));
}

}  // namespace
}  // namespace kvd::store
