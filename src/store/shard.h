// Shard: one slice of the keyspace — a hash table of entry ids, the arena holding the entries as
// segment logs, the expiry wheel timing them out — within a memory budget that covers everything
// it holds from the system, kept by S3-FIFO eviction.
//
// Memory: BytesHeld() = the arena's segments (in queues and spare) + out-of-line values (page
// rounded) + the table's arrays + fixed bookkeeping (wheel, segment table, ghost). It never
// exceeds the limit: room is made before anything is allocated, and one segment of it is kept
// free for the copies eviction makes.
//
// Eviction (S3-FIFO, Yang et al., SOSP'23, at segment granularity; docs/design.md has the
// replays that chose it): a new key is appended to the small queue, unless the ghost remembers
// it, then to the main queue. Reads raise an entry's 2-bit frequency. Room comes from the tail
// segment of the small queue while it holds more than a tenth of the segments, else of the main
// queue: its live entries are walked in order; in the small queue those read since they arrived
// are copied to the main queue and the rest are evicted into the ghost; in the main queue those
// with a frequency left are copied to its head with one less, the rest evicted. Expired entries
// are always reclaimed first, never kept or counted as evicted. A segment whose last entry goes
// is freed at once.
//
// Invariants: every entry in the table is linked in the wheel exactly once and is live in the
// arena; an entry whose deadline has passed is never returned by Get (it is reclaimed on sight),
// and is not counted by LiveCount even before the wheel reclaims it.
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
#include "store/ghost.h"
#include "store/key.h"
#include "store/page_allocator.h"

namespace kvd::store {

enum class SetMode : uint8_t { kAlways, kIfAbsent, kIfPresent };
enum class SetResult : uint8_t {
  kStored,
  kConditionFailed,     // SetMode: present for kIfAbsent, absent for kIfPresent
  kPreconditionFailed,  // the Precondition said no
  kNoMemory,            // the value cannot fit in the limit at all
  kNotInteger,          // Incr: the value is not a decimal integer
  kOverflow,            // Incr: the sum leaves the signed 64-bit range
};
enum class DeleteResult : uint8_t { kDeleted, kAbsent, kPreconditionFailed };

// A write's condition beyond SetMode, evaluated under the shard's lock before anything changes:
// called with whether the key is live and, if it is, its value's version.
using Precondition = absl::FunctionRef<bool(bool exists, uint32_t version)>;

struct WriteOptions {
  uint64_t ttl_ms = 0;  // 1..kMaxTtlMs; unused when keep_ttl keeps a live key's deadline
  SetMode mode = SetMode::kAlways;
  bool keep_ttl = false;                       // a live key keeps its deadline
  const Precondition* precondition = nullptr;  // checked after mode
  // Called with the live value a write is about to replace, once the write's conditions hold
  // (Redis's SET ... GET); the view is valid during the call only.
  const absl::FunctionRef<void(std::string_view)>* on_old = nullptr;
};

struct WriteResult {
  SetResult status;
  uint32_t version = 0;  // when stored: the new value's
  bool created = false;  // when stored: there was no live value before
};



struct ShardStats {
  uint64_t keys = 0;           // live keys (expired ones excluded)
  uint64_t bytes_held = 0;     // what the limit is checked against (see Shard)
  uint64_t bytes_used = 0;     // of that, live entries, out-of-line values, table, bookkeeping
  uint64_t bytes_limit = 0;
  uint64_t segments_small = 0, segments_main = 0, segments_spare = 0;
  uint64_t table_bytes = 0;
  uint64_t out_of_line_bytes = 0;
  uint64_t expired = 0;        // reclaimed by expiry (background or on sight)
  uint64_t evicted_small = 0;  // evicted from the small queue: not read since they arrived
  uint64_t evicted_main = 0;   // evicted from the main queue: frequency spent
  uint64_t promoted = 0;       // copied from the small queue to the main one
  uint64_t reinserted = 0;     // copied to the main queue's head again
  uint64_t ghost_hits = 0;     // new keys that went straight to the main queue
  uint64_t rejected = 0;       // writes refused: the value cannot fit in the limit
  uint64_t bytes_copied = 0;   // by promotions and reinsertions
};

class Shard {
 public:
  Shard(uint64_t memory_limit, uint64_t now_ms);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // The least memory_limit a shard can work in: its fixed bookkeeping and a few segments.
  static uint64_t MinLimit();

