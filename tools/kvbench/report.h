// Renders the results of a run, like autocannon-go: GET ("Read/GET") and POST/PUT ("Write/POST")
// apart, each with a latency table (2.5%, 50%, 97.5%, 99%, AVG, STDEV, MAX in microseconds), a
// Req/Sec and Bytes/Sec table over the per-second samples (1%, 2.5%, 50%, 97.5%, AVG, STDEV, MIN),
// status counts, errors and totals; or the same data as one JSON object (--json).
//
// JSON shape (all latencies in microseconds, rates per second, sizes in bytes):
//   {"uri","duration","warmup","threads","connections","pipelining","keys","post_ratio",
//    "value_bytes","set_method","seed",
//    "get"/"post": {"total","2xx","non2xx","errors","timeouts","bytes",
//                   "latency_us": {"p2_5","p50","p97_5","p99","p99_9","avg","stdev","min","max"},
//                   "requests_per_sec"/"bytes_per_sec": {"p1","p2_5","p50","p97_5","avg","stdev",
//                                                        "min","max","samples"}},
//    "errors": {"total","connect","read","write","closed","protocol","timeouts","reconnects",
//               "connections_opened"},
//    "total", "requests_per_sec"}
// "total" counts answered requests (2xx + non2xx); "duration" is the measured time in seconds.
#pragma once

#include <string>

#include "kvbench/client.h"
#include "kvbench/workload.h"

namespace kvbench {

struct RunResult {
  const Config& config;
  const RunStats& stats;
  double seconds;       // measured duration (shorter than --duration if interrupted)
  size_t full_seconds;  // complete one-second samples available in the per-second arrays
};

// The lines printed before the run starts ("running 10s test @ ...").
std::string TextPreamble(const Config& config);
std::string TextReport(const RunResult& result);
std::string JsonReport(const RunResult& result);

// Helpers, exposed for tests.
std::string FormatBytes(double bytes);  // SI, like go-humanize: "844 kB", "1.2 MB"
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);  // rows[0]: header

}  // namespace kvbench
