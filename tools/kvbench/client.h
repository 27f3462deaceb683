// The load-generating engine: one Worker per client thread, each with its own epoll instance,
// connections, random generator and statistics (no locks, no shared writes on the hot path).
//
// Per connection: `pipelining` requests are always in flight (one per pipeline slot, see
// workload.h for what each slot sends). After each read, every complete response is matched, in
// order, to the connection's FIFO of in-flight requests, checked (ResponseParser), recorded, and
// replaced by the slot's next request; all requests produced by one readable event go out in one
// send().
// A request's latency runs from the send() of the batch that carried it to the read() that
// completed its response. Protocol errors and socket errors close the connection and reconnect
// it (in-flight requests are then lost, never counted as answered); "Connection: close" from the
// server reconnects without counting an error; a connection with requests in flight and no bytes
// received for `timeout` counts a timeout and reconnects. Failed connects are retried every 100 ms.
//
// Only responses to requests sent at or after clock.measure_ns and completed before clock.end_ns
// are recorded (the warmup is driven but not counted). Each worker stops at clock.end_ns or when
// *stop becomes true, whichever is first.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kvbench/histogram.h"
#include "kvbench/rng.h"
#include "kvbench/workload.h"

namespace kvbench {

enum Kind : int { kGet = 0, kSet = 1, kKinds = 2 };

// Monotonic clock in nanoseconds (CLOCK_MONOTONIC, via the vDSO: no syscall).
int64_t NowNs();

struct RunClock {
  int64_t start_ns = 0;    // connections are opened from here
  int64_t measure_ns = 0;  // start_ns + warmup
  int64_t end_ns = 0;      // measure_ns + duration
};

struct KindStats {
  LatencyHistogram latency;  // nanoseconds, every answered request (any status)
  uint64_t responses = 0;    // answered requests = status_2xx + status_non2xx
  uint64_t status_2xx = 0;
  uint64_t status_non2xx = 0;
  // Failures while a request of this kind was the oldest in flight on its connection (the one
  // the error or timeout cost): protocol, read, write and close errors, and timeouts.
  uint64_t errors = 0;
  uint64_t timeouts = 0;  // of which timeouts
  uint64_t bytes = 0;            // response bytes (head + body)
  // Per second of the measured window (index = whole seconds since measure_ns).
  std::vector<uint64_t> requests_per_sec;
  std::vector<uint64_t> bytes_per_sec;

  void Merge(const KindStats& other);
};

struct ErrorStats {
  uint64_t connect = 0;   // connect() failures
  uint64_t read = 0;      // recv() failures (e.g. ECONNRESET)
  uint64_t write = 0;     // send() failures
  uint64_t closed = 0;    // the server closed the connection with requests in flight
  uint64_t protocol = 0;  // invalid responses, or a response with no request outstanding
  uint64_t timeouts = 0;  // no bytes for --timeout with requests in flight (or connect too slow)
  uint64_t reconnects = 0;        // connections re-opened after any of the above or a close
  uint64_t connections_opened = 0;

  uint64_t Total() const { return connect + read + write + closed + protocol + timeouts; }
  void Merge(const ErrorStats& other);
};

struct RunStats {
  KindStats kind[kKinds];
  ErrorStats errors;
  explicit RunStats(size_t seconds);
  void Merge(const RunStats& other);
};

// Single-writer counters a worker publishes about every 100 ms, for the live progress line.
struct Progress {
  std::atomic<uint64_t> responses[kKinds] = {};
  std::atomic<uint64_t> errors{0};
};

class Worker {
 public:
  Worker(const Config& config, int index, int connections, const RunClock& clock,
         const std::atomic<bool>* stop);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Run();  // on the worker's own thread
  const RunStats& stats() const { return stats_; }
  const Progress& progress() const { return progress_; }

 private:
  struct Connection;
  void StartConnect(Connection& c, int64_t now);
  void FinishConnect(Connection& c, int64_t now);
  void OnOpen(Connection& c, int64_t now);
  void OnReadable(Connection& c);
  bool Flush(Connection& c);
  void Drop(Connection& c, int64_t now, int64_t retry_delay_ns);
  // Counts one failure in `counter` and against the oldest in-flight request, then drops c.
  void Fail(Connection& c, uint64_t& counter, int64_t now, bool timeout = false);
  void EnqueueGet(Connection& c);
  void EnqueueSet(Connection& c, int64_t value);
  void CheckTimers(int64_t now);
  void Publish();
  void SetEvents(Connection& c, uint32_t events);

  const Config& config_;
  const RunClock clock_;
  const std::atomic<bool>* stop_;
  RequestWriter writer_;
  Xoshiro256 rng_;
  Coin follow_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::unique_ptr<char[]> read_buf_;
  size_t read_cap_ = 0;
  size_t seconds_ = 0;
  RunStats stats_;
  uint64_t local_responses_[kKinds] = {0, 0};
  Progress progress_;
};

// Opens one blocking TCP connection to the target (within `timeout`) and closes it.
// Returns false and sets *error when that fails: kvbench then refuses to run.
bool ProbeConnect(const Target& target, absl::Duration timeout, std::string* error);

}  // namespace kvbench
