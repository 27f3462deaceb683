#include "store/expiry_wheel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace kvd::store {
namespace {

constexpr uint64_t kSec = 1000;
constexpr uint64_t kMin = 60 * kSec;
constexpr uint64_t kHour = 60 * kMin;
constexpr uint64_t kDay = 24 * kHour;
constexpr uint64_t kWindow = uint64_t(1) << ExpiryWheel::kWindowBits;
constexpr uint64_t kNearSpan = uint64_t(1) << ExpiryWheel::kNearBits;
constexpr uint64_t kFarSpan = kWindow << ExpiryWheel::kFarBits;  // 18.6 h
constexpr size_t kAll = std::numeric_limits<size_t>::max();

// Header-sized entries for the wheel alone: appended to segments, recycled by id.
struct TestArena : Arena {
  TestArena() : Arena(4096) {}
  std::vector<uint32_t> free_ids;
  uint32_t Alloc() {
    if (!free_ids.empty()) {
      uint32_t id = free_ids.back();
      free_ids.pop_back();
      return id;
    }
    uint32_t id = Append(kSmall, sizeof(Header));
    if (id == kNil) {
      OpenHead(kSmall);
      id = Append(kSmall, sizeof(Header));
    }
    return id;
  }
  void Free(uint32_t id) { free_ids.push_back(id); }
};

// A wheel over its own arena, with a record of what is linked and its deadline, that checks every
// reclaimed entry was linked and due.
struct Harness {
  TestArena arena;
  ExpiryWheel wheel;
  std::unordered_map<uint32_t, uint64_t> linked;  // id -> deadline
  size_t bad_expiries = 0;                        // not linked, or not yet due

  explicit Harness(uint64_t now) : wheel(&arena, now) {}

  uint32_t Add(uint64_t deadline) {
    uint32_t id = arena.Alloc();
    std::memset(HeaderOf(arena, id), 0, sizeof(Header));
    wheel.Insert(id, deadline);
    linked[id] = deadline;
    return id;
  }
  void Del(uint32_t id) {
    wheel.Remove(id);
    linked.erase(id);
    arena.Free(id);
  }
  // One Advance call; returns whether it caught up, appending what it reclaimed.
  bool Step(uint64_t now, size_t budget, std::vector<uint32_t>* out) {
    return wheel.Advance(now, budget, [&](uint32_t id) {
      auto it = linked.find(id);
      if (it == linked.end() || it->second > now) {
        ++bad_expiries;
      } else {
        linked.erase(it);
      }
      arena.Free(id);
      out->push_back(id);
    });
  }
  // Advance until caught up.
  std::vector<uint32_t> Run(uint64_t now, size_t budget = kAll) {
    std::vector<uint32_t> out;
    while (!Step(now, budget, &out)) {
    }
    return out;
  }
  uint64_t DueInModel(uint64_t now) const {
    return std::count_if(linked.begin(), linked.end(), [&](auto& kv) { return kv.second <= now; });
  }
};

TEST_CASE("ExpiryWheel: an entry expires exactly at its deadline") {
  for (uint64_t start : {uint64_t(0), uint64_t(123456789), (uint64_t(1) << 32) - 10,
                         (uint64_t(1) << 33) + 7}) {
    CAPTURE(start);
    Harness h(start);
    uint32_t a = h.Add(start + 1);
    uint32_t b = h.Add(start + 100);
    uint32_t c = h.Add(start + 100);
    CHECK(h.wheel.size() == 3);
    CHECK(h.wheel.DueCount(start) == 0);
    CHECK(h.wheel.DueCount(start + 1) == 1);
    CHECK(h.wheel.DueCount(start + 99) == 1);
    CHECK(h.wheel.DueCount(start + 100) == 3);
    CHECK(h.Run(start).empty());
    CHECK(h.Run(start + 1) == std::vector<uint32_t>{a});
    CHECK(h.Run(start + 99).empty());
    CHECK(h.wheel.DueCount(start + 99) == 0);
    CHECK(h.wheel.DueCount(start + 100) == 2);
    std::vector<uint32_t> got = h.Run(start + 100);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<uint32_t>{std::min(b, c), std::max(b, c)});
    CHECK(h.wheel.empty());
    CHECK(h.wheel.CheckConsistency() == "");
    CHECK(h.bad_expiries == 0);
  }
}

