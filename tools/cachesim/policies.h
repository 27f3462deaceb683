// Policies: the eviction policies cachesim replays, over one byte budget, with per-key state in
// arrays indexed by the trace's dense key ids (0 .. id_limit-1).
//
// Contract of a Cache:
//  - Get(id) is a lookup: true on a hit, which the policy records (recency, frequency bits).
//  - Insert(id, bytes) adds an absent id, first evicting until used + bytes fits the budget; an
//    object that cannot fit even in an empty cache is not stored.
//  - Erase(id) removes id if present (not an eviction: no ghost entry is made).
//  - bytes() is the sum of the held objects' sizes and never exceeds the budget; reserved() is
//    what the policy's memory layout holds (s3fifo-seg: whole segments, holes included);
//    copied() the bytes its evictions moved (s3fifo-seg: the retained objects' copies).
//
// Policies (MakeCache spec: NAME[=SEGBYTES][:param=value]...):
//   fifo        evict the oldest insert (kvd today: one TTL makes nearest-deadline-first FIFO)
//   lru         exact LRU: a hit moves the object to the head
//   clock       FIFO-reinsertion: a hit sets a bit; an oldest object with the bit set is cleared
//               and moved to the head instead of evicted
//   clock2      the same with a 2-bit counter (hits add 1 up to 3; reinserted while > 0, minus 1)
//   sieve       SIEVE (NSDI'24): a hit sets a visited bit; a hand walks from the oldest toward
//               the newest, clearing visited bits and evicting the first unvisited object;
//               retained objects stay where they are, the hand stays where it stopped
//   s3fifo      S3-FIFO (SOSP'23): small FIFO (small= of the budget, 0.1) and main FIFO, 2-bit
//               counters (cap 3), a ghost FIFO of ids evicted from small, holding ghost= (1.0)
//               times main's object count. A miss goes to main if its id is in the ghost, else to
//               small. Eviction takes from small while small holds >= its share (or main is
//               empty): small's oldest moves to main with its counter cleared when it was hit at
//               least move= (1) times, else it is evicted into the ghost; main's oldest is
//               reinserted with counter - 1 while its counter is > 0, else evicted.
//               The budget is shared: main may use more than its 90% while small uses less.
//   s3fifo-seg  the same S3-FIFO over a log of fixed-size segments (=SEGBYTES, 262144): the
//               budget is budget / SEGBYTES segments; each queue is a FIFO of segments, objects
//               are appended to their queue's head segment, and eviction takes a queue's whole
//               oldest segment at once (small's while small holds >= small= of the segments),
//               copying the objects it retains to main's head and dropping the rest. One segment
//               is kept free for those copies. An erased object leaves a hole until its segment
//               is evicted. Objects are charged their model bytes (the hash table's share
//               included) so that budgets compare with the other policies.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trace.h"  // ParseBytes

namespace cachesim {

inline constexpr uint32_t kNil = UINT32_MAX;

// Doubly linked lists threaded through per-id arrays; the lists of one policy share one Links,
// since an id is in at most one of them.
struct Links {
  explicit Links(uint32_t n) : newer(n, kNil), older(n, kNil) {}
  std::vector<uint32_t> newer, older;
};

class List {
 public:
  explicit List(Links* l) : l_(l) {}
  uint32_t oldest() const { return oldest_; }
  uint32_t newer(uint32_t id) const { return l_->newer[id]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void PushNewest(uint32_t id) {
    l_->older[id] = newest_;
    l_->newer[id] = kNil;
    (newest_ == kNil ? oldest_ : l_->newer[newest_]) = id;
    newest_ = id;
    ++size_;
  }
  void Remove(uint32_t id) {
    uint32_t o = l_->older[id], n = l_->newer[id];
    (o == kNil ? oldest_ : l_->newer[o]) = n;
    (n == kNil ? newest_ : l_->older[n]) = o;
    --size_;
  }

 private:
  Links* l_;
  uint32_t newest_ = kNil, oldest_ = kNil;
  size_t size_ = 0;
};

class Cache {
 public:
  Cache(uint64_t budget, uint32_t id_limit) : budget_(budget), size_(id_limit, 0), freq_(id_limit, 0) {}
  virtual ~Cache() = default;
  virtual bool Get(uint32_t id) = 0;
  virtual void Insert(uint32_t id, uint32_t bytes) = 0;
  virtual void Erase(uint32_t id) = 0;
  virtual uint64_t reserved() const { return used_; }
  virtual uint64_t copied() const { return 0; }  // bytes moved by evictions (s3fifo-seg)
  bool Contains(uint32_t id) const { return size_[id] != 0; }
  uint64_t objects() const { return objects_; }
  uint64_t bytes() const { return used_; }
  uint64_t budget() const { return budget_; }

