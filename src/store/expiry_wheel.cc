#include "store/expiry_wheel.h"

#include <algorithm>
#include <string>

namespace kvd::store {

ExpiryWheel::ExpiryWheel(Arena* arena, uint64_t now_ms)
    : arena_(arena),
      processed_(now_ms),
      cascaded_((now_ms >> kWindowBits) + 1),
      near_(new uint32_t[size_t(1) << kNearBits]),
      near_count_(new uint32_t[size_t(1) << kNearBits]()),
      far_(new uint32_t[size_t(1) << kFarBits]) {
  std::fill_n(near_.get(), size_t(1) << kNearBits, Arena::kNil);
  std::fill_n(far_.get(), size_t(1) << kFarBits, Arena::kNil);
}

void ExpiryWheel::PushFront(uint32_t slot_ref, uint32_t id) {
  uint32_t& head = HeadOf(slot_ref);
  Header* h = H(id);
  h->prev = slot_ref;
  h->next = head;
  if (head != Arena::kNil) H(head)->prev = id;
  head = id;
}

void ExpiryWheel::PlaceNear(uint32_t id, uint64_t deadline_ms) {
  // A deadline already past (clock skew between reactors) is filed under the next tick to reclaim.
  uint64_t tick = std::max(deadline_ms, processed_ + 1);
  H(id)->set_far(false);
  PushFront(kSlotTag | uint32_t(tick & kNearMask), id);
  ++near_count_[tick & kNearMask];
  ++near_window_count_[WindowParity(tick)];
  if (deadline_ms <= processed_) ++overdue_;
}

void ExpiryWheel::Place(uint32_t id, uint64_t deadline_ms) {
  // The window being cascaded already counts as near, or an entry filed into it behind the
  // cascade cursor would miss the move.
  if ((deadline_ms >> kWindowBits) <= cascaded_ + (cascading_ ? 1 : 0)) {
    PlaceNear(id, deadline_ms);
  } else {
    H(id)->set_far(true);
    PushFront(kSlotTag | kFarTag | uint32_t((deadline_ms >> kWindowBits) & kFarMask), id);
  }
}

void ExpiryWheel::Insert(uint32_t id, uint64_t deadline_ms) {
  H(id)->deadline = uint32_t(deadline_ms);
  Place(id, deadline_ms);
  ++size_;
}

void ExpiryWheel::Remove(uint32_t id) {
  Header* h = H(id);
  if (id == cascade_next_) cascade_next_ = h->next;
  if (h->prev & kSlotTag) {
    HeadOf(h->prev) = h->next;
  } else {
    H(h->prev)->next = h->next;
  }
  if (h->next != Arena::kNil) H(h->next)->prev = h->prev;
  if (!h->far()) {
    uint64_t tick = NearTick(h);
    --near_count_[tick & kNearMask];
    --near_window_count_[WindowParity(tick)];
    if (FullDeadline(h) <= processed_) --overdue_;
  }
  --size_;
}

void ExpiryWheel::Moved(uint32_t from, uint32_t to) {
  Header* h = H(to);
  if (from == cascade_next_) cascade_next_ = to;
  if (h->prev & kSlotTag) {
    HeadOf(h->prev) = to;
  } else {
    H(h->prev)->next = to;
  }
  if (h->next != Arena::kNil) H(h->next)->prev = to;
}

bool ExpiryWheel::Advance(uint64_t now_ms, size_t budget, absl::FunctionRef<void(uint32_t)> expire) {
  for (;;) {
    if (cascading_) {
      // Move this window's entries to the near ring; entries a full far revolution (or more)
      // away share the slot and stay.
      uint64_t window = cascaded_ + 1;
      while (cascade_next_ != Arena::kNil) {
        if (budget == 0) return false;
        --budget;
        uint32_t id = cascade_next_;
        Header* h = H(id);
        cascade_next_ = h->next;
        uint64_t d = FullDeadline(h);
        if ((d >> kWindowBits) != window) continue;
        Remove(id);
        PlaceNear(id, d);
        ++size_;
      }
      cascaded_ = window;
      cascading_ = false;
      continue;
    }
    if (processed_ >= now_ms) return true;
    uint64_t tick = processed_ + 1;
    if ((tick >> kWindowBits) + 1 > cascaded_) {
      cascading_ = true;
      cascade_next_ = far_[(cascaded_ + 1) & kFarMask];
      continue;
    }
    if (near_window_count_[WindowParity(tick)] == 0) {
      // Nothing near is left in this window: skip the rest of its ticks in one step. Without
      // this, a call after a long gap walked every empty millisecond under the shard lock (a day
      // idle: 86 million slot visits, ~0.2 s), whatever the budget.
      processed_ = std::min(now_ms, (((tick >> kWindowBits) + 1) << kWindowBits) - 1);
      continue;
    }
    uint32_t& head = near_[tick & kNearMask];
    while (head != Arena::kNil) {
      if (budget == 0) return false;
      --budget;
      uint32_t id = head;
      Remove(id);
      expire(id);
    }
    processed_ = tick;
  }
}

uint64_t ExpiryWheel::DueCount(uint64_t now_ms) const {
  uint64_t due = 0;
  if (now_ms <= processed_) {
    // Every tick up to processed_ is reclaimed, but an entry inserted with a deadline already
    // past waits in slot processed_ + 1 and is due now (summing slots from processed_ + 1 missed
    // it, so such entries were counted live).
    if (overdue_ == 0 || now_ms == processed_) return overdue_;
    for (uint32_t id = near_[(processed_ + 1) & kNearMask]; id != Arena::kNil; id = H(id)->next) {
      due += MsUntilDeadline(H(id), now_ms) <= 0;
    }
    return due;
  }
  uint64_t last = std::min(now_ms, processed_ + (uint64_t(1) << kNearBits));
  for (uint64_t t = processed_ + 1; t <= last; ++t) due += near_count_[t & kNearMask];
  // When reclaiming lags by a window or more, far entries (windows > cascaded_, or the unmoved
  // rest of window cascaded_ + 1 mid-cascade) can be due too; summing near slots alone missed
  // them, so LiveCount overcounted by every key expired more than ~16 s ago but not yet
  // reclaimed. Walk the far slots that can hold them (each at most once), comparing with now_ms
  // rather than processed_: an entry set with a near-maximal TTL while reclaiming lags is more
  // than 2^31 ms past processed_.
  uint64_t last_window = std::min(now_ms >> kWindowBits, cascaded_ + (uint64_t(1) << kFarBits));
  for (uint64_t w = cascaded_ + 1; w <= last_window; ++w) {
    for (uint32_t id = far_[w & kFarMask]; id != Arena::kNil; id = H(id)->next) {
      due += MsUntilDeadline(H(id), now_ms) <= 0;
    }
  }
  return due;
}

std::string ExpiryWheel::CheckConsistency() const {
  auto at = [](const char* what, uint64_t slot, uint32_t id) {
    return std::string(what) + " (slot " + std::to_string(slot) + ", id " + std::to_string(id) + ")";
  };
  // Walks one slot's list: links back and forth, at most size_ entries.
  auto walk = [&](uint32_t slot_ref, uint32_t head, auto&& each) -> std::string {
    uint32_t prev = slot_ref;
    size_t n = 0;
    for (uint32_t id = head; id != Arena::kNil; prev = id, id = H(id)->next) {
      if (++n > size_) return at("list longer than size()", slot_ref & ~(kSlotTag | kFarTag), id);
      if (H(id)->prev != prev) return at("bad prev link", slot_ref & ~(kSlotTag | kFarTag), id);
      if (std::string e = each(id); !e.empty()) return e;
    }
    return "";
  };
  const uint64_t near_end = (cascaded_ + (cascading_ ? 2 : 1)) << kWindowBits;
  size_t total = 0, overdue = 0, by_window[2] = {0, 0};
  for (uint64_t i = 0; i <= kNearMask; ++i) {
    size_t count = 0;
    std::string e = walk(kSlotTag | uint32_t(i), near_[i], [&](uint32_t id) -> std::string {
      const Header* h = H(id);
      uint64_t tick = NearTick(h);
      if (h->far()) return at("far flag in the near ring", i, id);
      if ((tick & kNearMask) != i) return at("in the wrong near slot", i, id);
      if (tick > near_end - 1) return at("near entry beyond the near windows", i, id);
      ++count;
      ++by_window[WindowParity(tick)];
      overdue += FullDeadline(h) <= processed_;
      return "";
    });
    if (!e.empty()) return e;
    if (count != near_count_[i]) return at("near_count_ differs from the list", i, Arena::kNil);
    total += count;
  }
  if (by_window[0] != near_window_count_[0] || by_window[1] != near_window_count_[1]) {
    return "near_window_count_ differs from the lists";
  }
  if (overdue != overdue_) return "overdue_ differs from the lists";
  for (uint64_t i = 0; i <= kFarMask; ++i) {
    std::string e = walk(kSlotTag | kFarTag | uint32_t(i), far_[i], [&](uint32_t id) -> std::string {
      const Header* h = H(id);
      uint64_t window = FullDeadline(h) >> kWindowBits;
      if (!h->far()) return at("near entry in the far ring", i, id);
      if ((window & kFarMask) != i) return at("in the wrong far slot", i, id);
      if (window <= cascaded_) return at("far entry in a cascaded window", i, id);
      ++total;
      return "";
    });
    if (!e.empty()) return e;
  }
  if (total != size_) return "size() differs from the lists";
  if (cascading_ && cascade_next_ != Arena::kNil &&
      (!H(cascade_next_)->far() ||
       ((FullDeadline(H(cascade_next_)) >> kWindowBits) & kFarMask) != ((cascaded_ + 1) & kFarMask))) {
    return "cascade cursor off the slot being cascaded";
  }
  return "";
}

}  // namespace kvd::store
