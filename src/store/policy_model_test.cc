// The eviction policy against a reference implementation of the same policy (S3-FIFO over
// segment logs, as shard.h describes it), written the simple way: entries in vectors, queues as
// deques, keys in a std::map. Random reads, writes and deletes drive both; after every step they
// must hold the same keys, in the same queues, with the same frequencies.
//
// What the model takes from the shard instead of computing it: the bytes left for segments and
// the ghost (the table's and bookkeeping's sizes, which the memory tests check), measured once
// with a table grown in advance so that it does not change; and the ghost's hash function, by
// using the same Ghost class (its own test checks it).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "store/ghost.h"
#include "store/shard.h"

namespace kvd::store {
namespace {

constexpr size_t kSeg = Arena::kSegmentBytes;

class Model {
 public:
  explicit Model(uint64_t room) : room_(room) {}

  bool Get(const std::string& key) {
    auto it = where_.find(key);
    if (it == where_.end()) return false;
    Entry& e = entries_[it->second];
    e.freq = std::min<uint32_t>(e.freq + 1, kMaxFreq);
    return true;
  }

  void Set(const std::string& key, size_t vlen) {
    size_t bytes = EntryBytes(key.size(), vlen);
    uint32_t freq = 0;
    Arena::Queue q = Arena::kSmall;
    auto it = where_.find(key);
    if (it != where_.end()) {
      Entry& old = entries_[it->second];
      freq = std::min<uint32_t>(old.freq + 1, kMaxFreq);
      if (old.bytes == bytes) {  // in place
        old.freq = freq;
        return;
      }
      q = segs_[old.seg].queue;
    } else if (ghost_.Take(HashKey(key))) {
      q = Arena::kMain;
    }
    if (!Fits(q, bytes)) {
      while (InUse() + 2 > Allowed(0)) REQUIRE(FreeSomething());
      if (!Fits(q, bytes)) Open(q);  // copies made meanwhile may have opened a main head
    }
    size_t id = Append(q, key, bytes, freq);
    it = where_.find(key);
    if (it != where_.end()) Kill(it->second);
    where_[key] = id;
  }

  void Delete(const std::string& key) {
    auto it = where_.find(key);
    if (it == where_.end()) return;
    size_t id = it->second;
    where_.erase(it);
    Kill(id);
  }

  void Housekeep(size_t budget) {
    SizeGhost();
    while (Allowed(0) >= 8 && InUse() + 2 > Allowed(0)) {
      if (budget == 0) return;
      if (victim_ < 0 && !ChooseVictim()) break;
      EvictStep(&budget, false);
    }
  }

  // The live keys with queue and frequency.
  std::map<std::string, Shard::Placement> Live() const {
    std::map<std::string, Shard::Placement> out;
    for (auto& [key, id] : where_) out[key] = {segs_[entries_[id].seg].queue, entries_[id].freq};
    return out;
  }
  size_t Keys() const { return where_.size(); }
  size_t InUse() const { return queue_[0].size() + queue_[1].size(); }
  uint64_t GhostBytes() const { return ghost_.bytes(); }

 private:
  struct Entry {
    std::string key;
    size_t bytes;
    uint32_t freq;
    int seg;
    bool live;
  };
  struct Segment {
    Arena::Queue queue;
    size_t fill = 0;
    std::vector<size_t> entries;
    size_t live = 0;
  };

  size_t Allowed(uint64_t extra) const {
    uint64_t other = ghost_.bytes() + extra;
    return other >= room_ ? 0 : size_t((room_ - other) / kSeg);
  }
  bool Fits(Arena::Queue q, size_t bytes) const {
    return head_[q] >= 0 && segs_[head_[q]].fill + bytes <= kSeg;
  }
  void Open(Arena::Queue q) {
    segs_.push_back(Segment{q, 0, {}, 0});
    head_[q] = int(segs_.size() - 1);
    queue_[q].push_back(head_[q]);
  }
  size_t Append(Arena::Queue q, const std::string& key, size_t bytes, uint32_t freq) {
    Segment& s = segs_[head_[q]];
    s.fill += bytes;
    ++s.live;
    entries_.push_back({key, bytes, freq, head_[q], true});
    s.entries.push_back(entries_.size() - 1);
    return entries_.size() - 1;
  }
  void Kill(size_t id) {
    Entry& e = entries_[id];
    e.live = false;
    Segment& s = segs_[e.seg];
    if (--s.live == 0 && e.seg != victim_ && head_[s.queue] != e.seg) Drop(e.seg);
  }
  void Drop(int seg) {
    std::deque<int>& q = queue_[segs_[seg].queue];
    q.erase(std::find(q.begin(), q.end(), seg));
    if (head_[segs_[seg].queue] == seg) head_[segs_[seg].queue] = -1;
  }
  bool ChooseVictim() {
    size_t small = queue_[0].size(), main = queue_[1].size();
    if (small + main == 0) return false;
    bool from_small = small > 0 && (main == 0 || small * 100 > (small + main) * 10);
    Arena::Queue q = from_small ? Arena::kSmall : Arena::kMain;
    victim_ = queue_[q].front();
    if (head_[q] == victim_) head_[q] = -1;
    cursor_ = 0;
    return true;
  }
  bool CopyToMain(size_t id, uint32_t freq) {
    Entry e = entries_[id];
    if (!Fits(Arena::kMain, e.bytes)) {
      if (InUse() + 1 > Allowed(0)) return false;
      Open(Arena::kMain);
    }
    size_t to = Append(Arena::kMain, e.key, e.bytes, freq);
    where_[e.key] = to;
    Kill(id);
    copied_ += e.bytes;
    return true;
  }
  bool EvictStep(size_t* budget, bool force) {
    Segment& v = segs_[victim_];
    const bool small = v.queue == Arena::kSmall;
    while (cursor_ < v.entries.size() && *budget > 0) {
      --*budget;
      size_t id = segs_[victim_].entries[cursor_++];
      Entry& e = entries_[id];
      if (!e.live) continue;
      if (!force) {
        if (small && e.freq >= 1 && CopyToMain(id, 0)) continue;
        if (!small && e.freq > 0 && CopyToMain(id, e.freq - 1)) continue;
      }
      if (small) {
        ghost_.Insert(HashKey(e.key));
        ++evicted_small_;
      }
      where_.erase(e.key);
      Kill(id);
    }
    if (cursor_ < segs_[victim_].entries.size()) return false;
    Drop(victim_);
    victim_ = -1;
    return true;
  }
  void SizeGhost() {
    if (evicted_small_ == 0) return;
    size_t want = where_.size() * 9 / 10;
    size_t cap = ghost_.capacity();
    if (cap != 0 && want <= cap * 2 && want * 4 >= cap) return;
    uint64_t next = Ghost::BytesFor(want);
    if (next > ghost_.bytes()) {
      while (InUse() + 1 > Allowed(next - ghost_.bytes())) REQUIRE(FreeSomething());
    }
    ghost_.Resize(want);
  }
  bool FreeSomething() {
    const uint64_t copied = copied_;
    for (;;) {
      if (victim_ < 0 && !ChooseVictim()) return false;
      size_t budget = SIZE_MAX;
      if (EvictStep(&budget, copied_ - copied > 2 * kSeg)) return true;
    }
  }

