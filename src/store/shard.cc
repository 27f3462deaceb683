#include "store/shard.h"

#include <cstdlib>

namespace kvd::store {

Shard::Shard(uint64_t memory_limit, uint64_t now_ms)
    : limit_(memory_limit), table_(0, KeyHash{&arena_}, KeyEq{&arena_}), wheel_(&arena_, now_ms) {}

Shard::~Shard() {
  for (uint32_t id : table_) FreeEntry(id);
}

uint64_t Shard::BytesUsed() const {
  return arena_.bytes_in_use() + external_bytes_ + table_.capacity() * (sizeof(uint32_t) + 1);
}

ShardStats Shard::Stats(uint64_t now_ms) const {
  return {LiveCount(now_ms), BytesUsed(), expired_, evicted_, arena_.bytes_in_use(),
          arena_.bytes_reserved()};
}

uint32_t Shard::FindLive(HashedKey key, uint64_t now_ms) {
  auto it = table_.find(key);
  if (it == table_.end()) return Arena::kNil;
  uint32_t id = *it;
  if (MsUntilDeadline(HeaderOf(arena_, id), now_ms) > 0) return id;
  // Expired but not yet reclaimed: reclaim it now rather than serve it.
  wheel_.Remove(id);
  table_.erase(it);
  FreeEntry(id);
  ++expired_;
  return Arena::kNil;
}

void Shard::FreeEntry(uint32_t id) {
  Header* h = HeaderOf(arena_, id);
  size_t klen = h->key_len(), vlen = h->value_len();
  if (!ValueInline(klen, vlen)) {
    std::free(const_cast<char*>(ValueOf(arena_, id).data()));
    external_bytes_ -= vlen;
  }
  arena_.Free(id, BlockBytes(klen, vlen));
}

void Shard::EraseLinked(uint32_t id) {
  wheel_.Remove(id);
  table_.erase(KeyOf(arena_, id));
  FreeEntry(id);
}

bool Shard::MakeRoom(size_t bytes) {
  while (BytesUsed() + bytes > limit_) {
    uint32_t victim = wheel_.Nearest();
    if (victim == Arena::kNil) return false;
    EraseLinked(victim);
    ++evicted_;
  }
  return true;
}

uint32_t Shard::NewEntry(std::string_view key, std::string_view value, uint64_t deadline_ms) {
  size_t klen = key.size(), vlen = value.size();
  bool inline_value = ValueInline(klen, vlen);
  size_t block = BlockBytes(klen, vlen);
  if (!MakeRoom(Arena::BlockSize(block) + (inline_value ? 0 : vlen))) return Arena::kNil;
  uint32_t id = arena_.Alloc(block);
  if (id == Arena::kNil) return Arena::kNil;
  Header* h = HeaderOf(arena_, id);
  h->lens = uint32_t(klen) | uint32_t(vlen) << 9;
  char* p = reinterpret_cast<char*>(h + 1);
  std::memcpy(p, key.data(), klen);
  if (inline_value) {
    if (vlen) std::memcpy(p + klen, value.data(), vlen);
  } else {
    char* out = static_cast<char*>(std::malloc(vlen));
    if (out == nullptr) {
      arena_.Free(id, block);
      return Arena::kNil;
    }
    std::memcpy(out, value.data(), vlen);
    std::memcpy(p + klen, &out, sizeof out);
    external_bytes_ += vlen;
  }
  wheel_.Insert(id, deadline_ms);
  return id;
}

SetResult Shard::Set(HashedKey key, std::string_view value, uint64_t ttl_ms, SetMode mode,
                     uint64_t now_ms) {
  uint64_t deadline = now_ms + ttl_ms;
  uint32_t old = FindLive(key, now_ms);
  if ((mode == SetMode::kIfAbsent && old != Arena::kNil) ||
      (mode == SetMode::kIfPresent && old == Arena::kNil)) {
    return SetResult::kConditionFailed;
  }
  if (old != Arena::kNil) {
    Header* h = HeaderOf(arena_, old);
    size_t klen = h->key_len(), vlen = h->value_len();
    if (ValueInline(klen, vlen) && ValueInline(klen, value.size()) &&
        Arena::BlockSize(BlockBytes(klen, vlen)) == Arena::BlockSize(BlockBytes(klen, value.size()))) {
      // Same block size: rewrite in place, and move the deadline. Unlink first: Remove reads the
      // far-ring bit that shares `lens`, and rewriting `lens` before it cleared that bit, so an
      // entry in the far ring was unlinked as a near one (near slot counts corrupted).
      wheel_.Remove(old);
      h->lens = uint32_t(klen) | uint32_t(value.size()) << 9;
      if (!value.empty()) std::memcpy(reinterpret_cast<char*>(h + 1) + klen, value.data(), value.size());
      wheel_.Insert(old, deadline);
      return SetResult::kStored;
    }
    EraseLinked(old);
  }
  uint32_t id = NewEntry(key.key, value, deadline);
  if (id == Arena::kNil) return SetResult::kNoMemory;
  size_t capacity = table_.capacity();
  // The key is known absent; lazy_emplace probes with the hash already computed.
  table_.lazy_emplace(key, [id](const auto& construct) { construct(id); });
  if (table_.capacity() != capacity && BytesUsed() > limit_) {
    // The table grew its slot array to take the key, which MakeRoom above did not count:
    // BytesUsed() stayed over the limit until a later Set. Evict for the growth now, with the new
    // key out of the wheel so it is not its own victim.
    wheel_.Remove(id);
    bool room = MakeRoom(0);
    wheel_.Insert(id, deadline);
    if (!room) {
      EraseLinked(id);
      return SetResult::kNoMemory;
    }
  }
  return SetResult::kStored;
}

bool Shard::Delete(HashedKey key, uint64_t now_ms) {
  uint32_t id = FindLive(key, now_ms);
  if (id == Arena::kNil) return false;
  EraseLinked(id);
  return true;
}

bool Shard::Expire(uint64_t now_ms, size_t budget) {
  return wheel_.Advance(now_ms, budget, [this](uint32_t id) {
    table_.erase(KeyOf(arena_, id));
    FreeEntry(id);
    ++expired_;
  });
}

std::string Shard::CheckConsistency() const {
  if (std::string e = wheel_.CheckConsistency(); !e.empty()) return "wheel: " + e;
  if (table_.size() != wheel_.size()) return "table and wheel sizes differ";
  uint64_t arena_bytes = 0, external = 0;
  for (uint32_t id : table_) {
    const Header* h = HeaderOf(arena_, id);
    arena_bytes += Arena::BlockSize(BlockBytes(h->key_len(), h->value_len()));
    if (!ValueInline(h->key_len(), h->value_len())) external += h->value_len();
    auto it = table_.find(KeyOf(arena_, id));
    if (it == table_.end() || *it != id) return "an entry is not found by its own key";
  }
  if (arena_bytes != arena_.bytes_in_use()) return "arena bytes in use differ from the entries";
  if (external != external_bytes_) return "out-of-line bytes differ from the entries";
  return "";
}

}  // namespace kvd::store
