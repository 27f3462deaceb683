#include "store/store.h"

#include <algorithm>

#include "util/clock.h"

namespace kvd::store {

Store::Store(size_t shards, uint64_t memory_limit, uint64_t now_ms, bool shared)
    : memory_limit_(memory_limit), shared_(shared) {
  if (shards == 0) shards = 1;
  for (size_t i = 0; i < shards; ++i) {
    slots_.push_back(std::make_unique<Slot>(memory_limit / shards, now_ms));
  }
}

void Store::Wait(const Slot& s) {
  uint64_t start = MonotonicNanos();
  s.mu.lock();
  s.waits.fetch_add(1, std::memory_order_relaxed);
  s.wait_ns.fetch_add(MonotonicNanos() - start, std::memory_order_relaxed);
}

void Store::PrefetchBatch(const HashedKey* keys, size_t n) {
  if (!shared_) {
    for (size_t i = 0; i < n; ++i) {
      if (!keys[i].key.empty()) slots_[ShardOf(keys[i])]->shard.PrefetchEntry(keys[i]);
    }
    return;
  }
  // Groups of at most kPrefetchGroup: each is sorted by insertion.
  for (size_t i = 0; i < n; i += kPrefetchGroup) PrefetchGrouped(keys + i, std::min(kPrefetchGroup, n - i));
}

void Store::PrefetchGrouped(const HashedKey* keys, size_t n) {
  uint32_t order[kPrefetchGroup];
  size_t shard[kPrefetchGroup];
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (keys[i].key.empty()) continue;
    size_t s = ShardOf(keys[i]);
    size_t j = m++;
    for (; j > 0 && shard[j - 1] > s; --j) {
      shard[j] = shard[j - 1];
      order[j] = order[j - 1];
    }
    shard[j] = s;
    order[j] = uint32_t(i);
  }
  for (size_t a = 0; a < m;) {
    size_t b = a;
    while (b < m && shard[b] == shard[a]) ++b;
    Slot& slot = *slots_[shard[a]];
    Guard lock(slot, true);
    for (size_t k = a; k < b; ++k) slot.shard.Prefetch(keys[order[k]]);
    for (size_t k = a; k < b; ++k) slot.shard.PrefetchEntry(keys[order[k]]);
    a = b;
  }
}

Store::LockStats Store::Locks() const {
  LockStats l;
  for (const auto& s : slots_) {
    l.waits += s->waits.load(std::memory_order_relaxed);
    l.wait_ns += s->wait_ns.load(std::memory_order_relaxed);
  }
  return l;
}

bool Store::Housekeep(size_t shard, uint64_t now_ms, size_t budget) {
  Slot& s = *slots_[shard];
  Guard lock(s, shared_);
  return s.shard.Housekeep(now_ms, budget);
}

uint64_t Store::Size(uint64_t now_ms) const {
  uint64_t n = 0;
  for (const auto& s : slots_) {
    Guard lock(*s, shared_);
    n += s->shard.LiveCount(now_ms);
  }
  return n;
}

ShardStats Store::Stats(uint64_t now_ms) const {
  ShardStats sum;
  for (const auto& s : slots_) {
    Guard lock(*s, shared_);
    ShardStats x = s->shard.Stats(now_ms);
    sum.keys += x.keys;
    sum.bytes_held += x.bytes_held;
    sum.bytes_used += x.bytes_used;
    sum.bytes_limit += x.bytes_limit;
    sum.segments_small += x.segments_small;
    sum.segments_main += x.segments_main;
    sum.segments_spare += x.segments_spare;
    sum.table_bytes += x.table_bytes;
    sum.out_of_line_bytes += x.out_of_line_bytes;
    sum.expired += x.expired;
    sum.evicted_small += x.evicted_small;
    sum.evicted_main += x.evicted_main;
    sum.promoted += x.promoted;
    sum.reinserted += x.reinserted;
    sum.ghost_hits += x.ghost_hits;
    sum.rejected += x.rejected;
    sum.bytes_copied += x.bytes_copied;
  }
  return sum;
}

}  // namespace kvd::store