  uint64_t room_;
  std::deque<Entry> entries_;  // deques: references stay valid as they grow
  std::deque<Segment> segs_;
  std::deque<int> queue_[2];
  int head_[2] = {-1, -1};
  int victim_ = -1;
  size_t cursor_ = 0;
  std::map<std::string, size_t> where_;
  Ghost ghost_;
  uint64_t copied_ = 0;
  uint64_t evicted_small_ = 0;
};

std::map<std::string, Shard::Placement> LiveIn(Shard& s, const std::vector<std::string>& keys) {
  std::map<std::string, Shard::Placement> out;
  for (const std::string& k : keys) {
    Shard::Placement p;
    if (s.Inspect(k, &p)) out[k] = p;
  }
  return out;
}

bool operator==(const Shard::Placement& a, const Shard::Placement& b) {
  return a.queue == b.queue && a.freq == b.freq;
}

void RunModel(uint64_t limit, uint64_t seed, size_t keyspace, size_t max_value, int steps) {
  CAPTURE(seed);
  const uint64_t t = 1;
  Shard s(limit, t);
  // Grow the table once, for every key there could be, so that its size stays put.
  s.ReserveKeysForTest(keyspace);
  Model m(s.RoomForSegmentsAndGhost());
  std::vector<std::string> keys;
  for (size_t i = 0; i < keyspace; ++i) keys.push_back("/k" + std::to_string(i));
  std::mt19937_64 rng(seed);
  // Reads skewed toward low key numbers, so that some keys are hot.
  auto pick = [&] { return keys[size_t(double(keyspace) * std::pow(double(rng() % 1000000) / 1e6, 3))]; };
  size_t compared = 0;
  for (int step = 0; step < steps; ++step) {
    uint64_t op = rng() % 100;
    const std::string& key = pick();
    if (op < 55) {
      bool a = s.Get(key, t, [](std::string_view) {});
      bool b = m.Get(key);
      REQUIRE(a == b);
    } else if (op < 95) {
      size_t vlen = rng() % 4 == 0 ? rng() % max_value : rng() % 64;
      std::string v(vlen, 'v');
      REQUIRE(s.Set(key, v, kMaxTtlMs, SetMode::kAlways, t) == SetResult::kStored);
      m.Set(key, vlen);
    } else if (op < 98) {
      s.Delete(key, t);
      m.Delete(key);
    } else {
      size_t budget = 1 + rng() % 3000;
      s.Housekeep(t, budget);
      m.Housekeep(budget);
    }
    CAPTURE(step);
    REQUIRE(s.LiveCount(t) == m.Keys());
    REQUIRE(s.GhostBytes() == m.GhostBytes());
    if (step % 1009 == 0) {
      ++compared;
      auto want = m.Live();
      auto got = LiveIn(s, keys);
      REQUIRE(got.size() == want.size());
      size_t differ = 0;
      for (auto& [k, p] : want) differ += !(got.count(k) && got[k] == p);
      REQUIRE(differ == 0);
      REQUIRE(s.CheckConsistency() == "");
    }
  }
  ShardStats st = s.Stats(t);
  CHECK(compared > 10);
  CHECK(st.evicted_small > 100);
  CHECK(st.evicted_main > 10);
  CHECK(st.promoted > 100);
  CHECK(st.reinserted > 10);
  CHECK(st.ghost_hits > 0);
}

TEST_CASE("Shard: S3-FIFO over segments matches a reference implementation") {
  RunModel(4 << 20, 1, 100000, 600, 150000);
  RunModel(8 << 20, 2, 200000, 1000, 250000);
  RunModel(2 << 20, 3, 5000, 20000, 100000);
}

}  // namespace
}  // namespace kvd::store
