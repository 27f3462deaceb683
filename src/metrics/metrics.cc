#include "metrics/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <numeric>
#include <string_view>

#include "metrics/process_stats.h"
#include "util/version.h"

namespace kvd::metrics {
namespace {

// Bucket bounds in integer nanoseconds, so Observe() picks a bucket with integer compares only.
constexpr auto kBoundsNanos = [] {
  std::array<uint64_t, kLatencyBuckets.size()> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint64_t(kLatencyBuckets[i] * 1e9 + 0.5);
  return b;
}();
static_assert(kBoundsNanos.front() == 1'000 && kBoundsNanos[1] == 2'500 &&
              kBoundsNanos.back() == 1'000'000'000);
static_assert(std::is_sorted(kBoundsNanos.begin(), kBoundsNanos.end()));


// The version is pasted into a label value unescaped.
constexpr bool IsPlainLabelValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '"' || c == '\\' || c == '\n'; });
}
static_assert(IsPlainLabelValue(KVD_VERSION));


}  // namespace

void Writer::Family(std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(*out_), "# HELP {0} {2}\n# TYPE {0} {1}\n", name, type, help);
}
void Writer::Sample(std::string_view name, std::string_view labels, uint64_t value) {
  fmt::format_to(std::back_inserter(*out_), "{}{} {}\n", name, labels, value);
}
void Writer::Sample(std::string_view name, std::string_view labels, int64_t value) {
  fmt::format_to(std::back_inserter(*out_), "{}{} {}\n", name, labels, value);
}
void Writer::Sample(std::string_view name, std::string_view labels, double value) {
  fmt::format_to(std::back_inserter(*out_), "{}{} {}\n", name, labels, value);
}

const char* ProtocolLabel(Protocol p) { return p == Protocol::kHttp ? "http" : "resp"; }

void Histogram::Observe(uint64_t nanos, uint64_t n) {
  // First bound >= nanos: Prometheus buckets are "less than or equal" (le).
  size_t i =
      std::lower_bound(kBoundsNanos.begin(), kBoundsNanos.end(), nanos) - kBoundsNanos.begin();
  buckets_[i].Add(n);
  sum_nanos_.Add(nanos * n);
}

uint64_t Histogram::Count() const {
  uint64_t n = 0;
  for (const Counter& b : buckets_) n += b.Get();
  return n;
}

