// ExpiryWheel: a two-level ring of timers embedded in the entries they time out (h2o-style).
//
// Time is in 1 ms ticks. The near ring has 2^15 one-tick slots (32.8 s); the far ring has 2^12
// slots of one "window" of 2^14 ticks (16.4 s) each, 18.6 h in all, and deadlines beyond that
// simply go round it more than once. A deadline lives in the near ring once its window has been
// cascaded; windows are cascaded one ahead of the tick being reclaimed, so every entry in the near
// slot for tick t has deadline t when t is reclaimed: reclaiming a slot pops entries without
// looking at their deadlines, and the due-but-unreclaimed count is a sum of slot counts.
//
// Each entry's Header carries prev/next ids (doubly linked, so Remove is O(1) and a rewrite that
// moves a deadline leaves nothing behind); a list head's prev is a tagged slot reference.
//
// Work is bounded: Advance() visits at most `budget` entries and resumes where it stopped on the
// next call, so a million keys expiring in the same millisecond are reclaimed over several
// calls instead of stalling one.
//
// Thread safety: none; the owning shard's lock covers it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "store/arena.h"
#include "store/entry.h"

namespace kvd::store {

class ExpiryWheel {
 public:
  static constexpr unsigned kNearBits = 15;
  static constexpr unsigned kWindowBits = 14;
  static constexpr unsigned kFarBits = 12;

  ExpiryWheel(Arena* arena, uint64_t now_ms);

  // Links entry `id` to expire at `deadline_ms` (absolute), recording it in the entry's header.
  // A deadline already past is due at once (DueCount counts it) and waits in the next tick to
  // reclaim: the next Advance() to a later time than the last reclaimed tick takes it (one to the
  // same time has nothing left to reclaim and returns at once).
  void Insert(uint32_t id, uint64_t deadline_ms);
  void Remove(uint32_t id);
  // The linked entry at `from` was copied, header and all, to `to`: `to` takes its place.
  void Moved(uint32_t from, uint32_t to);

  // Unlinks every entry due at `now_ms` and hands it to `expire`, visiting at most `budget`
  // entries. Returns true when all due entries have been reclaimed.
  bool Advance(uint64_t now_ms, size_t budget, absl::FunctionRef<void(uint32_t)> expire);

  // Entries still linked whose deadline is <= now_ms (due but not yet reclaimed). Exact for any
  // now_ms; O(now_ms - processed) slot counts, plus a walk of the far entries when reclaiming lags
  // by a window or more, and of the overdue ones when now_ms is behind the reclaimed ticks.
  uint64_t DueCount(uint64_t now_ms) const;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // The rings' arrays, allocated whole at construction.
  static constexpr uint64_t kBytes = ((uint64_t(2) << kNearBits) + (uint64_t(1) << kFarBits)) * sizeof(uint32_t);

  // Walks every slot and checks links, slot placement, far flags and all the counts against one
  // another. Returns "" when consistent, else what is wrong. O(size + slots): for tests.
  std::string CheckConsistency() const;

 private:
  static constexpr uint32_t kSlotTag = 0x80000000u;
  static constexpr uint32_t kFarTag = 0x40000000u;
  static constexpr uint64_t kNearMask = (uint64_t(1) << kNearBits) - 1;
  static constexpr uint64_t kFarMask = (uint64_t(1) << kFarBits) - 1;

  Header* H(uint32_t id) const { return HeaderOf(*arena_, id); }
  uint64_t FullDeadline(const Header* h) const {
    return processed_ + int64_t(int32_t(h->deadline - uint32_t(processed_)));
  }
  // The near tick an entry is filed under (past deadlines wait in the next tick to reclaim).
  uint64_t NearTick(const Header* h) const { return std::max(FullDeadline(h), processed_ + 1); }
  static size_t WindowParity(uint64_t tick) { return (tick >> kWindowBits) & 1; }
  void Place(uint32_t id, uint64_t deadline_ms);
  void PlaceNear(uint32_t id, uint64_t deadline_ms);
  void PushFront(uint32_t slot_ref, uint32_t id);
  uint32_t& HeadOf(uint32_t slot_ref) const {
    return (slot_ref & kFarTag) ? far_[slot_ref & ~(kSlotTag | kFarTag)]
                                : near_[slot_ref & ~kSlotTag];
  }

  Arena* arena_;
  uint64_t processed_;      // every tick <= processed_ has been reclaimed
  uint64_t cascaded_;       // windows <= cascaded_ have their entries in the near ring
  bool cascading_ = false;  // moving window cascaded_ + 1 from far to near, from cascade_next_
  uint32_t cascade_next_ = Arena::kNil;
  size_t size_ = 0;
  // Near entries whose deadline is <= processed_ (inserted already past); all in slot
  // processed_ + 1. DueCount needs them when asked about a time already reclaimed.
  size_t overdue_ = 0;
  // Near entries per window: the near ring spans at most two windows (the one holding
  // processed_ + 1 and the next), told apart by parity. Advance skips a window with none.
  size_t near_window_count_[2] = {0, 0};
  std::unique_ptr<uint32_t[]> near_, near_count_, far_;
};

}  // namespace kvd::store
