// Store: the one keyspace, split into shards by key hash, each behind its own lock.
//
// Any reactor may touch any shard: a request takes its shard's lock for the length of one
// hash-table operation plus a copy of the value (docs/design.md has the measurements behind a
// short lock over handing requests to an owner thread). A store built with shared = false (kvd
// with one reactor) is used by that one thread only and takes no locks at all. Background work
// (expiry, evicting ahead) is driven by the reactors: reactor r calls Housekeep() for the shards
// i with i % reactors == r.
//
// Thread safety: with shared = true every public method is safe to call from any thread; with
// shared = false all calls must come from one thread.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "store/shard.h"
#include "util/spinlock.h"

namespace kvd::store {

class Store {
 public:
  // memory_limit is split evenly between the shards; each share must be at least
  // Shard::MinLimit().
  Store(size_t shards, uint64_t memory_limit, uint64_t now_ms, bool shared = true);

  // Keys convert from any string (hashing it) or come hashed already (HashedKey).
  template <class F>
  bool Get(HashedKey key, uint64_t now_ms, F&& on_value) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.Get(key, now_ms, on_value);
  }
  SetResult Set(HashedKey key, std::string_view value, uint64_t ttl_ms, SetMode mode,
                uint64_t now_ms) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.Set(key, value, ttl_ms, mode, now_ms);
  }
  // The options' conditions (mode, precondition) and the write are one step under the lock: of
  // concurrent writes conditioned on the same version, one succeeds.
  WriteResult Write(HashedKey key, std::string_view value, const WriteOptions& opts, uint64_t now_ms) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.Write(key, value, opts, now_ms);
  }
  WriteResult Incr(HashedKey key, int64_t delta, const WriteOptions& opts, uint64_t now_ms,
                   int64_t* result) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.Incr(key, delta, opts, now_ms, result);
  }
  bool Delete(HashedKey key, uint64_t now_ms) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.Delete(key, now_ms);
  }
  DeleteResult DeleteIf(HashedKey key, const Precondition& precondition, uint64_t now_ms) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.DeleteIf(key, precondition, now_ms);
  }
  bool SetTtl(HashedKey key, uint64_t ttl_ms, uint64_t now_ms) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.SetTtl(key, ttl_ms, now_ms);
  }
  int64_t TtlMs(HashedKey key, uint64_t now_ms) {
    Slot& s = SlotFor(key);
    Guard lock(s, shared_);
    return s.shard.TtlMs(key, now_ms);
  }

  // One command's operations on several keys, or several operations on one, as a single step
  // (Redis's MGET, MSET, DEL, EXISTS; EXPIRE GT/LT's read and set):
  // every shard the keys fall in is locked, in shard order so that two steps cannot deadlock,
  // for the step's life. Another thread's operation on those keys, or another step, sees all of
  // the step's writes or none. Only the keys it was built with may be used through it. On an
  // unshared store it takes no locks (one thread runs everything anyway).
  //
  // Holds up to a shard count of locks at once: for a command's own keys, not for scans.
  class MultiKeyStep {
   public:
    // key_at(i) for i in [0, n): the keys, hashed; a key may appear more than once.
    template <class KeyAt>
    MultiKeyStep(Store& store, size_t n, KeyAt&& key_at) : store_(store) {
      if (!store.shared_) return;
      if (n > kInline) {
        more_.resize(n);
        shards_ = more_.data();
      }
      for (size_t i = 0; i < n; ++i) shards_[i] = uint32_t(store.ShardOf(key_at(i)));
      std::sort(shards_, shards_ + n);
      n_ = size_t(std::unique(shards_, shards_ + n) - shards_);
      for (size_t i = 0; i < n_; ++i) store.LockSlot(*store.slots_[shards_[i]]);
    }
    ~MultiKeyStep() {
      for (size_t i = 0; i < n_; ++i) store_.slots_[shards_[i]]->mu.unlock();
    }
    MultiKeyStep(const MultiKeyStep&) = delete;
    MultiKeyStep& operator=(const MultiKeyStep&) = delete;

    template <class F>
    bool Get(HashedKey key, uint64_t now_ms, F&& on_value) {
      return Locked(key).Get(key, now_ms, on_value);
    }
    WriteResult Write(HashedKey key, std::string_view value, const WriteOptions& opts, uint64_t now_ms) {
      return Locked(key).Write(key, value, opts, now_ms);
    }
    bool Delete(HashedKey key, uint64_t now_ms) { return Locked(key).Delete(key, now_ms); }
    int64_t TtlMs(HashedKey key, uint64_t now_ms) { return Locked(key).TtlMs(key, now_ms); }
    bool SetTtl(HashedKey key, uint64_t ttl_ms, uint64_t now_ms) { return Locked(key).SetTtl(key, ttl_ms, now_ms); }

   private:
    Shard& Locked(const HashedKey& key) {
      const size_t i = store_.ShardOf(key);
      assert(!store_.shared_ || std::binary_search(shards_, shards_ + n_, uint32_t(i)));
      return store_.slots_[i]->shard;
    }
    static constexpr size_t kInline = 16;  // a command's keys up to this many allocate nothing
    Store& store_;
    uint32_t inline_[kInline];
    std::vector<uint32_t> more_;
    uint32_t* shards_ = inline_;  // [0, n_): locked, ascending
    size_t n_ = 0;
  };

  // Start loading the memory a batch's lookups will read, so that it overlaps other work: call
  // Prefetch(key) as each key becomes known (while the next request is parsed) and
  // PrefetchBatch once the batch is complete, before its first operation. Unshared, Prefetch
  // loads the key's table slots at once and PrefetchBatch, by when they have arrived, the entries
  // they name (see Shard). Shared, a prefetch takes the shard lock like any lookup (a table that
  // grows moves its arrays), and between threads each acquisition moves the lock's cache line:
  // Prefetch does nothing and PrefetchBatch loads slots and entries taking each shard's lock once
  // for all of that shard's keys. keys[i] may be empty (nothing to load).
  void Prefetch(HashedKey key) {
    if (!shared_) slots_[ShardOf(key)]->shard.Prefetch(key);
  }
  void PrefetchBatch(const HashedKey* keys, size_t n);

  // Shard i's background work (expiry, evicting ahead), visiting at most `budget` entries; true
  // when caught up.
  bool Housekeep(size_t shard, uint64_t now_ms, size_t budget);
  // The background work of shards first, first + stride, ...: what one of `stride` threads calls
  // every kHousekeepPeriodMs, and again at once while it returns false (work left), so that the
  // thread serves its other work between slices.
  bool HousekeepEvery(size_t first, size_t stride, uint64_t now_ms) {
    bool caught_up = true;
    for (size_t s = first; s < shards(); s += stride) caught_up &= Housekeep(s, now_ms, kHousekeepBudget);
    return caught_up;
  }
  static constexpr uint64_t kHousekeepPeriodMs = 10;
  // Entries visited per shard per slice. Reclaiming measured 140-290 ns a key
  // (scripts/bench/expiry_spike.sh), so a slice holds its thread for well under a millisecond.
  static constexpr size_t kHousekeepBudget = 2000;
  // Exact count of live keys.
  uint64_t Size(uint64_t now_ms) const;
  ShardStats Stats(uint64_t now_ms) const;  // summed over shards
  size_t shards() const { return slots_.size(); }
  uint64_t memory_limit() const { return memory_limit_; }

  // Contention on the shard locks, summed over shards: acquisitions that found the lock held, and
  // the time they waited. Counted only when contended, so an uncontended lock costs nothing more.
  struct LockStats {
    uint64_t waits = 0;
    uint64_t wait_ns = 0;
  };
  LockStats Locks() const;

 private:
  struct alignas(64) Slot {
    Slot(uint64_t limit, uint64_t now_ms) : shard(limit, now_ms) {}
    mutable SpinLock mu;
    mutable std::atomic<uint64_t> waits{0}, wait_ns{0};  // see LockStats
    Shard shard;
  };
  // The shard's lock, held for the guard's life when the store is shared.
  class Guard {
   public:
    Guard(const Slot& s, bool shared) : mu_(shared ? &s.mu : nullptr) {
      if (mu_ != nullptr) LockSlot(s);
    }
    ~Guard() {
      if (mu_ != nullptr) mu_->unlock();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    SpinLock* mu_;
  };
  // Takes s's lock, counting a wait when it was held.
  static void LockSlot(const Slot& s) {
    if (!s.mu.try_lock()) Wait(s);
  }
  static void Wait(const Slot& s);  // out of line: the contended path
  size_t ShardOf(const HashedKey& key) const {
    // The table probes with the same hash; take the shard from the high bits, which its probing
    // uses least.
    return (key.hash >> 40) % slots_.size();
  }
  Slot& SlotFor(const HashedKey& key) { return *slots_[ShardOf(key)]; }
  static constexpr size_t kPrefetchGroup = 64;
  void PrefetchGrouped(const HashedKey* keys, size_t n);  // shared; n <= kPrefetchGroup

  uint64_t memory_limit_;
  bool shared_;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace kvd::store