void Render(const ReactorMetrics* const* reactors, size_t n, const StoreFigures& store,
            std::string* out) {
  auto sum = [&]<typename T>(T ReactorMetrics::*field) {
    decltype(T().Get()) s = 0;
    for (size_t r = 0; r < n; ++r) s += (reactors[r]->*field).Get();
    return s;
  };
  Writer w(out);

  w.Single("cache_size", "gauge", "Live keys in the cache.", store.keys);

  w.Single("kvd_cache_hits_total", "counter", "Key lookups that found a live key.",
           sum(&ReactorMetrics::hits));
  w.Single("kvd_cache_misses_total", "counter", "Key lookups that found no live key.",
           sum(&ReactorMetrics::misses));
  w.Single("kvd_keys_expired_total", "counter", "Keys reclaimed after their TTL passed.",
           store.expired);
  w.Family("kvd_keys_evicted_total", "counter",
           "Keys evicted to stay within the memory limit, by reason: unread (from the small "
           "queue, not read since written) or cold (from the main queue, its reads spent).");
  w.Sample("kvd_keys_evicted_total", "{reason=\"unread\"}", store.evicted_small);
  w.Sample("kvd_keys_evicted_total", "{reason=\"cold\"}", store.evicted_main);
  w.Family("kvd_keys_kept_total", "counter",
           "Keys eviction kept, by how: promoted (small queue to main) or reinserted (main "
           "queue, again at its head).");
  w.Sample("kvd_keys_kept_total", "{how=\"promoted\"}", store.promoted);
  w.Sample("kvd_keys_kept_total", "{how=\"reinserted\"}", store.reinserted);
  w.Single("kvd_eviction_copied_bytes_total", "counter", "Bytes eviction copied to keep keys.",
           store.bytes_copied);
  w.Single("kvd_ghost_hits_total", "counter",
           "New keys written straight to the main queue: evicted unread recently, and back.",
           store.ghost_hits);
  w.Single("kvd_writes_refused_total", "counter",
           "Writes answered 507: the value cannot fit in the memory limit.", store.writes_refused);
  // The signal that the store's shared shards cost something on this machine (docs/design.md,
  // "One keyspace across reactors"): always 0 with one reactor, whose store takes no locks.
  w.Single("kvd_store_lock_waits_total", "counter",
           "Shard lock acquisitions that found the lock held by another reactor.", store.lock_waits);
  w.Single("kvd_store_lock_wait_seconds_total", "counter", "Time those acquisitions waited.",
           double(store.lock_wait_ns) / 1e9);
  w.Single("kvd_memory_limit_bytes", "gauge", "The configured memory limit (--max-memory).",
           store.bytes_limit);
  w.Single("kvd_memory_reserved_bytes", "gauge",
           "Memory the store holds from the system, checked against the limit.",
           store.bytes_reserved);
  w.Single("kvd_memory_used_bytes", "gauge",
           "Of the reserved memory, what live keys, values, tables and bookkeeping take.",
           store.bytes_used);
  w.Single("kvd_memory_fragmentation_bytes", "gauge",
           "Reserved but not used: holes left in segments by removed keys, segment ends, spare "
           "segments.",
           store.bytes_reserved - std::min(store.bytes_reserved, store.bytes_used));
  w.Family("kvd_memory_segments", "gauge", "Arena segments (256 KiB), by queue.");
  w.Sample("kvd_memory_segments", "{queue=\"small\"}", store.segments_small);
  w.Sample("kvd_memory_segments", "{queue=\"main\"}", store.segments_main);
  w.Sample("kvd_memory_segments", "{queue=\"spare\"}", store.segments_spare);
  w.Single("kvd_connection_buffer_bytes", "gauge",
           "Memory of the connections' read and output buffers (not counted in the limit).",
           sum(&ReactorMetrics::connection_buffer_bytes));
  // Connections and bytes, by protocol.
  auto per_protocol = [&](std::string_view name, std::string_view type, std::string_view help, auto field) {
    w.Family(name, type, help);
    for (size_t p = 0; p < size_t(Protocol::kCount); ++p) {
      decltype((reactors[0]->connections[p].*field).Get()) v = 0;
      for (size_t r = 0; r < n; ++r) v += (reactors[r]->connections[p].*field).Get();
      w.Sample(name, fmt::format("{{protocol=\"{}\"}}", ProtocolLabel(Protocol(p))), v);
    }
  };
  per_protocol("kvd_connections_accepted_total", "counter", "Connections accepted, by protocol.",
               &ConnectionMetrics::accepted);
  per_protocol("kvd_connections_open", "gauge", "Connections currently open, by protocol.",
               &ConnectionMetrics::open);
  w.Family("kvd_connections_closed_total", "counter", "Connections closed by kvd, by protocol and reason.");
  for (size_t p = 0; p < size_t(Protocol::kCount); ++p) {
    uint64_t bad = 0, timeout = 0;
    for (size_t r = 0; r < n; ++r) {
      bad += reactors[r]->connections[p].closed_bad_input.Get();
      timeout += reactors[r]->connections[p].closed_timeout.Get();
    }
    const char* label = ProtocolLabel(Protocol(p));
    w.Sample("kvd_connections_closed_total", fmt::format("{{protocol=\"{}\",reason=\"bad_input\"}}", label), bad);
    w.Sample("kvd_connections_closed_total", fmt::format("{{protocol=\"{}\",reason=\"timeout\"}}", label), timeout);
  }
  w.Single("kvd_connections_rejected_total", "counter", "Connections refused at accept time.",
           sum(&ReactorMetrics::connections_rejected));
  per_protocol("kvd_read_bytes_total", "counter", "Bytes read from client sockets, by protocol.",
               &ConnectionMetrics::bytes_read);
  per_protocol("kvd_written_bytes_total", "counter", "Bytes written to client sockets, by protocol.",
               &ConnectionMetrics::bytes_written);
  w.Family("kvd_syscalls_total", "counter", "System calls made by the reactors, by call.");
  w.Sample("kvd_syscalls_total", "{syscall=\"read\"}", sum(&ReactorMetrics::syscalls_read));
  w.Sample("kvd_syscalls_total", "{syscall=\"write\"}", sum(&ReactorMetrics::syscalls_write));
  w.Sample("kvd_syscalls_total", "{syscall=\"epoll_wait\"}",
           sum(&ReactorMetrics::syscalls_epoll_wait));
  w.Family("kvd_reactor_requests_total", "counter",
           "Requests (HTTP) and commands (RESP) served, by reactor thread.");
  for (size_t r = 0; r < n; ++r) {
    w.Sample("kvd_reactor_requests_total", fmt::format("{{reactor=\"{}\"}}", r),
             reactors[r]->requests.Get() + reactors[r]->commands.Get());
  }
  w.Family("kvd_build_info", "gauge", "Always 1; labelled with the kvd version.");
  w.Sample("kvd_build_info", "{version=\"" KVD_VERSION "\"}", uint64_t{1});

  if (auto p = ReadProcessStats()) {
    w.Single("process_cpu_seconds_total", "counter",
             "Total user and system CPU time spent in seconds.", p->cpu_seconds);
    w.Single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
             p->resident_bytes);
    w.Single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
             p->virtual_bytes);
    w.Single("process_open_fds", "gauge", "Number of open file descriptors.", p->open_fds);
    w.Single("process_max_fds", "gauge", "Maximum number of open file descriptors.", p->max_fds);
    w.Single("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.", p->start_time_seconds);
    w.Single("process_threads", "gauge", "Number of OS threads in the process.", p->threads);
  }
}

}  // namespace kvd::metrics