// Deadlines in the near ring, the far ring, and beyond the far ring (several revolutions),
// reached in one call or in steps, each checked 1 ms before and at its deadline.
TEST_CASE("ExpiryWheel: far deadlines expire at the right time, in large and small steps") {
  const uint64_t offsets[] = {20 * kSec, 5 * kMin, 2 * kHour, 18 * kHour + 40 * kMin,
                              30 * kHour, 3 * kDay, 20 * kDay, 24 * kDay};
  for (uint64_t start : {uint64_t(5), (uint64_t(1) << 32) - 3 * kHour, (uint64_t(1) << 33) - 7,
                         uint64_t(987654321)}) {
    for (uint64_t step : {uint64_t(0), uint64_t(997), 17 * kSec, 3 * kHour + 1}) {  // 0: one jump
      CAPTURE(start);
      CAPTURE(step);
      Harness h(start);
      std::map<uint64_t, uint32_t> by_deadline;
      for (uint64_t off : offsets) by_deadline[start + off] = h.Add(start + off);
      // Neighbours on window edges, so a misfiled one shows.
      for (uint64_t off : offsets) {
        uint64_t edge = ((start + off) / kWindow + 1) * kWindow;
        by_deadline.emplace(edge, Arena::kNil);
        by_deadline.emplace(edge - 1, Arena::kNil);
      }
      for (auto& [d, id] : by_deadline) {
        if (id == Arena::kNil) id = h.Add(d);
      }
      CHECK(h.wheel.CheckConsistency() == "");
      uint64_t now = start;
      size_t early = 0;
      for (auto& [d, id] : by_deadline) {
        CAPTURE(d - start);
        // Up to 1 ms before the deadline: not reclaimed.
        if (step == 0) {
          now = d - 1;
          early += h.Run(now).size();
        } else {
          while (now < d - 1) {
            now = std::min(now + step, d - 1);
            early += h.Run(now).size();
          }
        }
        CHECK(early == 0);
        CHECK(h.linked.count(id) == 1);
        CHECK(h.wheel.DueCount(d - 1) == 0);
        CHECK(h.wheel.DueCount(d) == 1);
        now = d;
        CHECK(h.Run(now) == std::vector<uint32_t>{id});
        CHECK(h.wheel.CheckConsistency() == "");
      }
      CHECK(h.wheel.empty());
      CHECK(h.bad_expiries == 0);
    }
  }
}

TEST_CASE("ExpiryWheel: a million entries with one deadline, reclaimed under a budget") {
  const uint64_t start = 1000;
  const uint64_t deadline = start + 50 * kSec;  // far ring at insert: cascaded under budget too
  const size_t n = 1'000'000;
  TestArena arena;
  ExpiryWheel wheel(&arena, start);
  std::vector<uint32_t> ids(n);
  uint32_t max_id = 0;
  for (size_t i = 0; i < n; ++i) {
    ids[i] = arena.Alloc();
    wheel.Insert(ids[i], deadline);
    max_id = std::max(max_id, ids[i]);
  }
  std::vector<uint8_t> seen(size_t(max_id) + 1);
  size_t reclaimed = 0, twice = 0, stray = 0;
  for (uint32_t id : ids) seen[id] = 1;  // 1: linked, 2: reclaimed
  auto expire = [&](uint32_t id) {
    if (seen[id] == 2) ++twice;
    else if (seen[id] != 1) ++stray;
    seen[id] = 2;
    ++reclaimed;
  };
  // Up to the tick before the deadline nothing goes, though the cascade runs under the budget.
  int calls = 0;
  while (!wheel.Advance(deadline - 1, 20000, expire)) ++calls;
  CHECK(reclaimed == 0);
  CHECK(calls >= 40);  // the million far entries moved 20000 at a time
  CHECK(wheel.DueCount(deadline - 1) == 0);
  CHECK(wheel.DueCount(deadline) == n);
  CHECK(wheel.CheckConsistency() == "");

  calls = 0;
  size_t due_mismatch = 0;
  uint64_t now = deadline + 3;
  while (!wheel.Advance(now, 20000, expire)) {
    ++calls;
    if (wheel.DueCount(now) != n - reclaimed) ++due_mismatch;
    if (wheel.size() != n - reclaimed) ++due_mismatch;
  }
  CHECK(calls >= 49);
  CHECK(calls <= 51);
  CHECK(due_mismatch == 0);
  CHECK(reclaimed == n);
  CHECK(twice == 0);
  CHECK(stray == 0);
  CHECK(wheel.empty());
  CHECK(wheel.CheckConsistency() == "");
  CHECK(wheel.DueCount(now) == 0);
  CHECK(std::all_of(ids.begin(), ids.end(), [&](uint32_t id) { return seen[id] == 2; }));
}