 protected:
  void Admit(uint32_t id, uint32_t bytes) {
    size_[id] = bytes;
    used_ += bytes;
    ++objects_;
  }
  void Forget(uint32_t id) {
    used_ -= size_[id];
    size_[id] = 0;
    freq_[id] = 0;
    --objects_;
  }
  void Hit(uint32_t id, uint8_t cap) {
    if (freq_[id] < cap) ++freq_[id];
  }

  uint64_t budget_;
  uint64_t used_ = 0, objects_ = 0;
  std::vector<uint32_t> size_;  // 0: absent
  std::vector<uint8_t> freq_;   // the policy's access bits
};

class Fifo : public Cache {
 public:
  Fifo(uint64_t budget, uint32_t n) : Cache(budget, n), links_(n), q_(&links_) {}
  bool Get(uint32_t id) override { return Contains(id); }
  void Insert(uint32_t id, uint32_t bytes) override {
    if (bytes > budget_) return;
    while (used_ + bytes > budget_) Erase(q_.oldest());
    Admit(id, bytes);
    q_.PushNewest(id);
  }
  void Erase(uint32_t id) override {
    if (!Contains(id)) return;
    q_.Remove(id);
    Forget(id);
  }

 protected:
  Links links_;
  List q_;
};

class Lru : public Fifo {
 public:
  using Fifo::Fifo;
  bool Get(uint32_t id) override {
    if (!Contains(id)) return false;
    q_.Remove(id);
    q_.PushNewest(id);
    return true;
  }
};

// clock (max_freq 1) and clock2 (max_freq 3).
class Clock : public Fifo {
 public:
  Clock(uint64_t budget, uint32_t n, uint8_t max_freq) : Fifo(budget, n), max_(max_freq) {}
  bool Get(uint32_t id) override {
    if (!Contains(id)) return false;
    Hit(id, max_);
    return true;
  }
  void Insert(uint32_t id, uint32_t bytes) override {
    if (bytes > budget_) return;
    while (used_ + bytes > budget_) {
      uint32_t t = q_.oldest();
      q_.Remove(t);
      if (freq_[t] > 0) {
        --freq_[t];
        q_.PushNewest(t);
      } else {
        Forget(t);
      }
    }
    Admit(id, bytes);
    q_.PushNewest(id);
  }

 private:
  uint8_t max_;
};

class Sieve : public Fifo {
 public:
  using Fifo::Fifo;
  bool Get(uint32_t id) override {
    if (!Contains(id)) return false;
    freq_[id] = 1;
    return true;
  }
  void Insert(uint32_t id, uint32_t bytes) override {
    if (bytes > budget_) return;
    while (used_ + bytes > budget_) {
      uint32_t o = hand_ != kNil ? hand_ : q_.oldest();
      while (freq_[o]) {
        freq_[o] = 0;
        o = q_.newer(o);
        if (o == kNil) o = q_.oldest();
      }
      hand_ = q_.newer(o);  // kNil: the next eviction starts again from the oldest
      q_.Remove(o);
      Forget(o);
    }
    Admit(id, bytes);
    q_.PushNewest(id);
  }
  void Erase(uint32_t id) override {
    if (id == hand_ && Contains(id)) hand_ = q_.newer(id);
    Fifo::Erase(id);
  }

 private:
  uint32_t hand_ = kNil;
};

// The ids S3-FIFO evicted from its small queue, oldest first, at most `cap` of them (cap follows
// main's object count, so it is given at each change). Taking an id out leaves a stale entry,
// recognised by its sequence number and skipped when it reaches the front.
class Ghost {
 public:
  explicit Ghost(uint32_t n) : stamp_(n, 0) {}
  void Add(uint32_t id, size_t cap) {
    stamp_[id] = ++seq_;
    fifo_.push_back({id, seq_});
    ++live_;
    Trim(cap);
  }
  bool Take(uint32_t id) {
    if (stamp_[id] == 0) return false;
    stamp_[id] = 0;
    --live_;
    return true;
  }
  void Trim(size_t cap) {
    while (live_ > cap) {
      auto [id, seq] = fifo_.front();
      fifo_.pop_front();
      if (stamp_[id] == seq) stamp_[id] = 0, --live_;
    }
  }
  bool Holds(uint32_t id) const { return stamp_[id] != 0; }
  size_t size() const { return live_; }

