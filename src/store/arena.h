// Arena: a shard's entry memory, as logs of fixed-size segments.
//
// Why: a cache must never hold more memory than it was given, whatever the mix of value sizes.
// Size-classed slabs do not manage that (memory one class freed never served another, so RSS grew
// to several times the budget when value sizes shifted). Here every entry of any size is appended
// to the head segment of a queue, and memory goes back only a whole segment at a time, when its
// queue's eviction drains it or its last live entry goes: any segment serves any size, and what
// the arena holds is exactly the segments it has handed out.
//
// Contract:
//  - One region of address space is reserved at construction for max_segments segments of
//    kSegmentBytes; nothing is touched (or resident) until a segment is first used.
//  - An id names a 4-byte unit of the region: segment = id >> kSegmentBits. Ptr(id) is stable for
//    the entry's life. Ids have the top bit clear (kMaxId), so callers may use it as a tag.
//  - Each queue is a FIFO of segments, oldest (Tail) to newest (its head, which Append fills).
//    Sealing a queue's head makes the next Append start a new one.
//  - A segment's live bytes are what Append gave minus what Release took back. FreeSegment
//    unlinks a segment from its queue and keeps its pages as a spare for the next head (spares
//    count as held); ReleaseSpare gives a spare's pages back to the system.
// Thread safety: none; the owning shard's lock covers it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace kvd::store {

class Arena {
 public:
  static constexpr uint32_t kNil = 0xffffffffu;
  static constexpr size_t kUnit = 4;
  static constexpr unsigned kSegmentBits = 16;  // units per segment: 2^16, 256 KiB
  static constexpr size_t kSegmentUnits = size_t(1) << kSegmentBits;
  static constexpr size_t kSegmentBytes = kUnit << kSegmentBits;
  static constexpr uint32_t kMaxId = 0x7fffffffu;
  static constexpr size_t kMaxSegments = (size_t(kMaxId) + 1) >> kSegmentBits;  // 8 GiB an arena
  static constexpr uint32_t kNoSegment = 0xffffffffu;

  enum Queue : uint8_t { kSmall, kMain, kQueues };

  explicit Arena(size_t max_segments);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  static constexpr size_t RoundUp(size_t bytes) { return (bytes + kUnit - 1) & ~(kUnit - 1); }
  char* Ptr(uint32_t id) const { return base_ + size_t(id) * kUnit; }
  static uint32_t SegmentOf(uint32_t id) { return id >> kSegmentBits; }
  static uint32_t FirstId(uint32_t seg) { return seg << kSegmentBits; }
  // One past the last unit appended to seg.
  uint32_t EndId(uint32_t seg) const { return FirstId(seg) + segs_[seg].fill; }

  // Appends `bytes` (a multiple of kUnit, at most kSegmentBytes) to queue q's head segment.
  // kNil when q has no head or the head has no room: the caller decides (its budget) whether to
  // OpenHead.
  uint32_t Append(Queue q, size_t bytes);
  // Gives q a new, empty head segment: a spare, else an unused one. False when all max_segments
  // are in use.
  bool OpenHead(Queue q);
  // Whether Append(q, bytes) would succeed.
  bool Fits(Queue q, size_t bytes) const {
    return head_[q] != kNoSegment && segs_[head_[q]].fill + bytes / kUnit <= kSegmentUnits;
  }
  void SealHead(Queue q) { head_[q] = kNoSegment; }
  bool IsHead(uint32_t seg) const { return head_[segs_[seg].queue] == seg; }

  // The bytes [id, id + bytes) stopped being live. Returns true when that leaves the segment
  // with no live bytes.
  bool Release(uint32_t id, size_t bytes) {
    Segment& s = segs_[SegmentOf(id)];
    s.live -= uint32_t(bytes / kUnit);
    --s.entries;
    return s.live == 0;
  }
  // Unlinks seg from its queue (sealing it if it was the head) and keeps it as a spare.
  void FreeSegment(uint32_t seg);
  // Gives one spare's pages back to the system. False when there is none.
  bool ReleaseSpare();

  uint32_t Tail(Queue q) const { return tail_[q]; }
  // The next segment toward the head, or kNoSegment.
  uint32_t Newer(uint32_t seg) const { return segs_[seg].next; }
  Queue QueueOf(uint32_t seg) const { return Queue(segs_[seg].queue); }
  size_t Segments(Queue q) const { return count_[q]; }
  size_t LiveBytes(uint32_t seg) const { return size_t(segs_[seg].live) * kUnit; }
  size_t LiveEntries(uint32_t seg) const { return segs_[seg].entries; }

  size_t in_use() const { return count_[kSmall] + count_[kMain]; }  // segments in queues
  size_t spares() const { return spare_.size(); }
  size_t max_segments() const { return max_segments_; }
  // What the arena holds from the system: segments in queues and spares.
  uint64_t bytes_held() const { return uint64_t(in_use() + spares()) * kSegmentBytes; }
  // Its own bookkeeping: the segment table and free lists, allocated whole at construction.
  uint64_t overhead_bytes() const {
    return uint64_t(max_segments_) * (sizeof(Segment) + 2 * sizeof(uint32_t));
  }

 private:
  struct Segment {
    uint32_t prev = kNoSegment;  // toward the tail (older)
    uint32_t next = kNoSegment;  // toward the head (newer)
    uint32_t fill = 0;           // units appended
    uint32_t live = 0;           // units appended and not released
    uint32_t entries = 0;        // entries appended and not released
    uint8_t queue = kQueues;     // kQueues: not in a queue
  };

  char* base_ = nullptr;
  size_t max_segments_;
  std::unique_ptr<Segment[]> segs_;
  uint32_t head_[kQueues] = {kNoSegment, kNoSegment};
  uint32_t tail_[kQueues] = {kNoSegment, kNoSegment};    // oldest
  uint32_t newest_[kQueues] = {kNoSegment, kNoSegment};  // the head, or the sealed last one
  size_t count_[kQueues] = {0, 0};
  std::vector<uint32_t> spare_;     // freed, pages still resident
  std::vector<uint32_t> released_;  // freed, pages given back
  uint32_t fresh_ = 0;              // segments [fresh_, max_segments_) never used
};

}  // namespace kvd::store
