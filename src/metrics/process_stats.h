// Process-wide figures read from /proc, exported as the standard process_* metrics that
// Prometheus client libraries export.
#pragma once

#include <cstdint>
#include <optional>

namespace kvd::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;           // soft RLIMIT_NOFILE
  double start_time_seconds = 0;  // since the Unix epoch
  uint64_t threads = 0;
};

// Reads the calling process's stats; nullopt if /proc is unavailable or unparsable, so the
// caller can omit the process metrics rather than export zeros.
std::optional<ProcessStats> ReadProcessStats();

}  // namespace kvd::metrics
