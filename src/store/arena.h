// Arena: a per-shard slab allocator that hands out blocks named by 32-bit ids.
//
// Why: memory per key is a first-class concern. A 4-byte id in the hash table instead of an
// 8-byte pointer, and size-classed slabs instead of malloc's per-block header and 16-byte
// rounding, are what let a small key cost ~40 bytes in all (see docs/design.md).
//
// Contract:
//  - Alloc(n) returns a block of at least n bytes (n <= kMaxBlock), 8-byte aligned; Free() takes
//    back the same size it was given. Freed blocks go to their class's free list and are reused by
//    later Allocs; chunks are never returned to the OS (a cache at steady state reuses them).
//  - Ptr(id) is stable for the block's life (chunks never move).
//  - Ids have the top bit clear (kMaxId), so callers may use that bit as a tag.
// Thread safety: none; the owning shard's lock covers it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace kvd::store {

class Arena {
 public:
  static constexpr uint32_t kNil = 0xffffffffu;
  static constexpr size_t kUnit = 8;                      // ids count 8-byte units
  static constexpr size_t kChunkBits = 15;                // units per chunk: 2^15 (256 KiB)
  static constexpr size_t kChunkBytes = kUnit << kChunkBits;
  static constexpr size_t kMaxBlock = 4096;
  static constexpr uint32_t kMaxId = 0x7fffffffu;         // 31-bit ids: 16 GiB per arena

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // Returns kNil when the arena's 16 GiB id space is exhausted.
  uint32_t Alloc(size_t bytes);
  void Free(uint32_t id, size_t bytes);

  char* Ptr(uint32_t id) const {
    return chunks_[id >> kChunkBits] + (size_t(id) & ((size_t(1) << kChunkBits) - 1)) * kUnit;
  }

  // The size a request of `bytes` really takes (its class's block size).
  static size_t BlockSize(size_t bytes);
  size_t bytes_in_use() const { return in_use_; }
  size_t bytes_reserved() const { return chunks_.size() * kChunkBytes; }

 private:
  static size_t ClassOf(size_t bytes);
  static constexpr size_t kClasses = 56;

  struct Class {
    uint32_t free_head = kNil;  // singly linked through each free block's first 4 bytes
    uint32_t bump = kNil;       // next never-used block in the class's newest chunk
    uint32_t bump_end = 0;
  };
  std::vector<char*> chunks_;
  Class classes_[kClasses];
  size_t in_use_ = 0;
};

}  // namespace kvd::store
