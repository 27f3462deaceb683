#include "store/store.h"

namespace kvd::store {

Store::Store(size_t shards, uint64_t memory_limit, uint64_t now_ms, bool shared)
    : memory_limit_(memory_limit), shared_(shared) {
  if (shards == 0) shards = 1;
  for (size_t i = 0; i < shards; ++i) {
    slots_.push_back(std::make_unique<Slot>(memory_limit / shards, now_ms));
  }
}

bool Store::Expire(size_t shard, uint64_t now_ms, size_t budget) {
  Slot& s = *slots_[shard];
  Guard lock(s, shared_);
  return s.shard.Expire(now_ms, budget);
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
    sum.bytes_used += x.bytes_used;
    sum.expired += x.expired;
    sum.evicted += x.evicted;
    sum.arena_in_use += x.arena_in_use;
    sum.arena_reserved += x.arena_reserved;
  }
  return sum;
}

}  // namespace kvd::store