TEST_CASE("ExpiryWheel: a lagging reclaim resumes and DueCount stays exact") {
  // Entries over two hours; reclaiming only starts two hours later, a few at a time.
  const uint64_t start = 77;
  Harness h(start);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) h.Add(start + 1 + rng() % (2 * kHour));
  for (uint64_t t : {start, start + 1, start + 10 * kSec, start + kMin, start + 20 * kMin,
                     start + kHour, start + 2 * kHour + 1}) {
    CAPTURE(t - start);
    CHECK(h.wheel.DueCount(t) == h.DueInModel(t));
  }
  uint64_t now = start + 2 * kHour + 5;
  std::vector<uint32_t> out;
  int calls = 0;
  while (!h.Step(now, 1 + rng() % 300, &out)) {
    if (++calls % 16 == 0) {
      REQUIRE(h.wheel.CheckConsistency() == "");
      REQUIRE(h.wheel.DueCount(now) == h.DueInModel(now));
      REQUIRE(h.wheel.DueCount(now - 30 * kMin) == h.DueInModel(now - 30 * kMin));
    }
  }
  CHECK(out.size() == 20000);
  CHECK(h.wheel.empty());
  CHECK(h.bad_expiries == 0);
}

TEST_CASE("ExpiryWheel: Remove from head, middle and tail of near and far slots") {
  for (uint64_t start : {uint64_t(0), (uint64_t(1) << 32) - 20 * kSec}) {
    for (uint64_t off : {uint64_t(500), 20 * kSec, 3 * kHour, 20 * kHour, 40 * kHour}) {
      for (int which = 0; which < 3; ++which) {
        CAPTURE(start);
        CAPTURE(off);
        CAPTURE(which);
        Harness h(start);
        uint64_t d = start + off;
        // Three in one slot: the list holds them newest first.
        uint32_t first = h.Add(d), second = h.Add(d), third = h.Add(d);
        uint32_t other = h.Add(d + 1);
        uint32_t victim = which == 0 ? third : which == 1 ? second : first;
        h.Del(victim);
        CHECK(h.wheel.CheckConsistency() == "");
        CHECK(h.wheel.size() == 3);
        CHECK(h.wheel.DueCount(d) == 2);
        CHECK(h.Run(d - 1).empty());
        std::vector<uint32_t> got = h.Run(d);
        std::sort(got.begin(), got.end());
        std::vector<uint32_t> want;
        for (uint32_t id : {first, second, third}) {
          if (id != victim) want.push_back(id);
        }
        std::sort(want.begin(), want.end());
        CHECK(got == want);
        CHECK(h.Run(d + 1) == std::vector<uint32_t>{other});
        CHECK(h.wheel.empty());
        CHECK(h.bad_expiries == 0);
      }
    }
  }
}

