// Entry: the layout of one stored key in its shard's arena, and the accessors every store module
// shares.
//
// A block is [Header 16 B][key bytes][value bytes], or, when that would exceed Arena::kMaxBlock,
// [Header][key][8-byte pointer to a malloc'd value]. Whether the value is out of line follows from
// the lengths, so no flag is spent on it. A key of "/123456" with a 6-byte value fits a 32-byte
// block.
//
// Limits that follow from the 16-byte header: keys (including the leading '/') up to 255 bytes,
// values up to 8 MiB - 1, deadlines as the low 32 bits of a millisecond clock (so a TTL must stay
// below 2^31 ms, about 24.8 days; kvd caps it at 24 days).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "store/arena.h"

namespace kvd::store {

inline constexpr size_t kMaxKeyLen = 255;
inline constexpr size_t kMaxValueLen = (size_t(1) << 23) - 1;
inline constexpr uint64_t kMaxTtlMs = uint64_t(24) * 86400 * 1000;  // 24 days, < 2^31 ms

struct Header {
  uint32_t prev;      // expiry wheel links: entry ids, or a tagged slot reference (see wheel)
  uint32_t next;
  uint32_t deadline;  // low 32 bits of the absolute expiry time in ms
  uint32_t lens;      // key length (8 bits) | in far ring (1 bit) | value length (23 bits)

  size_t key_len() const { return lens & 0xff; }
  size_t value_len() const { return lens >> 9; }
  bool far() const { return (lens >> 8) & 1; }
  void set_far(bool f) { lens = (lens & ~uint32_t(0x100)) | (uint32_t(f) << 8); }
};
static_assert(sizeof(Header) == 16);

inline size_t InlineBlockBytes(size_t klen, size_t vlen) { return sizeof(Header) + klen + vlen; }
inline bool ValueInline(size_t klen, size_t vlen) {
  return InlineBlockBytes(klen, vlen) <= Arena::kMaxBlock;
}
inline size_t BlockBytes(size_t klen, size_t vlen) {
  return ValueInline(klen, vlen) ? InlineBlockBytes(klen, vlen) : sizeof(Header) + klen + sizeof(char*);
}

inline Header* HeaderOf(const Arena& a, uint32_t id) { return reinterpret_cast<Header*>(a.Ptr(id)); }

inline std::string_view KeyOf(const Arena& a, uint32_t id) {
  const Header* h = HeaderOf(a, id);
  return {reinterpret_cast<const char*>(h + 1), h->key_len()};
}

inline std::string_view ValueOf(const Arena& a, uint32_t id) {
  const Header* h = HeaderOf(a, id);
  const char* p = reinterpret_cast<const char*>(h + 1) + h->key_len();
  size_t vlen = h->value_len();
  if (ValueInline(h->key_len(), vlen)) return {p, vlen};
  const char* out;
  std::memcpy(&out, p, sizeof out);
  return {out, vlen};
}

// Signed distance from `now_ms` to the entry's deadline; <= 0 means expired. Valid while the two
// are within 2^31 ms of each other, which the TTL cap and background reclaiming guarantee.
inline int32_t MsUntilDeadline(const Header* h, uint64_t now_ms) {
  return int32_t(h->deadline - uint32_t(now_ms));
}

}  // namespace kvd::store
