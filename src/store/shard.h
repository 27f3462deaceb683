// Shard: one slice of the keyspace — a hash table of entry ids, the arena holding the entries, and
// the expiry wheel timing them out — with a memory budget it enforces by evicting the entries
// nearest to expiry.
//
// Invariants: every entry in the table is linked in the wheel exactly once; an entry whose
// deadline has passed is never returned by Get (it is erased on sight), and is not counted by
// LiveCount even before the wheel reclaims it.
// Thread safety: none. Store wraps each shard in a lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "store/arena.h"
#include "store/entry.h"
#include "store/expiry_wheel.h"

namespace kvd::store {

// The table's hash of a key: absl's own string hash. Debian's Abseil has its own string_view type,
// and absl::Hash of a std::string_view falls back to std::hash (an out-of-line murmur hash, then
// absl's mix on top), which costs about twice as much for short keys.
inline size_t HashKey(std::string_view k) {
  return absl::Hash<absl::string_view>{}(absl::string_view(k.data(), k.size()));
}

// A key with its hash, computed once per request: Store picks the shard from it and the table
// probes with it. Converts implicitly from a string_view (hashing it) for callers that have no
// hash yet.
struct HashedKey {
  HashedKey() = default;  // the empty key, for "none"
  template <class S, class = std::enable_if_t<std::is_convertible_v<const S&, std::string_view>>>
  HashedKey(const S& k)  // NOLINT: implicit on purpose
      : key(k), hash(HashKey(key)) {}
  HashedKey(std::string_view k, size_t h) : key(k), hash(h) {}
  std::string_view key;
  size_t hash = 0;
};

enum class SetMode : uint8_t { kAlways, kIfAbsent, kIfPresent };
enum class SetResult : uint8_t { kStored, kConditionFailed, kNoMemory };

struct ShardStats {
  uint64_t keys = 0;       // live keys (expired ones excluded)
  uint64_t bytes_used = 0;
  uint64_t expired = 0;    // total reclaimed by expiry (background or on sight)
  uint64_t evicted = 0;    // total evicted for memory
  uint64_t arena_in_use = 0;    // of bytes_used, the arena blocks holding entries
  uint64_t arena_reserved = 0;  // chunks the arena holds (in use, free-listed or not yet carved)
};

class Shard {
 public:
  Shard(uint64_t memory_limit, uint64_t now_ms);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Calls on_value(std::string_view) with the live value and returns true, or returns false on a
  // miss. The view is valid only during the call.
  template <class F>
  bool Get(HashedKey key, uint64_t now_ms, F&& on_value) {
    uint32_t id = FindLive(key, now_ms);
    if (id == Arena::kNil) return false;
    on_value(ValueOf(arena_, id));
    return true;
  }

  // Start loading what a lookup of key will read, to overlap it with other work: the table's
  // control bytes and slots (Prefetch), or, once those are cached, the entry of every id the
  // table holds under the key's hash (PrefetchEntry). The latter probes the table without
  // comparing keys, since a comparison would read the very entry being prefetched.
  void Prefetch(HashedKey key) const { table_.prefetch(key); }
  void PrefetchEntry(HashedKey key) const { table_.find(EntryProbe{key.hash}); }

  // Stores value under key, expiring ttl_ms from now (1 <= ttl_ms <= kMaxTtlMs), subject to mode.
  // key.size() <= kMaxKeyLen and value.size() <= kMaxValueLen are the caller's to check.
  SetResult Set(HashedKey key, std::string_view value, uint64_t ttl_ms, SetMode mode,
                uint64_t now_ms);
  // Removes key; returns whether a live entry was there.
  bool Delete(HashedKey key, uint64_t now_ms);
  // Reclaims expired entries, visiting at most `budget`; true when caught up.
  bool Expire(uint64_t now_ms, size_t budget);

  uint64_t LiveCount(uint64_t now_ms) const { return table_.size() - wheel_.DueCount(now_ms); }
  uint64_t BytesUsed() const;
  ShardStats Stats(uint64_t now_ms) const;
  // Entries linked in the expiry wheel: always the table's size (the invariant above), expired or
  // not. For tests.
  size_t WheelSize() const { return wheel_.size(); }
  // The wheel's own check, plus: the table and the wheel hold the same entries, and the memory
  // accounting matches them (no leaked or doubly freed block). "" when consistent. O(n): for tests.
  std::string CheckConsistency() const;

 private:
  // A lookup key that matches nothing: comparing it with an id prefetches that id's entry.
  struct EntryProbe {
    size_t hash;
  };
  struct KeyHash {
    using is_transparent = void;
    const Arena* arena;
    size_t operator()(const EntryProbe& p) const { return p.hash; }
    size_t operator()(std::string_view k) const { return HashKey(k); }
    size_t operator()(const HashedKey& k) const { return k.hash; }
    size_t operator()(uint32_t id) const { return (*this)(KeyOf(*arena, id)); }
  };
  struct KeyEq {
    using is_transparent = void;
    const Arena* arena;
    std::string_view K(std::string_view k) const { return k; }
    std::string_view K(const HashedKey& k) const { return k.key; }
    std::string_view K(uint32_t id) const { return KeyOf(*arena, id); }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const { return K(a) == K(b); }
    bool operator()(uint32_t id, const EntryProbe&) const { return Touch(id); }
    bool operator()(const EntryProbe&, uint32_t id) const { return Touch(id); }
    bool Touch(uint32_t id) const {
      __builtin_prefetch(arena->Ptr(id));
      return false;
    }
  };
  using Table = absl::flat_hash_set<uint32_t, KeyHash, KeyEq>;

  uint32_t FindLive(HashedKey key, uint64_t now_ms);
  // Writes a new entry and links it in the wheel; kNil when out of memory.
  uint32_t NewEntry(std::string_view key, std::string_view value, uint64_t deadline_ms);
  void FreeEntry(uint32_t id);          // arena and out-of-line value; not the table or wheel
  void EraseLinked(uint32_t id);        // table, wheel and memory
  bool MakeRoom(size_t bytes);

  uint64_t limit_;
  Arena arena_;
  Table table_;
  ExpiryWheel wheel_;
  uint64_t external_bytes_ = 0;
  uint64_t expired_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace kvd::store
