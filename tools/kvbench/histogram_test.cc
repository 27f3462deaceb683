// Unit tests for LatencyHistogram and SampleStats (doctest); see response_parser_test.cc.
#include "kvbench/histogram.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kvbench/rng.h"

namespace kvbench {
namespace {

TEST_CASE("buckets tile the value range and bound the relative error") {
  CHECK(LatencyHistogram::BucketOf(0) == 0);
  CHECK(LatencyHistogram::BucketOf(255) == 255);
  CHECK(LatencyHistogram::BucketOf(UINT64_MAX) == LatencyHistogram::kBuckets - 1);
  CHECK(LatencyHistogram::BucketHigh(LatencyHistogram::kBuckets - 1) == UINT64_MAX);
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; i++) {
    REQUIRE(LatencyHistogram::BucketHigh(i) + 1 == LatencyHistogram::BucketLow(i + 1));
    REQUIRE(LatencyHistogram::BucketOf(LatencyHistogram::BucketLow(i)) == i);
    REQUIRE(LatencyHistogram::BucketOf(LatencyHistogram::BucketHigh(i)) == i);
    const double lo = static_cast<double>(LatencyHistogram::BucketLow(i));
    const double hi = static_cast<double>(LatencyHistogram::BucketHigh(i));
    if (lo > 0) REQUIRE((hi - lo) / 2 / lo < 0.005);
  }
}

TEST_CASE("percentiles within 1% of exact values") {
  LatencyHistogram h;
  std::vector<uint64_t> v;
  Xoshiro256 rng(7);
  for (int i = 0; i < 100000; i++) {
    const uint64_t x = 1000 + rng.Below(5000000) * (i % 10 == 0 ? 20 : 1);
    v.push_back(x);
    h.Record(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {1.0, 2.5, 50.0, 90.0, 97.5, 99.0, 99.9, 100.0}) {
    const size_t rank = static_cast<size_t>(std::ceil(q / 100 * v.size()));
    const double exact = static_cast<double>(v[rank - 1]);
    CAPTURE(q);
    CHECK(std::fabs(static_cast<double>(h.Percentile(q)) - exact) / exact < 0.01);
  }
  CHECK(h.count() == v.size());
  CHECK(h.max() == v.back());
  CHECK(h.min() == v.front());
  CHECK(h.Percentile(100) == v.back());
}

TEST_CASE("mean, stdev and merge are exact") {
  LatencyHistogram a, b;
  for (uint64_t x : {2, 4, 4, 4}) a.Record(x);
  for (uint64_t x : {5, 5, 7, 9}) b.Record(x);
  a.Merge(b);
  CHECK(a.count() == 8);
  CHECK(a.mean() == doctest::Approx(5.0));
  CHECK(a.stdev() == doctest::Approx(2.0));
  CHECK(a.min() == 2);
  CHECK(a.max() == 9);
  CHECK(a.Percentile(50) == 4);
  LatencyHistogram empty;
  CHECK(empty.Percentile(50) == 0);
  CHECK(empty.mean() == 0);
}

TEST_CASE("sample stats") {
  SampleStats s = SampleStats::Of({10, 20, 30, 40});
  CHECK(s.n == 4);
  CHECK(s.p1 == 10);
  CHECK(s.p50 == 20);
  CHECK(s.p97_5 == 40);
  CHECK(s.min == 10);
  CHECK(s.max == 40);
  CHECK(s.mean == doctest::Approx(25));
  CHECK(s.stdev == doctest::Approx(std::sqrt(125.0)));
  CHECK(SampleStats::Of({}).n == 0);
}

}  // namespace
}  // namespace kvbench
