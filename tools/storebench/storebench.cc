// storebench: the store's scaling, without the network. N threads run what a reactor does below
// the socket for the seed's workload — batches of 16 requests, each key hashed and prefetched
// (Store::Prefetch) as it is "parsed", the batch prefetched (Store::PrefetchBatch) at its end,
// then the operations in order (80% GET with the value copied out, 20% SET) — over one shared
// store of 1M keys, and it reports operations per second per thread count, how that scales, and
// what the shard locks cost (acquisitions that had to wait, and the time they waited). First it
// measures what moving a cache line between two CPUs costs here, the unit scaling is paid in.
// Thread i runs on the i-th CPU the process may use (taskset chooses them).
//
//   build/storebench [--threads=1,2] [--shards=x1,x16] [--keys=1000000] [--seconds=3]
//                    [--value-bytes=8] [--batch=16] [--get-percent=80] [--owned] [--handoff]
//                    [--repeat=1]
//                    [--json=FILE]
//
// --shards takes counts ("2") or multiples of the thread count ("x1", "x16"). A 1-thread store
// is measured unshared (no locks, as kvd builds it with --threads=1) and shared; speedups are
// over the unshared one with the same shard rule. --owned (the default) adds, above one thread,
// each thread on a store of its own holding its share of the keys: the bound of a shared-nothing
// design whose hand-offs cost nothing. --handoff (the default) adds that design with real
// hand-offs: every thread draws keys from the whole keyspace as before, runs those it owns on its
// own unlocked store, and passes the others to their owner through a ring (one per pair of
// threads, single producer and consumer), which runs them and copies GET values into the sender's
// buffers; the sender waits for its batch's answers, serving its own ring meanwhile. Owners poll,
// never sleep, so the cost of waking one (an eventfd write and an epoll return in a reactor) is not
// in it. Each run starts from a freshly filled store; with --repeat=N every configuration runs N
// times, interleaved, and its row is the median run.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"
#include "kvbench/rng.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/flag_names.h"

ABSL_FLAG(std::string, threads, "", "thread counts to run (default: 1 up to the CPUs, doubling)");
ABSL_FLAG(std::string, shards, "x1", "shard counts, or xN for N per thread");
ABSL_FLAG(uint64_t, keys, 1000000, "keys, all written before each run");
ABSL_FLAG(double, seconds, 3, "length of each run");
ABSL_FLAG(int, value_bytes, 8, "value size");
ABSL_FLAG(int, batch, 16, "requests per batch (kvd defers up to 16 of a read)");
ABSL_FLAG(int, get_percent, 80, "share of GETs; the rest are SETs");
ABSL_FLAG(std::string, json, "", "also write the rows as JSON to this file");
ABSL_FLAG(int, repeat, 1, "runs of each configuration (interleaved); rows are the medians");
ABSL_FLAG(bool, owned, true,
          "also run each thread on a store of its own (the shared-nothing bound) above 1 thread");
ABSL_FLAG(bool, handoff, true,
          "also run each thread on a store of its own, handing other threads' keys to them, above 1 thread");

namespace {

using kvd::store::HashedKey;
using kvd::store::SetMode;
using kvd::store::Store;

constexpr uint64_t kTtlMs = uint64_t(3600) * 1000;

// The CPUs this process may run on, in order (taskset's list), as it started.
const std::vector<int>& AllowedCpus() {
  static const std::vector<int> cpus = [] {
    std::vector<int> v;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) v.push_back(c);
      }
    }
    if (v.empty()) v.push_back(0);
    return v;
  }();
  return cpus;
}

size_t UsableCpus() { return AllowedCpus().size(); }