 private:
  std::vector<uint32_t> stamp_;  // per id: 0, or the sequence number of its live entry
  std::deque<std::pair<uint32_t, uint32_t>> fifo_;
  uint32_t seq_ = 0;
  size_t live_ = 0;
};

struct S3Params {
  double small = 0.1;  // small queue's share of the budget (s3fifo-seg: of the segments)
  int move = 1;        // hits in small that move an object to main
  double ghost = 1.0;  // ghost entries per object in main
  uint32_t segment = 262144;
};

class S3Fifo : public Cache {
 public:
  enum Queue : uint8_t { kNone, kSmall, kMain };
  S3Fifo(uint64_t budget, uint32_t n, S3Params p)
      : Cache(budget, n), p_(p), links_(n), small_(&links_), main_(&links_), where_(n, kNone),
        ghost_(n), small_target_(uint64_t(std::llround(p.small * double(budget)))) {}
  bool Get(uint32_t id) override {
    if (!Contains(id)) return false;
    Hit(id, 3);
    return true;
  }
  void Insert(uint32_t id, uint32_t bytes) override {
    if (bytes > budget_) return;
    ghost_.Trim(GhostCap());
    bool ghost_hit = ghost_.Take(id);
    while (used_ + bytes > budget_) Evict();
    Admit(id, bytes);
    Push(ghost_hit ? kMain : kSmall, id);
  }
  void Erase(uint32_t id) override {
    if (!Contains(id)) return;
    Pop(id);
    Forget(id);
  }
  Queue QueueOf(uint32_t id) const { return where_[id]; }
  bool InGhost(uint32_t id) const { return ghost_.Holds(id); }

 private:
  void Evict() {
    if (small_bytes_ >= small_target_ || main_.empty()) {
      while (!small_.empty()) {
        uint32_t t = small_.oldest();
        Pop(t);
        if (freq_[t] >= p_.move) {
          freq_[t] = 0;
          Push(kMain, t);
        } else {
          Forget(t);
          ghost_.Add(t, GhostCap());
          return;
        }
      }
    }
    while (!main_.empty()) {
      uint32_t t = main_.oldest();
      Pop(t);
      if (freq_[t] > 0) {
        --freq_[t];
        Push(kMain, t);
      } else {
        Forget(t);
        return;
      }
    }
  }
  void Push(Queue q, uint32_t id) {
    where_[id] = q;
    (q == kSmall ? small_ : main_).PushNewest(id);
    if (q == kSmall) small_bytes_ += size_[id];
  }
  void Pop(uint32_t id) {
    (where_[id] == kSmall ? small_ : main_).Remove(id);
    if (where_[id] == kSmall) small_bytes_ -= size_[id];
    where_[id] = kNone;
  }
  size_t GhostCap() const { return size_t(p_.ghost * double(main_.size())); }

  S3Params p_;
  Links links_;
  List small_, main_;
  std::vector<Queue> where_;
  Ghost ghost_;
  uint64_t small_target_, small_bytes_ = 0;
};

class S3FifoSeg : public Cache {
 public:
  enum Queue : uint8_t { kSmall, kMain };
  S3FifoSeg(uint64_t budget, uint32_t n, S3Params p)
      : Cache(budget, n), p_(p), segs_(budget / p.segment), seg_of_(n, kNil), slot_of_(n, 0),
        ghost_(n) {
    if (segs_.size() < 3) throw std::invalid_argument("s3fifo-seg: the budget holds < 3 segments");
    small_segs_ = std::max<size_t>(1, size_t(std::llround(p.small * double(segs_.size()))));
    for (uint32_t s = uint32_t(segs_.size()); s-- > 0;) free_.push_back(s);
  }
  bool Get(uint32_t id) override {
    if (!Contains(id)) return false;
    Hit(id, 3);
    return true;
  }
  void Insert(uint32_t id, uint32_t bytes) override {
    if (bytes > p_.segment) return;
    ghost_.Trim(GhostCap());
    bool ghost_hit = ghost_.Take(id);
    Admit(id, bytes);
    Append(ghost_hit ? kMain : kSmall, id, false);
  }
  void Erase(uint32_t id) override {
    if (!Contains(id)) return;
    Unplace(id);
    Forget(id);
  }
  uint64_t reserved() const override { return (segs_.size() - free_.size()) * uint64_t(p_.segment); }
  uint64_t copied() const override { return copied_; }
  bool InMain(uint32_t id) const { return Contains(id) && segs_[seg_of_[id]].queue == kMain; }
  bool InGhost(uint32_t id) const { return ghost_.Holds(id); }
  size_t segments(Queue q) const { return queue_[q].size(); }

 private:
  struct Segment {
    std::vector<uint32_t> ids;  // in append order; an entry is live while seg_of_/slot_of_ say so
    uint32_t fill = 0;          // bytes appended
    Queue queue = kSmall;
  };