  // Calls on_value(std::string_view value[, uint32_t version]) with the live value and returns
  // true, or returns false on a miss. The view is valid only during the call. A hit counts as a
  // read for eviction.
  template <class F>
  bool Get(HashedKey key, uint64_t now_ms, F&& on_value) {
    uint32_t id = FindLive(key, now_ms);
    if (id == Arena::kNil) return false;
    Header* h = HeaderOf(arena_, id);
    h->Touch();
    if constexpr (std::is_invocable_v<F, std::string_view, uint32_t>) {
      on_value(ValueOf(h), h->version);
    } else {
      on_value(ValueOf(h));
    }
    return true;
  }

  // Start loading what a lookup of key will read, to overlap it with other work: the table's
  // control bytes and slots (Prefetch), or, once those are cached, the entry of every id the
  // table holds under the key's hash (PrefetchEntry). The latter probes the table without
  // comparing keys, since a comparison would read the very entry being prefetched.
  void Prefetch(HashedKey key) const { table_.prefetch(key); }
  void PrefetchEntry(HashedKey key) const { table_.find(EntryProbe{key.hash}); }

  // Stores value under key, expiring ttl_ms from now, subject to the options' conditions; checks
  // and write are one step under the shard's lock. key.size() <= kMaxKeyLen and value.size() <=
  // kMaxValueLen are the caller's to check. On any result but kStored nothing changed (kNoMemory:
  // the value cannot fit in the limit at all; nothing was evicted for it).
  WriteResult Write(HashedKey key, std::string_view value, const WriteOptions& opts, uint64_t now_ms);
  SetResult Set(HashedKey key, std::string_view value, uint64_t ttl_ms, SetMode mode, uint64_t now_ms) {
    WriteOptions o;
    o.ttl_ms = ttl_ms;
    o.mode = mode;
    return Write(key, value, o, now_ms).status;
  }
  // Adds delta to the integer stored under key (a missing key counts as 0; util/integer.h says
  // what an integer is) and stores the sum as Write would, setting *result; kNotInteger or
  // kOverflow change nothing.
  WriteResult Incr(HashedKey key, int64_t delta, const WriteOptions& opts, uint64_t now_ms, int64_t* result);
  // Removes key; returns whether a live entry was there.
  bool Delete(HashedKey key, uint64_t now_ms);
  DeleteResult DeleteIf(HashedKey key, const Precondition& precondition, uint64_t now_ms);
  // A live key's deadline: moved to ttl_ms from now (false when absent), or read (ms left; -1 when
  // absent). The value and its version stay.
  bool SetTtl(HashedKey key, uint64_t ttl_ms, uint64_t now_ms);
  int64_t TtlMs(HashedKey key, uint64_t now_ms);
  // Background work, visiting at most `budget` entries: reclaims expired entries, and when the
  // budget is reached evicts ahead so that the next new segment is ready (writes then rarely
  // evict themselves). True when nothing is left to do.
  bool Housekeep(uint64_t now_ms, size_t budget);