TEST_CASE("ExpiryWheel: Remove and Insert while a cascade is paused") {
  // Window 2 (ticks 32768..49151) is far at start 0 and is cascaded when tick 16384 comes up.
  const uint64_t start = 0;
  const uint64_t cascade_tick = kWindow;
  const int n = 5;
  for (int budget = 0; budget <= n; ++budget) {
    for (int victim = 0; victim < n; ++victim) {
      CAPTURE(budget);
      CAPTURE(victim);
      Harness h(start);
      std::vector<uint32_t> ids;
      for (int i = 0; i < n; ++i) ids.push_back(h.Add(2 * kWindow + 100 + i));
      // A later revolution of the same far slot, and the neighbouring windows.
      uint32_t next_round = h.Add(2 * kWindow + 100 + kFarSpan);
      uint32_t before = h.Add(2 * kWindow - 1);
      uint32_t after = h.Add(3 * kWindow);

      std::vector<uint32_t> out;
      // Stops `budget` entries into the cascade of the slot's n + 1 entries.
      CHECK_FALSE(h.Step(cascade_tick, budget, &out));
      CHECK(out.empty());
      CHECK(h.wheel.CheckConsistency() == "");
      CHECK(h.wheel.DueCount(cascade_tick) == 0);
      CHECK(h.wheel.DueCount(2 * kWindow + 102) == 3 + 1);

      // Remove one of the window being cascaded, whichever the cursor is on.
      h.Del(ids[victim]);
      // Insert into the window being cascaded, behind and ahead of the cursor, and into the
      // slot's next revolution.
      uint32_t late1 = h.Add(2 * kWindow + 99);
      uint32_t late2 = h.Add(2 * kWindow + 200);
      uint32_t late3 = h.Add(2 * kWindow + 100 + kFarSpan + 1);
      CHECK(h.wheel.CheckConsistency() == "");
      CHECK(h.wheel.DueCount(2 * kWindow + 102) == 3 + 1 + 1 - (victim <= 2 ? 1 : 0));

      CHECK(h.Run(2 * kWindow - 2, 1).empty());
      CHECK(h.Run(2 * kWindow - 1) == std::vector<uint32_t>{before});
      CHECK(h.Run(2 * kWindow + 98).empty());
      CHECK(h.Run(2 * kWindow + 99) == std::vector<uint32_t>{late1});
      for (int i = 0; i < n; ++i) {
        std::vector<uint32_t> got = h.Run(2 * kWindow + 100 + i, 1);
        if (i == victim) {
          CHECK(got.empty());
        } else {
          CHECK(got == std::vector<uint32_t>{ids[i]});
        }
      }
      CHECK(h.Run(2 * kWindow + 199).empty());
      CHECK(h.Run(2 * kWindow + 200) == std::vector<uint32_t>{late2});
      CHECK(h.Run(3 * kWindow) == std::vector<uint32_t>{after});
      CHECK(h.Run(2 * kWindow + 99 + kFarSpan).empty());
      CHECK(h.Run(2 * kWindow + 100 + kFarSpan) == std::vector<uint32_t>{next_round});
      CHECK(h.Run(2 * kWindow + 101 + kFarSpan) == std::vector<uint32_t>{late3});
      CHECK(h.wheel.empty());
      CHECK(h.bad_expiries == 0);
    }
  }
}

TEST_CASE("ExpiryWheel: Insert of a deadline already past") {
  for (uint64_t start : {uint64_t(10 * kSec), (uint64_t(1) << 32) + 3}) {
    CAPTURE(start);
    Harness h(start);
    CHECK(h.Run(start + 500).empty());
    uint64_t now = start + 500;
    uint32_t past = h.Add(now - 400);
    uint32_t present = h.Add(now);
    uint32_t future = h.Add(now + 1);
    // Due at once, before any Advance, and counted as due at and after its own deadline.
    CHECK(h.wheel.DueCount(now) == 2);
    CHECK(h.wheel.DueCount(now - 400) == 1);
    CHECK(h.wheel.DueCount(now - 401) == 0);
    CHECK(h.wheel.DueCount(now + 1) == 3);
    // Reclaimed with the next tick, not by an Advance to the time already reclaimed.
    CHECK(h.Run(now).empty());
    CHECK(h.wheel.DueCount(now) == 2);
    std::vector<uint32_t> got = h.Run(now + 1);
    std::sort(got.begin(), got.end());
    std::vector<uint32_t> want = {past, present, future};
    std::sort(want.begin(), want.end());
    CHECK(got == want);

    // Removing a past entry before it is reclaimed keeps the counts right.
    now += 1;
    uint32_t p1 = h.Add(now - 5);
    uint32_t p2 = h.Add(now - 5);
    CHECK(h.wheel.DueCount(now) == 2);
    h.Del(p1);
    CHECK(h.wheel.CheckConsistency() == "");
    CHECK(h.wheel.DueCount(now) == 1);
    CHECK(h.Run(now + 1) == std::vector<uint32_t>{p2});
    CHECK(h.wheel.DueCount(now + 1) == 0);
    CHECK(h.wheel.empty());
    CHECK(h.bad_expiries == 0);
  }
}

