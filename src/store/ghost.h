// Ghost: S3-FIFO's memory of keys recently evicted from the small queue, by hash only.
//
// A key that comes back while its ghost is remembered skipped the small queue's test once
// already, so it goes straight to the main queue. The ghost should remember about as many keys as
// the main queue holds; it is approximate (S3-FIFO is not sensitive to that): a table of 4-slot
// buckets, each slot a 16-bit fingerprint and the 16-bit "epoch" it was inserted in. The epoch
// advances every capacity/8 insertions and a slot older than 8 epochs is forgotten, so the ghost
// holds the last ~capacity insertions; a full bucket forgets its oldest slot first.
//
// Memory: 4 bytes a slot, counted by bytes(). Resize starts over at a new capacity (it is called
// when the cache's size has changed a lot, and a ghost refills within one small queue's worth of
// evictions). Thread safety: none; the owning shard's lock covers it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvd::store {

class Ghost {
 public:
  // Remembers hash; forgets the oldest of its bucket when that is full.
  void Insert(size_t hash);
  // Whether hash is remembered; forgets it if so (it is going back into the cache).
  bool Take(size_t hash);
  // About `keys` remembered keys; 0 frees everything.
  void Resize(size_t keys);

  size_t capacity() const { return slots_.size(); }
  uint64_t bytes() const { return slots_.capacity() * sizeof(uint32_t); }
  // What bytes() becomes after Resize(keys).
  static uint64_t BytesFor(size_t keys);

 private:
  static constexpr size_t kWays = 4;
  static constexpr uint16_t kEpochs = 8;  // a slot lives this many epochs

  static size_t BucketsFor(size_t keys);
  // Buckets from a remix of the hash: its high bits pick the shard, so they are not spread within
  // one.
  size_t Bucket(size_t hash) const { return ((uint64_t(hash) * 0x9e3779b97f4a7c15ull) >> shift_) * kWays; }
  static uint16_t Fingerprint(size_t hash) { return uint16_t(hash >> 4) | 1; }  // never 0: empty
  bool Fresh(uint32_t slot) const { return uint16_t(epoch_ - uint16_t(slot)) < kEpochs; }

  std::vector<uint32_t> slots_;  // fingerprint << 16 | epoch; 0 is empty
  unsigned shift_ = 64;          // 64 - log2(buckets)
  uint16_t epoch_ = 0;
  size_t inserts_ = 0;           // in this epoch
  size_t per_epoch_ = 1;
};

}  // namespace kvd::store
