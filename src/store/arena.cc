#include "store/arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>

namespace kvd::store {

Arena::Arena(size_t max_segments)
    : max_segments_(std::min(max_segments, kMaxSegments)), segs_(new Segment[max_segments_]) {
  spare_.reserve(max_segments_);
  released_.reserve(max_segments_);
  if (max_segments_ == 0) return;
  // Address space only: MAP_NORESERVE, and pages become resident as segments are first written.
  void* p = mmap(nullptr, max_segments_ * kSegmentBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    max_segments_ = 0;
    return;
  }
  base_ = static_cast<char*>(p);
  // Huge pages would make a segment's first write fault in 2 MiB, several segments at once, and
  // what the arena holds would no longer be what it has handed out.
  madvise(base_, max_segments_ * kSegmentBytes, MADV_NOHUGEPAGE);
}

Arena::~Arena() {
  if (base_ != nullptr) munmap(base_, max_segments_ * kSegmentBytes);
}

uint32_t Arena::Append(Queue q, size_t bytes) {
  uint32_t seg = head_[q];
  if (seg == kNoSegment) return kNil;
  Segment& s = segs_[seg];
  size_t units = bytes / kUnit;
  if (s.fill + units > kSegmentUnits) return kNil;
  uint32_t id = FirstId(seg) + s.fill;
  s.fill += uint32_t(units);
  s.live += uint32_t(units);
  ++s.entries;
  return id;
}

bool Arena::OpenHead(Queue q) {
  uint32_t seg;
  if (!spare_.empty()) {
    seg = spare_.back();
    spare_.pop_back();
  } else if (!released_.empty()) {
    seg = released_.back();
    released_.pop_back();
  } else if (fresh_ < max_segments_) {
    seg = fresh_++;
  } else {
    return false;
  }
  Segment& s = segs_[seg];
  s = Segment{};
  s.queue = q;
  // After the newest segment of the queue, which is not the head when the head was sealed.
  s.prev = newest_[q];
  if (newest_[q] != kNoSegment) {
    segs_[newest_[q]].next = seg;
  } else {
    tail_[q] = seg;
  }
  newest_[q] = seg;
  head_[q] = seg;
  ++count_[q];
  return true;
}

void Arena::FreeSegment(uint32_t seg) {
  Segment& s = segs_[seg];
  assert(s.queue < kQueues);
  Queue q = Queue(s.queue);
  if (head_[q] == seg) head_[q] = kNoSegment;
  if (s.prev != kNoSegment) {
    segs_[s.prev].next = s.next;
  } else {
    tail_[q] = s.next;
  }
  if (s.next != kNoSegment) {
    segs_[s.next].prev = s.prev;
  } else {
    newest_[q] = s.prev;
  }
  --count_[q];
  s = Segment{};
  spare_.push_back(seg);
}

bool Arena::ReleaseSpare() {
  if (spare_.empty()) return false;
  uint32_t seg = spare_.back();
  spare_.pop_back();
  madvise(Ptr(FirstId(seg)), kSegmentBytes, MADV_DONTNEED);
  released_.push_back(seg);
  return true;
}

}  // namespace kvd::store
