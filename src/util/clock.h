// Clocks kvd reads: monotonic for deadlines and latency, real time for Date headers and logs.
#pragma once

#include <cstdint>
#include <ctime>

namespace kvd {

inline uint64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

inline uint64_t MonotonicMs() { return MonotonicNanos() / 1000000u; }

}  // namespace kvd