  // Puts id (already admitted) at the head of q. Outside eviction a new head segment may not take
  // the last free one: evicting a segment may need it for the objects it retains, which fill at
  // most the rest of main's head plus one segment.
  void Append(Queue q, uint32_t id, bool evicting) {
    uint32_t bytes = size_[id];
    for (;;) {
      if (!queue_[q].empty() && segs_[queue_[q].back()].fill + bytes <= p_.segment) break;
      if (free_.size() > (evicting ? 0u : 1u)) {
        uint32_t s = free_.back();
        free_.pop_back();
        segs_[s].queue = q;
        queue_[q].push_back(s);
        break;
      }
      if (evicting) throw std::logic_error("s3fifo-seg: no free segment for a retained object");
      EvictSegment();
    }
    uint32_t s = queue_[q].back();
    Segment& g = segs_[s];
    seg_of_[id] = s;
    slot_of_[id] = uint32_t(g.ids.size());
    g.ids.push_back(id);
    g.fill += bytes;
    ++in_queue_[q];
  }
  void Unplace(uint32_t id) {
    --in_queue_[segs_[seg_of_[id]].queue];
    seg_of_[id] = kNil;
  }
  void EvictSegment() {
    Queue q = queue_[kSmall].size() >= small_segs_ || queue_[kMain].empty() ? kSmall : kMain;
    if (queue_[q].empty()) q = q == kSmall ? kMain : kSmall;
    uint32_t s = queue_[q].front();
    queue_[q].pop_front();
    for (uint32_t slot = 0; slot < segs_[s].ids.size(); ++slot) {
      uint32_t id = segs_[s].ids[slot];
      if (seg_of_[id] != s || slot_of_[id] != slot) continue;  // a hole
      Unplace(id);
      bool keep = q == kSmall ? freq_[id] >= p_.move : freq_[id] > 0;
      if (keep) {
        freq_[id] = q == kSmall ? 0 : uint8_t(freq_[id] - 1);
        Append(kMain, id, true);
        copied_ += size_[id];
      } else {
        Forget(id);
        if (q == kSmall) ghost_.Add(id, GhostCap());
      }
    }
    segs_[s].ids.clear();
    segs_[s].fill = 0;
    free_.push_back(s);
  }
  size_t GhostCap() const { return size_t(p_.ghost * double(in_queue_[kMain])); }

  S3Params p_;
  std::vector<Segment> segs_;
  std::vector<uint32_t> free_;
  std::deque<uint32_t> queue_[2];  // segment numbers, oldest first; back() is the head
  uint64_t in_queue_[2] = {0, 0};  // objects
  size_t small_segs_ = 1;
  uint64_t copied_ = 0;
  std::vector<uint32_t> seg_of_, slot_of_;
  Ghost ghost_;
};

// Parses a policy spec (see the header comment); throws std::invalid_argument on a bad one.
inline std::unique_ptr<Cache> MakeCache(std::string_view spec, uint64_t budget, uint32_t id_limit) {
  auto bad = [&](std::string_view why) {
    return std::invalid_argument("policy '" + std::string(spec) + "': " + std::string(why));
  };
  std::string_view name = spec.substr(0, spec.find(':'));
  std::string_view rest = name.size() < spec.size() ? spec.substr(name.size() + 1) : "";
  S3Params p;
  if (name.starts_with("s3fifo-seg=")) {
    uint64_t seg = ParseBytes(name.substr(11));
    if (seg == 0 || seg > UINT32_MAX) throw bad("segment bytes out of range");
    p.segment = uint32_t(seg);
    name = "s3fifo-seg";
  }
  while (!rest.empty()) {
    std::string_view kv = rest.substr(0, rest.find(':'));
    rest = kv.size() < rest.size() ? rest.substr(kv.size() + 1) : "";
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) throw bad("parameters are key=value");
    std::string k(kv.substr(0, eq)), v(kv.substr(eq + 1));
    if (k == "small") p.small = std::stod(v);
    else if (k == "move") p.move = std::stoi(v);
    else if (k == "ghost") p.ghost = std::stod(v);
    else throw bad("unknown parameter " + k);
  }
  if (p.small <= 0 || p.small >= 1 || p.move < 0 || p.move > 3 || p.ghost < 0 || p.segment == 0)
    throw bad("small in (0,1), move in 0..3, ghost >= 0, segment > 0");
  bool params = spec.find(':') != std::string_view::npos;
  if (name == "s3fifo") return std::make_unique<S3Fifo>(budget, id_limit, p);
  if (name == "s3fifo-seg") return std::make_unique<S3FifoSeg>(budget, id_limit, p);
  if (params) throw bad("only s3fifo and s3fifo-seg take parameters");
  if (name == "fifo") return std::make_unique<Fifo>(budget, id_limit);
  if (name == "lru") return std::make_unique<Lru>(budget, id_limit);
  if (name == "clock") return std::make_unique<Clock>(budget, id_limit, 1);
  if (name == "clock2") return std::make_unique<Clock>(budget, id_limit, 3);
  if (name == "sieve") return std::make_unique<Sieve>(budget, id_limit);
  throw bad("unknown policy (fifo, lru, clock, clock2, sieve, s3fifo, s3fifo-seg)");
}

}  // namespace cachesim
