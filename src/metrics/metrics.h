// Per-reactor metrics: counters and latency histograms that one reactor thread writes without
// locks or atomic read-modify-write, and that a scrape on any thread reads and sums.
//
// Thread safety: every Counter/Gauge/Histogram inside a ReactorMetrics has exactly one writer, the
// reactor thread that owns it. Readers (the /metrics handler, on whichever reactor got the scrape)
// use relaxed loads, so a scrape never blocks request handling and sees each value as of some
// recent moment (counters never go backwards).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace kvd::metrics {

// A monotonically increasing value with a single writer.
class Counter {
 public:
  void Add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A value that goes up and down, with a single writer.
class Gauge {
 public:
  void Add(int64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// The protocol a connection speaks: label protocol="http" / "resp".
enum class Protocol : uint8_t { kHttp, kResp, kCount };
const char* ProtocolLabel(Protocol p);

// Fixed latency buckets in seconds, suited to a server that answers in microseconds:
// 1us, 2.5us, 5us, 10us, 25us, 50us, 100us, 250us, 500us, 1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms,
// 100ms, 250ms, 500ms, 1s (+Inf implied).
inline constexpr std::array<double, 19> kLatencyBuckets = {
    1e-6,   2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
    2.5e-3, 5e-3,   1e-2, 2.5e-2, 5e-2, 0.1,  0.25, 0.5,    1.0};

class Histogram {
 public:
  // Records one observation of `nanos` nanoseconds (`n` times: a pipelined batch shares a duration).
  void Observe(uint64_t nanos, uint64_t n = 1);
  // Non-cumulative count of bucket i (i == kLatencyBuckets.size() is the +Inf overflow bucket).
  uint64_t BucketCount(size_t i) const { return buckets_[i].Get(); }
  uint64_t Count() const;
  uint64_t SumNanos() const { return sum_nanos_.Get(); }

 private:
  std::array<Counter, kLatencyBuckets.size() + 1> buckets_;
  Counter sum_nanos_;
};

// One protocol's connections on one reactor.
struct ConnectionMetrics {
  Counter accepted;
  Gauge open;
  Counter closed_bad_input, closed_timeout;
  Counter bytes_read, bytes_written;
};

// What one reactor counts, whatever the protocol. Store-side figures (keys, bytes, expirations,
// evictions) live in the store and are read from it at scrape time; each protocol keeps its own
// request figures (http::RequestStats, resp::CommandStats).
struct ReactorMetrics {
  Counter requests;      // HTTP requests answered
  Counter commands;      // RESP commands answered
  Counter hits, misses;  // key lookups, both protocols
  std::array<ConnectionMetrics, size_t(Protocol::kCount)> connections;
  Counter connections_rejected;  // over --max-connections, at accept
  Counter syscalls_read, syscalls_write, syscalls_epoll_wait;
  Gauge connection_buffer_bytes;  // read buffer, and every connection's buffers' capacity

  ConnectionMetrics& of(Protocol p) { return connections[size_t(p)]; }
};

// Store-wide figures, gathered by the caller of Render() from the store at scrape time.
struct StoreFigures {
  uint64_t keys = 0;            // live keys (cache_size)
  uint64_t bytes_limit = 0;     // --max-memory
  uint64_t bytes_reserved = 0;  // held from the system, what the limit is checked against
  uint64_t bytes_used = 0;      // of that, live entries, values, tables and bookkeeping
  uint64_t segments_small = 0, segments_main = 0, segments_spare = 0;
  uint64_t expired = 0;         // keys reclaimed by expiry (total)
  uint64_t evicted_small = 0;   // evicted from the small queue, not read since written
  uint64_t evicted_main = 0;    // evicted from the main queue, frequency spent
  uint64_t promoted = 0, reinserted = 0, bytes_copied = 0, ghost_hits = 0;
  uint64_t writes_refused = 0;  // 507: the value cannot fit in the limit
  // Shard lock acquisitions that found the lock held, and how long they waited (Store::Locks).
  uint64_t lock_waits = 0, lock_wait_ns = 0;
};

// Appends the Prometheus text exposition (format 0.0.4) of all reactors' metrics, the store
// figures, build info and process metrics (from /proc/self) to `out`.
// `reactors` points to `n` ReactorMetrics; reading them is safe from any thread.
void Render(const ReactorMetrics* const* reactors, size_t n, const StoreFigures& store,
            std::string* out);

// Writes exposition text: families (HELP and TYPE lines) and their samples, for other modules'
// families (RESP's commands).
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample; `labels` is either empty or a complete `{...}` block.
  void Sample(std::string_view name, std::string_view labels, uint64_t value);
  void Sample(std::string_view name, std::string_view labels, int64_t value);
  void Sample(std::string_view name, std::string_view labels, double value);
  template <typename T>
  void Single(std::string_view name, std::string_view type, std::string_view help, T value) {
    Family(name, type, help);
    Sample(name, "", value);
  }

 private:
  std::string* out_;
};

}  // namespace kvd::metrics
