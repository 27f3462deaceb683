#include "store/shard.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "fmt/format.h"
#include "util/integer.h"

namespace kvd::store {
namespace {

// The small queue's share of the segments (S3-FIFO's 10%).
constexpr size_t kSmallPercent = 10;
// A small-queue entry read at least this often since it arrived moves to the main queue.
constexpr uint32_t kPromoteFreq = 1;
// While making room for one write, copies beyond this many bytes stop: what the walk meets next
// is evicted whatever its frequency. Without a bound a main queue read all over would be copied
// round nearly three times (its frequencies counting down) before a byte came free.
constexpr uint64_t kMaxCopyBytes = 2 * Arena::kSegmentBytes;
// Housekeeping evicts ahead only in a budget of at least this many segments.
constexpr size_t kMinSegmentsToEvictAhead = 8;
// Spare segments kept resident for the next heads; more are given back to the system.
constexpr size_t kKeptSpares = 2;
// The table starts past absl's small-table sizes, whose growth rule MaybeGrowTable does not model.
constexpr size_t kFirstCapacity = 31;

// absl's allocation for a table of `capacity` 4-byte slots: control bytes (capacity + 1, plus a
// group's width - 1 cloned), padded to the slot alignment, then the slots.
uint64_t TableAllocBytes(size_t capacity) {
  return ((capacity + 16 + 3) & ~size_t(3)) + capacity * sizeof(uint32_t);
}

size_t PageRound(size_t n) { return (n + kPageBytes - 1) & ~(kPageBytes - 1); }

}  // namespace

Shard::Shard(uint64_t memory_limit, uint64_t now_ms)
    : limit_(memory_limit),
      arena_(size_t(memory_limit / Arena::kSegmentBytes)),
      table_(0, KeyHash{&arena_}, KeyEq{&arena_}, PageAllocator<uint32_t>(&table_bytes_)),
      wheel_(&arena_, now_ms) {
  table_.rehash(kFirstCapacity);
  counts_.bytes_limit = limit_;
}

Shard::~Shard() {
  for (uint32_t id : table_) {
    const Header* h = HeaderOf(arena_, id);
    if (h->out_of_line()) {
      OutOfLine o = OutOfLineOf(h);
      munmap(o.data, o.len);
    }
  }
}

uint64_t Shard::MinLimit() {
  // Bookkeeping for its own segments, the wheel, the first table, and four segments: one per
  // queue, one kept for eviction's copies, one to open while the others fill.
  uint64_t segs = 4;
  return segs * (Arena::kSegmentBytes + 32) + ExpiryWheel::kBytes + TableAllocBytes(kFirstCapacity);
}

ShardStats Shard::Stats(uint64_t now_ms) const {
  ShardStats s = counts_;
  s.keys = LiveCount(now_ms);
  s.bytes_held = BytesHeld();
  s.bytes_used = live_bytes_ + out_of_line_bytes_ + table_bytes_ + fixed_bytes();
  s.segments_small = arena_.Segments(Arena::kSmall);
  s.segments_main = arena_.Segments(Arena::kMain);
  s.segments_spare = arena_.spares();
  s.table_bytes = table_bytes_;
  s.out_of_line_bytes = out_of_line_bytes_;
  return s;
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
  ++counts_.expired;
  return Arena::kNil;
}

void Shard::Repoint(std::string_view key, uint32_t old_id, uint32_t new_id) {
  auto it = table_.find(key);
  // The slot's hash is the key's, which is the same at both ids, so the element can be
  // overwritten where it is: no erase and insert, no tombstone.
  if (it != table_.end() && *it == old_id) const_cast<uint32_t&>(*it) = new_id;
}

void Shard::FreeEntry(uint32_t id) {
  Header* h = HeaderOf(arena_, id);
  if (h->out_of_line()) {
    OutOfLine o = OutOfLineOf(h);
    munmap(o.data, o.len);
    out_of_line_bytes_ -= PageRound(o.len);
  }
  size_t bytes = EntryBytes(h);
  live_bytes_ -= bytes;
  h->prev = Arena::kNil;  // dead
  uint32_t seg = Arena::SegmentOf(id);
  if (arena_.Release(id, bytes) && seg != victim_ && !arena_.IsHead(seg)) arena_.FreeSegment(seg);
}

void Shard::EraseLinked(uint32_t id) {
  wheel_.Remove(id);
  table_.erase(KeyOf(arena_, id));
  FreeEntry(id);
}

void Shard::Reclaim(uint32_t id) {
  EraseLinked(id);
  ++counts_.expired;
}

size_t Shard::SegmentsAllowed(uint64_t extra) const {
  uint64_t other = out_of_line_bytes_ + table_bytes_ + fixed_bytes() + extra;
  return other >= limit_ ? 0 : size_t((limit_ - other) / Arena::kSegmentBytes);
}

bool Shard::RoomForSegment(uint64_t now_ms) {
  // Opening takes a spare if there is one (held unchanged), else adds a segment; either way one
  // more stays free beside it for eviction's copies.
  while (arena_.in_use() + 2 > SegmentsAllowed(0)) {
    if (!FreeSomething(now_ms)) return false;
  }
  return true;
}

bool Shard::RoomForBytes(uint64_t bytes, uint64_t now_ms) {
  for (;;) {
    size_t allowed = SegmentsAllowed(bytes);
    if (arena_.in_use() + 1 <= allowed) {
      while (arena_.in_use() + arena_.spares() > allowed) arena_.ReleaseSpare();
      return true;
    }
    if (!FreeSomething(now_ms)) return false;
  }
}

bool Shard::FreeSomething(uint64_t now_ms) {
  // Expired keys go before live ones (a slice at a time: the caller stops once room is found).
  uint64_t expired = counts_.expired;
  wheel_.Advance(now_ms, 1024, [this](uint32_t id) {
    table_.erase(KeyOf(arena_, id));
    FreeEntry(id);
    ++counts_.expired;
  });
  if (counts_.expired != expired) return true;
  const uint64_t copied_before = counts_.bytes_copied;
  for (;;) {
    if (victim_ == Arena::kNoSegment && !ChooseVictim()) return false;
    size_t budget = SIZE_MAX;
    bool force = counts_.bytes_copied - copied_before > kMaxCopyBytes;
    if (EvictStep(&budget, force, now_ms)) return true;
  }
}

bool Shard::ChooseVictim() {
  size_t small = arena_.Segments(Arena::kSmall), main = arena_.Segments(Arena::kMain);
  if (small + main == 0) return false;
  bool from_small = small > 0 && (main == 0 || small * 100 > (small + main) * kSmallPercent);
  Arena::Queue q = from_small ? Arena::kSmall : Arena::kMain;
  victim_ = arena_.Tail(q);
  // Appends must not go on behind the walk.
  if (arena_.IsHead(victim_)) arena_.SealHead(q);
  cursor_ = Arena::FirstId(victim_);
  return true;
}

bool Shard::CopyToMain(uint32_t id, uint32_t freq) {
  Header* h = HeaderOf(arena_, id);
  const size_t bytes = EntryBytes(h);
  uint32_t to = arena_.Append(Arena::kMain, bytes);
  if (to == Arena::kNil) {
    // The segment a write leaves free is for this.
    if (arena_.in_use() + 1 > SegmentsAllowed(0) || !arena_.OpenHead(Arena::kMain)) return false;
    to = arena_.Append(Arena::kMain, bytes);
  }
  Header* t = HeaderOf(arena_, to);
  std::memcpy(t, h, bytes);  // an out-of-line value's mapping moves with it
  t->set_freq(freq);
  wheel_.Moved(id, to);
  Repoint(KeyOf(t), id, to);
  h->prev = Arena::kNil;  // dead
  uint32_t seg = Arena::SegmentOf(id);
  if (arena_.Release(id, bytes) && seg != victim_ && !arena_.IsHead(seg)) arena_.FreeSegment(seg);
  counts_.bytes_copied += bytes;
  return true;
}

bool Shard::EvictStep(size_t* budget, bool force, uint64_t now_ms) {
  const uint32_t end = arena_.EndId(victim_);
  const bool small = arena_.QueueOf(victim_) == Arena::kSmall;
  while (cursor_ < end && *budget > 0) {
    --*budget;
    uint32_t id = cursor_;
    Header* h = HeaderOf(arena_, id);
    cursor_ += uint32_t(EntryBytes(h) / Arena::kUnit);
    if (h->dead()) continue;
    if (MsUntilDeadline(h, now_ms) <= 0) {
      Reclaim(id);
      continue;
    }
    if (!force) {
      uint32_t f = h->freq();
      if (small && f >= kPromoteFreq && CopyToMain(id, 0)) {
        ++counts_.promoted;
        continue;
      }
      if (!small && f > 0 && CopyToMain(id, f - 1)) {
        ++counts_.reinserted;
        continue;
      }
    }
    if (small) {
      ghost_.Insert(HashKey(KeyOf(h)));
      ++counts_.evicted_small;
    } else {
      ++counts_.evicted_main;
    }
    EraseLinked(id);
  }
  if (cursor_ < end) return false;
  uint32_t seg = victim_;
  victim_ = Arena::kNoSegment;
  arena_.FreeSegment(seg);
  return true;
}

bool Shard::SizeGhost(uint64_t now_ms) {
  // As many ghosts as the main queue would hold keys at its share of the cache, 90% (S3-FIFO),
  // once there is eviction; resized only when that is far off, since resizing forgets them.
  if (counts_.evicted_small == 0) return true;
  size_t want = table_.size() * (100 - kSmallPercent) / 100;
  size_t cap = ghost_.capacity();
  if (cap != 0 && want <= cap * 2 && want * 4 >= cap) return true;
  uint64_t now_bytes = ghost_.bytes(), next_bytes = Ghost::BytesFor(want);
  if (next_bytes > now_bytes && !RoomForBytes(next_bytes - now_bytes, now_ms)) return false;
  ghost_.Resize(want);
  return true;
}

bool Shard::MaybeGrowTable(uint64_t now_ms) {
  // absl grows a table on insert once no growth is left (tombstones use it up too) and more than
  // 25/32 of it is full (below that it rehashes in place, allocating nothing). Growing here first,
  // at that fill, once there is room, means it never allocates behind the budget's back. Where
  // there is no room, evicting keys also ends the need.
  for (;;) {
    if ((table_.size() + 1) * 32 <= table_.capacity() * 25) return true;
    size_t next = table_.capacity() * 2 + 1;
    if (arena_.in_use() + 1 <= SegmentsAllowed(HeldBytes(TableAllocBytes(next)))) {
      if (!RoomForBytes(HeldBytes(TableAllocBytes(next)), now_ms)) return false;  // spares only
      try {
        table_.rehash(next);
      } catch (const std::bad_alloc&) {
        return false;
      }
      return true;
    }
    if (!FreeSomething(now_ms)) return false;
  }
}

uint64_t Shard::Relocations() const {
  return counts_.promoted + counts_.reinserted + counts_.evicted_small + counts_.evicted_main +
         counts_.expired;
}

SetResult Shard::Check(uint32_t old, const WriteOptions& opts) const {
  const bool exists = old != Arena::kNil;
  if ((opts.mode == SetMode::kIfAbsent && exists) || (opts.mode == SetMode::kIfPresent && !exists)) {
    return SetResult::kConditionFailed;
  }
  if (opts.precondition != nullptr &&
      !(*opts.precondition)(exists, exists ? HeaderOf(arena_, old)->version : 0)) {
    return SetResult::kPreconditionFailed;
  }
  return SetResult::kStored;
}

WriteResult Shard::Write(HashedKey key, std::string_view value, const WriteOptions& opts,
                         uint64_t now_ms) {
  uint32_t old = FindLive(key, now_ms);
  if (SetResult r = Check(old, opts); r != SetResult::kStored) return {r};
  return Store(key, value, opts, old, now_ms);
}

WriteResult Shard::Store(HashedKey key, std::string_view value, const WriteOptions& opts, uint32_t old,
                         uint64_t now_ms) {
  const size_t klen = key.key.size(), vlen = value.size();
  const bool out_of_line = !ValueInline(klen, vlen);
  const size_t bytes = EntryBytes(klen, vlen);
  uint64_t deadline = now_ms + opts.ttl_ms;
  uint32_t freq = 0, version = ++versions_;
  Arena::Queue queue = Arena::kSmall;
  if (old != Arena::kNil) {
    Header* h = HeaderOf(arena_, old);
    if (opts.keep_ttl) deadline = now_ms + uint64_t(MsUntilDeadline(h, now_ms));
    if (version == h->version) version = ++versions_;  // the counter wrapped onto it
    freq = std::min(h->freq() + 1, kMaxFreq);  // a write is a use too
    if (opts.on_old != nullptr) (*opts.on_old)(ValueOf(h));
    if (!out_of_line && !h->out_of_line() && EntryBytes(h) == bytes) {
      // The same size: rewritten in place. Unlink first: Remove reads the far-ring bit in meta.
      wheel_.Remove(old);
      h->meta = Header::Meta(klen, vlen, false);
      h->set_freq(freq);
      h->version = version;
      if (vlen) std::memcpy(reinterpret_cast<char*>(h + 1) + klen, value.data(), vlen);
      wheel_.Insert(old, deadline);
      return {SetResult::kStored, version, false};
    }
    queue = arena_.QueueOf(Arena::SegmentOf(old));
  }

  // Whether it can fit at all, decided before anything is evicted for it: a refused write loses
  // nothing. With every other entry gone it needs its value's mapping, its own segment and the
  // one kept free for eviction (the table, emptied, would not need to grow).
  const uint64_t value_held = out_of_line ? PageRound(vlen) : 0;
  if (table_bytes_ + fixed_bytes() + value_held + 2 * Arena::kSegmentBytes > limit_) return {Refuse()};
  if (old == Arena::kNil && ghost_.Take(key.hash)) {
    queue = Arena::kMain;
    ++counts_.ghost_hits;
  }

  // Room for each part in turn. The table is grown for an update too (harmlessly early): making
  // room may evict the old entry, and the write becomes an insert.
  const uint64_t relocations = Relocations();
  char* data = nullptr;
  if (out_of_line) {
    if (!RoomForBytes(value_held, now_ms)) return {Refuse()};
    void* p = mmap(nullptr, vlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return {Refuse()};
    data = static_cast<char*>(p);
    std::memcpy(data, value.data(), vlen);
    out_of_line_bytes_ += value_held;
  }
  if (!MaybeGrowTable(now_ms) || (!arena_.Fits(queue, bytes) && !RoomForSegment(now_ms))) {
    if (data != nullptr) {
      munmap(data, vlen);
      out_of_line_bytes_ -= value_held;
    }
    return {Refuse()};
  }
  // Copies made while making room may have filled the head: open one for this write. Nothing is
  // evicted from here on, so the entry is written whole before any walk could meet it.
  if (!arena_.Fits(queue, bytes)) arena_.OpenHead(queue);
  const uint32_t id = arena_.Append(queue, bytes);
  if (Relocations() != relocations) old = FindLive(key, now_ms);

  Header* h = HeaderOf(arena_, id);
  h->meta = Header::Meta(klen, vlen, out_of_line);
  h->set_freq(freq);
  h->version = version;
  char* p = reinterpret_cast<char*>(h + 1);
  std::memcpy(p, key.key.data(), klen);
  if (out_of_line) {
    uint32_t len = uint32_t(vlen);
    std::memcpy(p + klen, &data, sizeof data);
    std::memcpy(p + klen + sizeof data, &len, sizeof len);
  } else if (vlen) {
    std::memcpy(p + klen, value.data(), vlen);
  }
  live_bytes_ += bytes;
  wheel_.Insert(id, deadline);
  const bool created = old == Arena::kNil;
  if (!created) {
    Repoint(key.key, old, id);
    wheel_.Remove(old);
    FreeEntry(old);
  } else {
    // The key is known absent; lazy_emplace probes with the hash already computed.
    table_.lazy_emplace(key, [id](const auto& construct) { construct(id); });
  }
  return {SetResult::kStored, version, created};
}

WriteResult Shard::Incr(HashedKey key, int64_t delta, const WriteOptions& opts, uint64_t now_ms,
                        int64_t* result) {
  uint32_t old = FindLive(key, now_ms);
  if (SetResult r = Check(old, opts); r != SetResult::kStored) return {r};
  int64_t now_value = 0;
  if (old != Arena::kNil && !ParseInteger(ValueOf(arena_, old), &now_value)) return {SetResult::kNotInteger};
  if (__builtin_add_overflow(now_value, delta, result)) return {SetResult::kOverflow};
  fmt::format_int sum(*result);
  return Store(key, std::string_view(sum.data(), sum.size()), opts, old, now_ms);
}

SetResult Shard::Refuse() {
  ++counts_.rejected;
  return SetResult::kNoMemory;
}

bool Shard::Delete(HashedKey key, uint64_t now_ms) {
  uint32_t id = FindLive(key, now_ms);
  if (id == Arena::kNil) return false;
  EraseLinked(id);
  return true;
}

DeleteResult Shard::DeleteIf(HashedKey key, const Precondition& precondition, uint64_t now_ms) {
  uint32_t id = FindLive(key, now_ms);
  bool exists = id != Arena::kNil;
  if (!precondition(exists, exists ? HeaderOf(arena_, id)->version : 0)) return DeleteResult::kPreconditionFailed;
  if (!exists) return DeleteResult::kAbsent;
  EraseLinked(id);
  return DeleteResult::kDeleted;
}

bool Shard::SetTtl(HashedKey key, uint64_t ttl_ms, uint64_t now_ms) {
  uint32_t id = FindLive(key, now_ms);
  if (id == Arena::kNil) return false;
  wheel_.Remove(id);
  wheel_.Insert(id, now_ms + ttl_ms);
  return true;
}

int64_t Shard::TtlMs(HashedKey key, uint64_t now_ms) {
  uint32_t id = FindLive(key, now_ms);
  return id == Arena::kNil ? -1 : int64_t(MsUntilDeadline(HeaderOf(arena_, id), now_ms));
}

bool Shard::Housekeep(uint64_t now_ms, size_t budget) {
  size_t visited = 0;
  bool caught_up = wheel_.Advance(now_ms, budget, [this, &visited](uint32_t id) {
    table_.erase(KeyOf(arena_, id));
    FreeEntry(id);
    ++counts_.expired;
    ++visited;
  });
  if (!caught_up) return false;
  SizeGhost(now_ms);
  // Evict ahead: when the next write that needs a segment would have to make room itself, make
  // it now, a slice at a time. Not when the budget is mostly out-of-line values: a segment ahead
  // would cost one of them, maybe the only key, for a write that may never come.
  budget = budget > visited ? budget - visited : 0;
  while (SegmentsAllowed(0) >= kMinSegmentsToEvictAhead && arena_.in_use() + 2 > SegmentsAllowed(0)) {
    if (budget == 0) return false;
    if (victim_ == Arena::kNoSegment && !ChooseVictim()) break;
    EvictStep(&budget, false, now_ms);
  }
  // Spares beyond a couple hold memory the data no longer needs: give it back.
  while (arena_.spares() > kKeptSpares) arena_.ReleaseSpare();
  return true;
}

bool Shard::Inspect(std::string_view key, Placement* out) const {
  auto it = table_.find(key);
  if (it == table_.end()) return false;
  out->queue = arena_.QueueOf(Arena::SegmentOf(*it));
  out->freq = HeaderOf(arena_, *it)->freq();
  return true;
}

std::string Shard::CheckConsistency() const {
  if (std::string e = wheel_.CheckConsistency(); !e.empty()) return "wheel: " + e;
  if (table_.size() != wheel_.size()) return "table and wheel sizes differ";
  uint64_t out_of_line = 0, live = 0;
  for (uint32_t id : table_) {
    const Header* h = HeaderOf(arena_, id);
    if (h->dead()) return "the table holds a dead entry";
    if (h->out_of_line()) out_of_line += PageRound(OutOfLineOf(h).len);
    live += EntryBytes(h);
    auto it = table_.find(KeyOf(arena_, id));
    if (it == table_.end() || *it != id) return "an entry is not found by its own key";
  }
  if (out_of_line != out_of_line_bytes_) return "out-of-line bytes differ from the entries";
  if (live != live_bytes_) return "live bytes differ from the entries";
  // Walk every segment of both queues: live entries are exactly the table's, and each segment's
  // counts match what it holds.
  size_t in_table = 0, segments = 0;
  uint64_t seg_live = 0;
  for (Arena::Queue q : {Arena::kSmall, Arena::kMain}) {
    for (uint32_t seg = arena_.Tail(q); seg != Arena::kNoSegment; seg = arena_.Newer(seg)) {
      ++segments;
      if (arena_.QueueOf(seg) != q) return "a segment is in the wrong queue";
      size_t bytes = 0, entries = 0;
      for (uint32_t id = Arena::FirstId(seg); id < arena_.EndId(seg);) {
        const Header* h = HeaderOf(arena_, id);
        size_t n = EntryBytes(h);
        if (!h->dead()) {
          auto it = table_.find(KeyOf(h));
          if (it == table_.end() || *it != id) return "a live entry in a segment is not in the table";
          bytes += n;
          ++entries;
          ++in_table;
        }
        id += uint32_t(n / Arena::kUnit);
      }
      if (bytes != arena_.LiveBytes(seg) || entries != arena_.LiveEntries(seg)) {
        return "a segment's live counts differ from its entries";
      }
      if (entries == 0 && seg != victim_ && !arena_.IsHead(seg)) return "an empty segment was kept";
      seg_live += bytes;
    }
  }
  if (segments != arena_.in_use()) return "the queues' segment counts differ from their lists";
  if (in_table != table_.size()) return "the segments' live entries differ from the table";
  if (seg_live != live_bytes_) return "the segments' live bytes differ from the total";
  if (BytesHeld() > limit_) return "more memory held than the limit";
  return "";
}

}  // namespace kvd::store