TEST_CASE("ExpiryWheel: Moved puts a copied entry in the original's place") {
  Harness h(0);
  // Head, middle and tail of a near slot's list, and of a far one, and the entry a paused cascade
  // is about to visit.
  for (uint64_t d : {uint64_t(500), uint64_t(10 * kMin)}) {
    std::vector<uint32_t> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(h.Add(d));
    for (int i = 0; i < 3; ++i) {
      uint32_t from = ids[i];
      uint32_t to = h.arena.Alloc();
      std::memcpy(HeaderOf(h.arena, to), HeaderOf(h.arena, from), sizeof(Header));
      h.wheel.Moved(from, to);
      h.linked.erase(from);
      h.linked[to] = d;
      ids[i] = to;
      CHECK(h.wheel.CheckConsistency() == "");
    }
  }
  CHECK(h.Run(500).size() == 3);
  CHECK(h.Run(10 * kMin).size() == 3);
  CHECK(h.wheel.empty());

  Harness c(0);
  std::vector<uint32_t> cascading;
  for (int i = 0; i < 4; ++i) cascading.push_back(c.Add(2 * kWindow + 7));
  std::vector<uint32_t> out;
  CHECK_FALSE(c.Step(kWindow, 2, &out));  // the cascade of window 2 pauses halfway
  CHECK(out.empty());
  for (uint32_t& id : cascading) {
    uint32_t to = c.arena.Alloc();
    std::memcpy(HeaderOf(c.arena, to), HeaderOf(c.arena, id), sizeof(Header));
    c.wheel.Moved(id, to);
    c.linked.erase(id);
    c.linked[to] = 2 * kWindow + 7;
    id = to;
    CHECK(c.wheel.CheckConsistency() == "");
  }
  std::vector<uint32_t> got = c.Run(2 * kWindow + 7);
  std::sort(got.begin(), got.end());
  std::sort(cascading.begin(), cascading.end());
  CHECK(got == cascading);
  CHECK(c.wheel.empty());
  CHECK(c.bad_expiries == 0);
  CHECK(h.bad_expiries == 0);
}

