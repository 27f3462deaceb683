#include "store/ghost.h"

#include <algorithm>
#include <bit>

namespace kvd::store {

void Ghost::Insert(size_t hash) {
  if (slots_.empty()) return;
  uint32_t* b = &slots_[Bucket(hash)];
  size_t victim = 0;
  for (size_t i = 0; i < kWays; ++i) {
    if (b[i] == 0 || !Fresh(b[i])) {
      victim = i;
      break;
    }
    // The oldest: the largest age, counted modulo the epoch's wrap.
    if (uint16_t(epoch_ - uint16_t(b[i])) > uint16_t(epoch_ - uint16_t(b[victim]))) victim = i;
  }
  b[victim] = uint32_t(Fingerprint(hash)) << 16 | epoch_;
  if (++inserts_ >= per_epoch_) {
    inserts_ = 0;
    ++epoch_;
  }
}

bool Ghost::Take(size_t hash) {
  if (slots_.empty()) return false;
  uint32_t* b = &slots_[Bucket(hash)];
  uint16_t fp = Fingerprint(hash);
  for (size_t i = 0; i < kWays; ++i) {
    if (b[i] != 0 && uint16_t(b[i] >> 16) == fp && Fresh(b[i])) {
      b[i] = 0;
      return true;
    }
  }
  return false;
}

size_t Ghost::BucketsFor(size_t keys) {
  return keys == 0 ? 0 : std::max<size_t>(16, std::bit_ceil((keys + kWays - 1) / kWays));
}

uint64_t Ghost::BytesFor(size_t keys) { return BucketsFor(keys) * kWays * sizeof(uint32_t); }

void Ghost::Resize(size_t keys) {
  size_t buckets = BucketsFor(keys);
  if (buckets * kWays == slots_.size()) return;
  if (buckets == 0) {
    std::vector<uint32_t>().swap(slots_);
    shift_ = 64;
    return;
  }
  std::vector<uint32_t>(buckets * kWays, 0).swap(slots_);
  shift_ = 64 - unsigned(std::countr_zero(buckets));
  per_epoch_ = std::max<size_t>(1, buckets * kWays / kEpochs);
  inserts_ = 0;
}

}  // namespace kvd::store
