#include "kvbench/histogram.h"

#include <algorithm>
#include <cmath>

namespace kvbench {

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; i++) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  sum_sq_ += other.sum_sq_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

double LatencyHistogram::mean() const {
  return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
}

double LatencyHistogram::stdev() const {
  if (count_ == 0) return 0.0;
  const double m = mean();
  const double var = sum_sq_ / static_cast<double>(count_) - m * m;
  return var > 0 ? std::sqrt(var) : 0.0;
}

uint64_t LatencyHistogram::BucketLow(size_t i) {
  if (i < (2u << kSubBits)) return i;
  const size_t shift = (i >> kSubBits) - 1;
  const uint64_t m = (i & ((1u << kSubBits) - 1)) + (1u << kSubBits);
  return m << shift;
}

uint64_t LatencyHistogram::BucketHigh(size_t i) {
  if (i < (2u << kSubBits)) return i;
  const size_t shift = (i >> kSubBits) - 1;
  const uint64_t m = (i & ((1u << kSubBits) - 1)) + (1u << kSubBits);
  return ((m + 1) << shift) - 1;  // wraps to UINT64_MAX for the last bucket, as intended
}

uint64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; i++) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t lo = BucketLow(i), hi = BucketHigh(i);
      const uint64_t mid = lo + (hi - lo) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

SampleStats SampleStats::Of(std::vector<double> samples) {
  SampleStats s;
  s.n = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q / 100.0 * static_cast<double>(samples.size())));
    rank = std::clamp<size_t>(rank, 1, samples.size());
    return samples[rank - 1];
  };
  s.p1 = pct(1);
  s.p2_5 = pct(2.5);
  s.p50 = pct(50);
  s.p97_5 = pct(97.5);
  s.min = samples.front();
  s.max = samples.back();
  double sum = 0;
  for (double v : samples) sum += v;
  s.mean = sum / static_cast<double>(samples.size());
  double var = 0;
  for (double v : samples) var += (v - s.mean) * (v - s.mean);
  s.stdev = std::sqrt(var / static_cast<double>(samples.size()));
  return s;
}

}  // namespace kvbench