// Pins the calling thread to the i-th allowed CPU (modulo their count).
void PinTo(size_t i) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(AllowedCpus()[i % UsableCpus()], &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

// What moving one cache line from one CPU to another costs, the unit every figure below is paid
// in: two threads on the first two allowed CPUs take turns writing one word, each waiting to see the other's
// turn, so each turn is one transfer. Nanoseconds a turn, the median of 5 runs of up to 1M turns
// or 0.2 s (a run on a busy machine stops early, rather than wait on a preempted partner).
double LineTransferNs() {
  constexpr uint64_t kTurns = 1000000;
  constexpr uint64_t kMaxNanos = 200000000;
  std::vector<double> runs;
  for (int run = 0; run < 5; ++run) {
    alignas(64) std::atomic<uint64_t> turn{0};
    std::atomic<bool> over{false};
    const uint64_t start = kvd::MonotonicNanos();
    auto play = [&](size_t cpu, uint64_t first) {
      PinTo(cpu);
      for (uint64_t i = first; i < kTurns; i += 2) {
        for (uint32_t spins = 0; turn.load(std::memory_order_acquire) != i; ++spins) {
          if (spins % 4096 == 4095 && (over.load() || kvd::MonotonicNanos() - start > kMaxNanos)) {
            over.store(true);
            return;
          }
        }
        turn.store(i + 1, std::memory_order_release);
      }
    };
    std::thread a(play, 0, 0), b(play, 1, 1);
    a.join();
    b.join();
    const uint64_t turns = turn.load();
    if (turns > 0) runs.push_back(double(kvd::MonotonicNanos() - start) / double(turns));
  }
  std::sort(runs.begin(), runs.end());
  return runs.empty() ? 0 : runs[runs.size() / 2];
}

// The start and end of a timed run, which its threads watch.
struct RunClock {
  std::atomic<bool> go{false}, stop{false};
  void AwaitStart() const {
    while (!go.load(std::memory_order_acquire)) {
    }
  }
  bool Stopped() const { return stop.load(std::memory_order_relaxed); }
};

// Runs body(t, clock) on `threads` threads, thread t pinned to the t-th allowed CPU: each sets up,
// calls clock.AwaitStart(), works until clock.Stopped() and returns its operations. They start
// together and are stopped after `seconds`. Returns the operations per second of all of them.
template <class Body>
double TimedRun(size_t threads, double seconds, Body&& body) {
  RunClock clock;
  std::vector<uint64_t> ops(threads, 0);
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      PinTo(t);  // one thread a CPU, as kvd's reactors end up under load
      ops[t] = body(t, clock);
    });
  }
  const uint64_t start = kvd::MonotonicNanos();
  clock.go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  clock.stop.store(true);
  for (auto& th : pool) th.join();
  const double elapsed = double(kvd::MonotonicNanos() - start) / 1e9;
  uint64_t total = 0;
  for (uint64_t n : ops) total += n;
  return double(total) / elapsed;
}

struct Row {
  size_t threads, shards;
  bool shared;
  bool owned;
  bool handoff;
  double ops_per_sec;
  uint64_t lock_waits;
  double lock_wait_ms;
  double speedup;  // over the unlocked 1-thread row with the same shard rule
};

// Keys "0".."keys-1" as the workload names them (HTTP's /<n> without its '/').
std::string Key(uint64_t i) { return std::to_string(i); }

