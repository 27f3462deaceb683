// Latency histogram and per-second sample statistics.
//
// LatencyHistogram: a log-linear (HDR-like) histogram of non-negative integer values (kvbench
// records nanoseconds). Values below 256 are counted exactly; above that each power of two is
// split into 128 equal sub-buckets, so a reported percentile (the midpoint of its bucket, clamped
// to the exact min/max) is within 0.4% of the true value (always <= 1%). Fixed size (about 58 KiB),
// no allocation after construction; Record() is a few instructions. Count, min, max, mean and
// standard deviation are exact (kept beside the buckets). Not thread-safe: one writer per
// histogram; merge per-thread histograms with Merge() after the threads are joined.
//
// SampleStats: summary statistics (nearest-rank percentiles, mean, stdev, min, max) over a small
// set of samples, e.g. requests counted in each second of the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvbench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;                            // 128 sub-buckets per octave
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;  // all of uint64_t

  LatencyHistogram();

  void Record(uint64_t v) {
    counts_[BucketOf(v)]++;
    count_++;
    sum_ += v;
    const double d = static_cast<double>(v);
    sum_sq_ += d * d;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }

  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  double stdev() const;  // population standard deviation
  // Nearest-rank percentile, q in [0, 100]; 0 when empty.
  uint64_t Percentile(double q) const;

  // Bucket mapping, exposed for tests: BucketLow(i) <= v <= BucketHigh(i) for i = BucketOf(v).
  static size_t BucketOf(uint64_t v) {
    if (v < (2u << kSubBits)) return static_cast<size_t>(v);
    const int e = 63 - __builtin_clzll(v);  // >= kSubBits + 1
    const int shift = e - kSubBits;
    return (static_cast<size_t>(shift) << kSubBits) + static_cast<size_t>(v >> shift);
  }
  static uint64_t BucketLow(size_t i);
  static uint64_t BucketHigh(size_t i);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  double sum_sq_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

struct SampleStats {
  double p1 = 0, p2_5 = 0, p50 = 0, p97_5 = 0, mean = 0, stdev = 0, min = 0, max = 0;
  size_t n = 0;
  // Computes the statistics of `samples` (copied and sorted); all zero when empty.
  static SampleStats Of(std::vector<double> samples);
};

}  // namespace kvbench
