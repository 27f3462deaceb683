// Entry: the layout of one stored key in its shard's arena, and the accessors every store module
// shares.
//
// An entry is [Header 20 B][key bytes][value bytes], padded to the arena's 4-byte unit, or, when
// that would exceed kMaxInlineEntry, [Header][key][8-byte pointer][4-byte length] with the value
// in its own page-rounded mapping. Entries sit back to back in their segment, so the size of each
// follows from its header alone (EntryBytes): that is how eviction walks a segment.
//
// A "dead" entry (reclaimed, evicted, deleted or rewritten elsewhere) keeps its lengths, so the
// walk can step over it, and has prev == Arena::kNil, a value no linked entry has (a list head's
// prev is a tagged slot reference, see expiry_wheel.h).
//
// Limits that follow from the header: keys (including the leading '/') up to 255 bytes, values up
// to 8 MiB - 1 (a kvd limit; the length field of an out-of-line value has room for more),
// deadlines as the low 32 bits of a millisecond clock (so a TTL must stay below 2^31 ms, about
// 24.8 days; kvd caps it at 24 days).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "store/arena.h"

namespace kvd::store {

inline constexpr size_t kMaxKeyLen = 255;
inline constexpr size_t kMaxValueLen = (size_t(1) << 23) - 1;
inline constexpr uint64_t kMaxTtlMs = uint64_t(24) * 86400 * 1000;  // 24 days, < 2^31 ms
// Largest entry kept inside a segment. An eighth of a segment: the space a segment loses at its
// end to an entry that did not fit stays small, and bigger values are big enough that a mapping
// of their own (a system call and page rounding) costs little beside copying them.
inline constexpr size_t kMaxInlineEntry = Arena::kSegmentBytes / 8;
// The freq field saturates here (S3-FIFO's two bits).
inline constexpr uint32_t kMaxFreq = 3;

struct Header {
  uint32_t prev;      // expiry wheel links: entry ids, or a tagged slot reference (see wheel)
  uint32_t next;
  uint32_t deadline;  // low 32 bits of the absolute expiry time in ms
  // key length (8) | in the wheel's far ring (1) | value out of line (1) | freq (2) | unused (4) |
  // inline value length (16; 0 when out of line)
  uint32_t meta;
  // The value's version: the shard's write counter when it was written (never the version it
  // replaced), the source of its ETag.
  uint32_t version;

  size_t key_len() const { return meta & 0xff; }
  bool far() const { return (meta >> 8) & 1; }
  void set_far(bool f) { meta = (meta & ~uint32_t(1 << 8)) | (uint32_t(f) << 8); }
  bool out_of_line() const { return (meta >> 9) & 1; }
  uint32_t freq() const { return (meta >> 10) & 3; }
  void set_freq(uint32_t f) { meta = (meta & ~uint32_t(3 << 10)) | (f << 10); }
  // A read: S3-FIFO's frequency, saturating. Written only when it changes, so a hot key's entry
  // stays clean in the cache.
  void Touch() {
    if (freq() < kMaxFreq) meta += 1 << 10;
  }
  size_t inline_len() const { return meta >> 16; }
  bool dead() const { return prev == Arena::kNil; }

  // meta for a fresh entry: the far bit and freq start clear.
  static uint32_t Meta(size_t klen, size_t vlen, bool out_of_line) {
    return uint32_t(klen) | uint32_t(out_of_line) << 9 | (out_of_line ? 0 : uint32_t(vlen) << 16);
  }
};
static_assert(sizeof(Header) == 20);
static_assert(kMaxInlineEntry <= 0xffff + sizeof(Header), "inline lengths fit 16 bits");

// What follows the key of an out-of-line entry.
struct OutOfLine {
  char* data;
  uint32_t len;
};
inline constexpr size_t kOutOfLineBytes = sizeof(char*) + sizeof(uint32_t);

inline bool ValueInline(size_t klen, size_t vlen) {
  return sizeof(Header) + klen + vlen <= kMaxInlineEntry;
}
// Bytes an entry takes in its segment, padded to the arena's unit.
inline size_t EntryBytes(size_t klen, size_t vlen) {
  size_t n = sizeof(Header) + klen + (ValueInline(klen, vlen) ? vlen : kOutOfLineBytes);
  return Arena::RoundUp(n);
}
inline size_t EntryBytes(const Header* h) {
  return Arena::RoundUp(sizeof(Header) + h->key_len() + (h->out_of_line() ? kOutOfLineBytes : h->inline_len()));
}

inline Header* HeaderOf(const Arena& a, uint32_t id) { return reinterpret_cast<Header*>(a.Ptr(id)); }

inline std::string_view KeyOf(const Header* h) {
  return {reinterpret_cast<const char*>(h + 1), h->key_len()};
}
inline std::string_view KeyOf(const Arena& a, uint32_t id) { return KeyOf(HeaderOf(a, id)); }

inline OutOfLine OutOfLineOf(const Header* h) {
  const char* p = reinterpret_cast<const char*>(h + 1) + h->key_len();
  OutOfLine o;
  std::memcpy(&o.data, p, sizeof o.data);
  std::memcpy(&o.len, p + sizeof o.data, sizeof o.len);
  return o;
}

inline std::string_view ValueOf(const Header* h) {
  if (!h->out_of_line()) return {reinterpret_cast<const char*>(h + 1) + h->key_len(), h->inline_len()};
  OutOfLine o = OutOfLineOf(h);
  return {o.data, o.len};
}
inline std::string_view ValueOf(const Arena& a, uint32_t id) { return ValueOf(HeaderOf(a, id)); }

// Signed distance from `now_ms` to the entry's deadline; <= 0 means expired. Valid while the two
// are within 2^31 ms of each other, which the TTL cap and background reclaiming guarantee.
inline int32_t MsUntilDeadline(const Header* h, uint64_t now_ms) {
  return int32_t(h->deadline - uint32_t(now_ms));
}

}  // namespace kvd::store