Row Run(size_t threads, size_t shards, bool shared, bool owned, uint64_t keys, double seconds,
        int value_bytes, int batch, int get_percent) {
  const uint64_t t0 = kvd::MonotonicMs();
  const std::string value(size_t(value_bytes), 'v');
  // Owned: thread t has a store of its own, unlocked, holding keys t, t + threads, ...: the bound
  // a shared-nothing design (each key's requests run by its owner thread) approaches when handing
  // a request over costs nothing.
  const size_t stores = owned ? threads : 1;
  std::vector<std::unique_ptr<Store>> own;
  for (size_t i = 0; i < stores; ++i) {
    own.push_back(std::make_unique<Store>(owned ? std::max<size_t>(1, shards / threads) : shards,
                                          uint64_t(16) << 30, t0, shared && !owned));
  }
  for (uint64_t i = 0; i < keys; ++i) own[i % stores]->Set(Key(i), value, kTtlMs, SetMode::kAlways, t0);
  const Store::LockStats before = own[0]->Locks();

  const double ops_per_sec = TimedRun(threads, seconds, [&](size_t t, const RunClock& clock) {
    kvbench::SplitMix64 rng(0x1234 + t);  // one per thread
    Store& store = *own[owned ? t : 0];
    std::vector<std::string> names(static_cast<size_t>(batch));
    std::vector<HashedKey> hashed(static_cast<size_t>(batch));
    std::vector<bool> is_get(static_cast<size_t>(batch));
    std::string out;
    out.reserve(size_t(value_bytes) + 64);
    uint64_t n = 0;
    clock.AwaitStart();
    while (!clock.Stopped()) {
      const uint64_t now = kvd::MonotonicMs();
      for (int i = 0; i < batch; ++i) {
        uint64_t k = rng.Next() % keys;
        if (owned) {  // thread t's keys only: t, t + stores, ...
          k = k - k % stores + t;
          if (k >= keys) k = t;
        }
        names[i] = Key(k);
        is_get[i] = int(rng.Next() % 100) < get_percent;
        hashed[i] = HashedKey(names[i]);
        store.Prefetch(hashed[i]);
      }
      store.PrefetchBatch(hashed.data(), hashed.size());
      for (int i = 0; i < batch; ++i) {
        if (is_get[i]) {
          store.Get(hashed[i], now, [&](std::string_view v) { out.assign(v); });
        } else {
          store.Set(hashed[i], value, kTtlMs, SetMode::kAlways, now);
        }
      }
      n += uint64_t(batch);
    }
    return n;
  });
  const Store::LockStats after = own[0]->Locks();
  return {threads, shards, shared && !owned, owned, false, ops_per_sec,
          after.waits - before.waits, double(after.wait_ns - before.wait_ns) / 1e6, 0};
}

// A request handed to its key's owner: the owner runs it on its store, copies a GET's value to
// *out, and moves the ring's tail past it. The key travels in the slot (the workload's keys
// are decimal numbers, at most 15 digits), so the owner reads no line of the sender's but the
// slot's; `out` is the sender's, valid until then.
struct Handed {
  size_t hash;
  std::string* out;  // nullptr: a SET
  uint8_t len;
  char key[15];
};

// One sender's requests to one owner. The sender writes slots and publishes them with `head`; the
// owner runs them in order, then gives the slots back and the answers with `tail` (so the sender
// knows a request is answered once tail has passed it). Each on its own line, as the two sides
// write them.
struct Ring {
  static constexpr uint32_t kSize = 1024;  // a power of 2, at least kInFlight batches
  alignas(64) std::atomic<uint32_t> head{0};
  alignas(64) std::atomic<uint32_t> tail{0};
  alignas(64) Handed slots[kSize];
};

// Batches a thread has handed out and not yet seen answered, as from that many connections
// (4 and 8 measured alike here).
constexpr size_t kInFlight = 8;