// Random inserts, removes and budgeted advances over simulated hours against a multimap model.
void RunModel(uint64_t start, uint64_t seed, uint64_t duration) {
  CAPTURE(start);
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  auto rnd = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  TestArena arena;
  ExpiryWheel wheel(&arena, start);
  std::multimap<uint64_t, uint32_t> model;  // deadline -> id, linked entries
  std::unordered_map<uint32_t, std::multimap<uint64_t, uint32_t>::iterator> where;
  std::vector<uint32_t> ids;  // linked, for picking one at random
  std::unordered_map<uint32_t, size_t> index;
  uint64_t now = start;
  size_t errors = 0, steps = 0, inserted = 0, removed = 0, expired_total = 0;
  std::string first_error;
  auto fail = [&](const char* what) {
    if (errors++ == 0) first_error = what;
  };
  bool caught_up = true;
  uint64_t caught_up_at = start;  // processed_ when Advance last returned true

  auto unlink_model = [&](uint32_t id) {
    auto it = where.find(id);
    if (it == where.end()) return false;
    model.erase(it->second);
    where.erase(it);
    size_t i = index[id];
    index[ids.back()] = i;
    ids[i] = ids.back();
    ids.pop_back();
    index.erase(id);
    return true;
  };
  auto due_in_model = [&](uint64_t t) {
    return uint64_t(std::distance(model.begin(), model.upper_bound(t)));
  };

  while (now < start + duration) {
    ++steps;
    uint64_t op = rnd(100);
    if (op < 40) {
      // Mostly a few independent deadlines; sometimes a burst sharing one deadline, so slots and
      // far windows hold more than a budget's worth and cascades pause halfway.
      bool burst = rnd(20) == 0;
      uint64_t d = 0;
      for (uint64_t k = burst ? 50 + rnd(250) : 1 + rnd(20); k > 0; --k) {
        uint64_t r = rnd(100);
        if (burst && d != 0) r = 100;  // keep the burst's deadline
        if (r < 40) d = now + rnd(40 * kSec);
        else if (r < 60) d = now + rnd(20 * kMin);
        else if (r < 75) d = now + rnd(30 * kHour);
        else if (r < 80) d = now + rnd(20 * kDay);
        else if (r < 92) d = std::max<uint64_t>((now / kWindow + rnd(4)) * kWindow + rnd(3), 1) - 1;
        else if (r < 100) d = now - std::min(now - start, rnd(5 * kSec));  // already past
        uint32_t id = arena.Alloc();
        std::memset(HeaderOf(arena, id), 0, sizeof(Header));
        wheel.Insert(id, d);
        where[id] = model.emplace(d, id);
        index[id] = ids.size();
        ids.push_back(id);
        ++inserted;
      }
    } else if (op < 60) {
      for (uint64_t k = 1 + rnd(5); k > 0 && !ids.empty(); --k) {
        uint32_t id = ids[rnd(ids.size())];
        wheel.Remove(id);
        unlink_model(id);
        arena.Free(id);
        ++removed;
      }
    } else {
      uint64_t r = rnd(1000);
      if (r < 700) now += 1 + rnd(50);
      else if (r < 950) now += rnd(5 * kSec);
      else if (r < 995) now += rnd(3 * kMin);
      else now += rnd(kHour);
      size_t budget = rnd(4) == 0 ? kAll : 1 + rnd(rnd(2) ? 50 : 2000);
      int calls = rnd(3) == 0 ? 100000 : 1;  // often leave the reclaim lagging
      for (int c = 0; c < calls; ++c) {
        caught_up = wheel.Advance(now, budget, [&](uint32_t id) {
          auto it = where.find(id);
          if (it == where.end() || it->second->first > now) fail("reclaimed an entry not linked or not due");
          unlink_model(id);
          arena.Free(id);
          ++expired_total;
        });
        if (caught_up) break;
      }
      // Once caught up nothing due is left, except entries inserted already past since the wheel
      // last caught up at this same time (they wait for the next tick; see Insert).
      if (caught_up && caught_up_at != now && !model.empty() && model.begin()->first <= now) {
        fail("caught up but a due entry is left");
      }
      if (caught_up) caught_up_at = now;
    }
    if (wheel.size() != model.size()) fail("size differs");
    if (rnd(caught_up ? 32 : 6) == 0) {  // not caught up: maybe mid-cascade
      if (std::string e = wheel.CheckConsistency(); !e.empty()) {
        fail("CheckConsistency failed");
        first_error += ": " + e;
      }
    }
    if (wheel.DueCount(now) != due_in_model(now)) fail("DueCount(now) differs");
    if (rnd(8) == 0) {
      uint64_t t = now + rnd(2 * kNearSpan) - std::min(now - start, rnd(kNearSpan));
      if (wheel.DueCount(t) != due_in_model(t)) fail("DueCount(t) differs");
    }
    if (errors != 0) {
      CAPTURE(steps);
      CAPTURE(now - start);
      CAPTURE(first_error);
      REQUIRE(errors == 0);
    }
  }
  // Catch up completely in one go: everything left is in the future.
  while (!wheel.Advance(now, kAll, [&](uint32_t id) {
    if (!unlink_model(id)) fail("final catch-up reclaimed an unknown entry");
    arena.Free(id);
  })) {
  }
  CAPTURE(first_error);
  CHECK(errors == 0);
  CHECK(wheel.CheckConsistency() == "");
  CHECK(wheel.size() == model.size());
  CHECK((model.empty() || model.begin()->first > now));
  CHECK(inserted > 1000);
  CHECK(removed > 100);
  CHECK(expired_total > 1000);
}

TEST_CASE("ExpiryWheel: randomized model test against a multimap") {
  RunModel(0, 1, 6 * kHour);
  RunModel(123456, 2, 6 * kHour);
  RunModel(98765432, 5, 12 * kHour);
  RunModel((uint64_t(1) << 32) - 2 * kHour, 3, 5 * kHour);
  RunModel((uint64_t(1) << 33) - 20 * kMin, 4, 3 * kHour);
}

}  // namespace
}  // namespace kvd::store
