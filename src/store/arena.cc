#include "store/arena.h"

#include <bit>
#include <cstdlib>
#include <cstring>

namespace kvd::store {

// Classes: 8..128 in steps of 8 (16 classes), then 8 classes per doubling up to 4096 (40
// classes), so rounding wastes at most 12.5% above 128 bytes.
size_t Arena::ClassOf(size_t bytes) {
  if (bytes <= 128) return bytes == 0 ? 0 : (bytes + 7) / 8 - 1;
  size_t p = std::bit_width(bytes - 1);             // 2^(p-1) < bytes <= 2^p, p in 8..12
  size_t step = (size_t(1) << p) / 16;
  size_t base = size_t(1) << (p - 1);
  return 16 + (p - 8) * 8 + (bytes - base + step - 1) / step - 1;
}

size_t Arena::BlockSize(size_t bytes) {
  size_t c = ClassOf(bytes);
  if (c < 16) return (c + 1) * 8;
  size_t p = (c - 16) / 8 + 8;
  return (size_t(1) << (p - 1)) + ((c - 16) % 8 + 1) * ((size_t(1) << p) / 16);
}

Arena::~Arena() {
  for (char* c : chunks_) std::free(c);
}

uint32_t Arena::Alloc(size_t bytes) {
  size_t c = ClassOf(bytes);
  size_t units = BlockSize(bytes) / kUnit;
  Class& k = classes_[c];
  uint32_t id;
  if (k.free_head != kNil) {
    id = k.free_head;
    std::memcpy(&k.free_head, Ptr(id), sizeof(uint32_t));
  } else {
    if (k.bump == kNil || k.bump + units > k.bump_end) {
      uint64_t first = uint64_t(chunks_.size()) << kChunkBits;
      if (first + (size_t(1) << kChunkBits) - 1 > kMaxId) return kNil;
      char* chunk = static_cast<char*>(std::aligned_alloc(64, kChunkBytes));
      if (chunk == nullptr) return kNil;
      chunks_.push_back(chunk);
      k.bump = uint32_t(first);
      // Leave the chunk's tail unused when the class size does not divide it evenly.
      k.bump_end = uint32_t(first + ((size_t(1) << kChunkBits) / units) * units);
    }
    id = k.bump;
    k.bump += uint32_t(units);
  }
  in_use_ += units * kUnit;
  return id;
}

void Arena::Free(uint32_t id, size_t bytes) {
  Class& k = classes_[ClassOf(bytes)];
  std::memcpy(Ptr(id), &k.free_head, sizeof(uint32_t));
  k.free_head = id;
  in_use_ -= BlockSize(bytes);
}

}  // namespace kvd::store