Row RunHandoff(size_t threads, size_t shards, uint64_t keys, double seconds, int value_bytes, int batch,
               int get_percent) {
  const uint64_t t0 = kvd::MonotonicMs();
  const std::string value(size_t(value_bytes), 'v');
  // The owner from bits the stores' shard choice (hash >> 40) does not use.
  auto owner = [threads](const HashedKey& k) { return size_t((k.hash >> 32) & 0xff) % threads; };
  std::vector<std::unique_ptr<Store>> own;
  for (size_t i = 0; i < threads; ++i) {
    own.push_back(std::make_unique<Store>(std::max<size_t>(1, shards / threads), uint64_t(16) << 30, t0, false));
  }
  for (uint64_t i = 0; i < keys; ++i) {
    const std::string k = Key(i);
    own[owner(HashedKey(k))]->Set(k, value, kTtlMs, SetMode::kAlways, t0);
  }
  std::vector<std::unique_ptr<Ring>> rings(threads * threads);  // [sender * threads + owner]
  for (auto& r : rings) r = std::make_unique<Ring>();

  // Runs what other threads handed to `self`, prefetching it first as a batch of its own.
  auto serve = [&](size_t self) {
    Store& store = *own[self];
    for (size_t from = 0; from < threads; ++from) {
      if (from == self) continue;
      Ring& r = *rings[from * threads + self];
      const uint32_t tail = r.tail.load(std::memory_order_relaxed);
      const uint32_t head = r.head.load(std::memory_order_acquire);
      if (head == tail) continue;
      HashedKey handed[Ring::kSize];
      uint32_t m = 0;
      for (uint32_t i = tail; i != head; ++i, ++m) {
        const Handed& h = r.slots[i % Ring::kSize];
        handed[m] = HashedKey(std::string_view(h.key, h.len), h.hash);
        store.Prefetch(handed[m]);
      }
      store.PrefetchBatch(handed, m);
      const uint64_t now = kvd::MonotonicMs();
      for (uint32_t i = tail, j = 0; i != head; ++i, ++j) {
        std::string* out = r.slots[i % Ring::kSize].out;
        if (out != nullptr) {
          if (!store.Get(handed[j], now, [&](std::string_view v) { out->assign(v); })) out->clear();
        } else {
          store.Set(handed[j], value, kTtlMs, SetMode::kAlways, now);
        }
      }
      r.tail.store(head, std::memory_order_release);
    }
  };

  std::atomic<size_t> running{threads}, finished{0};
  const double ops_per_sec = TimedRun(threads, seconds, [&](size_t t, const RunClock& clock) {
    kvbench::SplitMix64 rng(0x1234 + t);
    Store& store = *own[t];
    // kInFlight batches, as from that many connections: a reactor goes on with other
    // connections while one waits for its answers.
    struct Batch {
      std::vector<std::string> names, outs;
      std::vector<HashedKey> hashed;
      std::vector<bool> is_get, mine;
      std::vector<uint32_t> upto;  // per owner: its ring's head after this batch
    };
    std::vector<Batch> flight(kInFlight);
    for (Batch& b : flight) {
      b.names.resize(size_t(batch));
      b.outs.resize(size_t(batch));
      b.hashed.resize(size_t(batch));
      b.is_get.resize(size_t(batch));
      b.mine.resize(size_t(batch));
      b.upto.resize(threads);
    }
    std::vector<HashedKey> local(static_cast<size_t>(batch));
    std::vector<uint32_t> heads(threads);
    uint64_t n = 0;
    clock.AwaitStart();
    for (uint64_t seq = 0; !clock.Stopped(); ++seq) {
      Batch& b = flight[seq % kInFlight];
      if (seq >= kInFlight) {  // the batch that used these buffers is answered once all is back
        for (size_t o = 0; o < threads; ++o) {
          const Ring& r = *rings[t * threads + o];
          while (o != t && int32_t(r.tail.load(std::memory_order_acquire) - b.upto[o]) < 0) serve(t);
        }
        n += uint64_t(batch);
      }
      const uint64_t now = kvd::MonotonicMs();
      for (size_t o = 0; o < threads; ++o) heads[o] = rings[t * threads + o]->head.load(std::memory_order_relaxed);
      size_t nl = 0;
      for (int i = 0; i < batch; ++i) {
        b.names[i] = Key(rng.Next() % keys);
        b.is_get[i] = int(rng.Next() % 100) < get_percent;
        b.hashed[i] = HashedKey(b.names[i]);
        const size_t o = owner(b.hashed[i]);
        b.mine[i] = o == t;
        if (b.mine[i]) {
          store.Prefetch(b.hashed[i]);
          local[nl++] = b.hashed[i];
          continue;
        }
        Handed& h = rings[t * threads + o]->slots[heads[o]++ % Ring::kSize];
        h.hash = b.hashed[i].hash;
        h.out = b.is_get[i] ? &b.outs[i] : nullptr;
        h.len = uint8_t(b.names[i].size());
        std::memcpy(h.key, b.names[i].data(), b.names[i].size());
      }
      for (size_t o = 0; o < threads; ++o) {  // published once a batch, not once a request
        if (o != t) rings[t * threads + o]->head.store(heads[o], std::memory_order_release);
      }
      b.upto = heads;
      store.PrefetchBatch(local.data(), nl);
      for (int i = 0; i < batch; ++i) {
        if (!b.mine[i]) continue;
        if (b.is_get[i]) {
          store.Get(b.hashed[i], now, [&](std::string_view v) { b.outs[i].assign(v); });
        } else {
          store.Set(b.hashed[i], value, kTtlMs, SetMode::kAlways, now);
        }
      }
      serve(t);
    }
    running.fetch_sub(1);
    while (running.load() != 0) serve(t);  // others may still wait on this thread
    // And this thread's buffers stay until no one is still answering into them.
    finished.fetch_add(1);
    while (finished.load() != threads) {
    }
    return n;
  });
  return {threads, shards, false, false, true, ops_per_sec, 0, 0, 0};
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("storebench: the store's scaling across threads, without the network");
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> ptrs = kvd::NormalizeFlagNames(&args);
  absl::ParseCommandLine(int(ptrs.size()), ptrs.data());

  std::vector<size_t> thread_counts;
  for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_threads), ',', absl::SkipEmpty())) {
    size_t n;
    if (!absl::SimpleAtoi(t, &n) || n == 0) {
      std::fprintf(stderr, "storebench: bad --threads entry '%.*s'\n", int(t.size()), t.data());
      return 2;
    }
    thread_counts.push_back(n);
  }
  if (thread_counts.empty()) {
    for (size_t n = 1; n <= UsableCpus(); n *= 2) thread_counts.push_back(n);
    if (thread_counts.back() != UsableCpus()) thread_counts.push_back(UsableCpus());
  }
  struct ShardRule {
    bool per_thread;
    size_t n;
    std::string label;
  };
  std::vector<ShardRule> rules;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_shards), ',', absl::SkipEmpty())) {
    bool per = !s.empty() && s[0] == 'x';
    size_t n;
    if (!absl::SimpleAtoi(per ? s.substr(1) : s, &n) || n == 0) {
      std::fprintf(stderr, "storebench: bad --shards entry '%.*s'\n", int(s.size()), s.data());
      return 2;
    }
    rules.push_back({per, n, std::string(s)});
  }
  const uint64_t keys = absl::GetFlag(FLAGS_keys);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int value_bytes = absl::GetFlag(FLAGS_value_bytes), batch = absl::GetFlag(FLAGS_batch);
  const int get_percent = absl::GetFlag(FLAGS_get_percent);
  if (absl::GetFlag(FLAGS_repeat) < 1 || absl::GetFlag(FLAGS_repeat) > 100) {
    std::fprintf(stderr, "storebench: --repeat must be 1..100\n");
    return 2;
  }
  // Hand-offs carry keys in 15 bytes and hold kInFlight batches in a ring.
  if (keys > uint64_t(1e15) || batch > int(Ring::kSize / kInFlight)) {
    std::fprintf(stderr, "storebench: --keys must be at most 10^15 and --batch at most %zu\n", Ring::kSize / kInFlight);
    return 2;
  }
  if (keys == 0 || seconds <= 0 || value_bytes < 0 || batch < 1 || get_percent < 0 || get_percent > 100) {
    std::fprintf(stderr, "storebench: --keys, --seconds, --batch must be positive, --get-percent 0..100\n");
    return 2;
  }

  std::printf("storebench: %llu keys, %d-byte values, batches of %d, %d%% GET, %.1f s a run, %zu CPUs\n\n",
              (unsigned long long)keys, value_bytes, batch, get_percent, seconds, UsableCpus());
  if (UsableCpus() >= 2) {
    std::printf("A cache line moves between CPUs %d and %d in %.1f ns (two threads taking turns on one line, median of 5 runs).\n\n",
                AllowedCpus()[0], AllowedCpus()[1], LineTransferNs());
  }
  std::printf("| threads | shards | locks | ops/s | ops/s per thread | speedup over 1 unlocked thread | lock waits | waited (ms) |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  // Every configuration, then every configuration again (--repeat times): a disturbance from
  // outside lands on one run of several rather than on one configuration's only run.
  enum Mode { kUnlocked, kLocked, kOwned, kHandoff };
  struct Config {
    size_t rule, threads, shards;
    Mode mode;
  };
  std::vector<Config> configs;
  for (size_t ri = 0; ri < rules.size(); ++ri) {
    for (size_t threads : thread_counts) {
      size_t shards = rules[ri].per_thread ? rules[ri].n * threads : rules[ri].n;
      // One thread: as kvd builds it with --threads=1 (no locks), and locked for the locks' cost.
      std::vector<Mode> modes = {kLocked};
      if (threads == 1) modes = {kUnlocked, kLocked};
      if (threads > 1 && absl::GetFlag(FLAGS_owned)) modes.push_back(kOwned);
      if (threads > 1 && absl::GetFlag(FLAGS_handoff)) modes.push_back(kHandoff);
      for (Mode mode : modes) configs.push_back({ri, threads, shards, mode});
    }
  }
  const int repeat = absl::GetFlag(FLAGS_repeat);
  std::vector<std::vector<Row>> runs(configs.size());
  for (int rep = 0; rep < repeat; ++rep) {
    for (size_t c = 0; c < configs.size(); ++c) {
      const Config& k = configs[c];
      if (k.mode == kHandoff) {
        runs[c].push_back(RunHandoff(k.threads, k.shards, keys, seconds, value_bytes, batch, get_percent));
        continue;
      }
      runs[c].push_back(Run(k.threads, k.shards, k.mode == kLocked, k.mode == kOwned, keys, seconds,
                            value_bytes, batch, get_percent));
    }
    if (repeat > 1) std::fprintf(stderr, "storebench: round %d of %d done\n", rep + 1, repeat);
  }
  // Each row is its configuration's median run (by ops/s).
  std::vector<Row> rows;
  std::vector<std::vector<double>> all(configs.size());
  double unlocked_one = 0;
  for (size_t c = 0; c < configs.size(); ++c) {
    std::vector<Row>& v = runs[c];
    for (const Row& r : v) all[c].push_back(r.ops_per_sec);
    std::sort(v.begin(), v.end(), [](const Row& x, const Row& y) { return x.ops_per_sec < y.ops_per_sec; });
    Row r = v[v.size() / 2];
    if (configs[c].mode == kUnlocked) unlocked_one = r.ops_per_sec;
    r.speedup = unlocked_one > 0 ? r.ops_per_sec / unlocked_one : 0;
    rows.push_back(r);
    const Mode mode = configs[c].mode;
    const char* locks = mode == kLocked    ? "shard locks"
                        : mode == kOwned   ? "none (store per thread)"
                        : mode == kHandoff ? "none (hand-off to the owner)"
                                           : "none";
    const std::string speedup = r.speedup > 0 ? fmt::format("{:.2f}x", r.speedup) : "—";  // no 1-thread row
    std::printf("| %zu | %zu (%s) | %s | %.0f | %.0f | %s | %llu | %.1f |\n", r.threads, r.shards,
                rules[configs[c].rule].label.c_str(), locks, r.ops_per_sec, r.ops_per_sec / double(r.threads),
                speedup.c_str(), (unsigned long long)r.lock_waits, r.lock_wait_ms);
  }
  if (repeat > 1) {
    std::printf("\nRows are medians of %d runs; the runs' ops/s, lowest to highest:\n", repeat);
    for (size_t c = 0; c < configs.size(); ++c) {
      std::sort(all[c].begin(), all[c].end());
      std::string line;
      for (double x : all[c]) line += fmt::format(" {:.2f}M", x / 1e6);
      std::printf("  %zu threads, %zu shards, %s:%s\n", configs[c].threads, configs[c].shards,
                  configs[c].mode == kLocked    ? "locks"
                  : configs[c].mode == kOwned   ? "owned"
                  : configs[c].mode == kHandoff ? "hand-off"
                                                : "unlocked",
                  line.c_str());
    }
  }
  const std::string json = absl::GetFlag(FLAGS_json);
  if (!json.empty()) {
    std::string j = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j += fmt::format("{}{{\"threads\":{},\"shards\":{},\"locks\":{},\"owned\":{},\"handoff\":{},\"ops_per_sec\":{:.0f},\"speedup\":{:.3f},"
                       "\"lock_waits\":{},\"lock_wait_ms\":{:.3f}}}",
                       i ? "," : "", r.threads, r.shards, r.shared ? "true" : "false", r.owned ? "true" : "false", r.handoff ? "true" : "false", r.ops_per_sec,
                       r.speedup, r.lock_waits, r.lock_wait_ms);
    }
    j += "]\n";
    FILE* f = std::fopen(json.c_str(), "w");
    if (f == nullptr || std::fwrite(j.data(), 1, j.size(), f) != j.size() || std::fclose(f) != 0) {
      std::fprintf(stderr, "storebench: cannot write %s\n", json.c_str());
      return 1;
    }
  }
  return 0;
}