  uint64_t LiveCount(uint64_t now_ms) const { return table_.size() - wheel_.DueCount(now_ms); }
  uint64_t BytesHeld() const {
    return arena_.bytes_held() + out_of_line_bytes_ + table_bytes_ + fixed_bytes();
  }
  uint64_t limit() const { return limit_; }
  ShardStats Stats(uint64_t now_ms) const;
  // Entries linked in the expiry wheel: always the table's size (the invariant above). For tests.
  size_t WheelSize() const { return wheel_.size(); }
  // The wheel's own check, plus: the table, the wheel and the arena's segments hold the same
  // entries, and every byte count matches them. "" when consistent. O(n): for tests.
  std::string CheckConsistency() const;
  // For the policy's model test: where a live key is, without counting a read.
  struct Placement {
    Arena::Queue queue;
    uint32_t freq;
  };
  bool Inspect(std::string_view key, Placement* out) const;
  // For the same: the bytes the limit leaves for segments and the ghost (fixed bookkeeping but the
  // ghost, table and out-of-line values taken off).
  uint64_t RoomForSegmentsAndGhost() const {
    return limit_ - (out_of_line_bytes_ + table_bytes_ + fixed_bytes() - ghost_.bytes());
  }
  uint64_t GhostBytes() const { return ghost_.bytes(); }
  // For the same: grows the table now for n keys, so that it stays that size.
  void ReserveKeysForTest(size_t n) { table_.reserve(n * 32 / 25 + 2); }

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
  using Table = absl::flat_hash_set<uint32_t, KeyHash, KeyEq, PageAllocator<uint32_t>>;

  uint64_t fixed_bytes() const { return arena_.overhead_bytes() + ExpiryWheel::kBytes + ghost_.bytes(); }
  uint32_t FindLive(HashedKey key, uint64_t now_ms);
  // Points the table's element for key from old_id to new_id (the same key, moved).
  void Repoint(std::string_view key, uint32_t old_id, uint32_t new_id);
  // Frees what an entry holds besides the table and wheel: its value's mapping, its arena bytes,
  // and its segment if that was the last live entry there. Marks it dead.
  void FreeEntry(uint32_t id);
  void EraseLinked(uint32_t id);  // table, wheel and memory
  void Reclaim(uint32_t id);      // an expired entry: EraseLinked, counted
  // Appends a copy of the entry at id (live, linked) to the main queue and points the table and
  // wheel at it; false when no segment can be had for it.
  bool CopyToMain(uint32_t id, uint32_t freq);
  SetResult Refuse();
  // The mode's and the precondition's verdict on a write, given the live entry (or kNil).
  SetResult Check(uint32_t old, const WriteOptions& opts) const;
  // The write itself, once Check passed: `old` is the live entry (or kNil) Check was given.
  WriteResult Store(HashedKey key, std::string_view value, const WriteOptions& opts, uint32_t old,
                    uint64_t now_ms);
  // Entries moved or removed by eviction and expiry so far: a change means ids may have changed.
  uint64_t Relocations() const;

  // Segments the limit allows besides `extra` bytes of other memory.
  size_t SegmentsAllowed(uint64_t extra) const;
  // Makes room to open one more segment, or for `bytes` of other memory, keeping one segment free
  // for eviction's copies; false when even evicting everything would not do.
  bool RoomForSegment(uint64_t now_ms);
  bool RoomForBytes(uint64_t bytes, uint64_t now_ms);
  // One step toward room: reclaims due entries, else evicts until a segment is freed. False when
  // there is nothing left to reclaim or evict.
  bool FreeSomething(uint64_t now_ms);
  // Walks the victim segment (there must be one) for at most *budget entries, taking them off it;
  // returns true when it freed the segment. `force` evicts whatever it meets.
  bool EvictStep(size_t* budget, bool force, uint64_t now_ms);
  bool ChooseVictim();
  // Grows the table ahead of absl's own rule, so that it never grows behind the budget's back.
  bool MaybeGrowTable(uint64_t now_ms);
  // Keeps the ghost about as large as the main queue's key count, within the limit.
  bool SizeGhost(uint64_t now_ms);

  uint64_t limit_;
  uint64_t table_bytes_ = 0;  // counted by the table's allocator
  uint64_t out_of_line_bytes_ = 0;
  Arena arena_;
  Table table_;
  ExpiryWheel wheel_;
  Ghost ghost_;
  uint32_t victim_ = Arena::kNoSegment;  // the segment eviction is walking
  uint32_t cursor_ = 0;                  // its next entry
  uint64_t live_bytes_ = 0;              // entries' bytes in segments
  uint32_t versions_ = 0;                // the last version given
  ShardStats counts_;                    // the counters among its fields
};

}  // namespace kvd::store
