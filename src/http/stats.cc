#include "http/stats.h"

#include <numeric>

#include "fmt/format.h"

namespace kvd::http {
namespace {

constexpr const char* kMethodLabels[] = {"get", "head", "post", "put", "delete", "options", "other"};
constexpr const char* kHandlerLabels[] = {"/", "/size", "/metrics", "/healthz", "other"};
static_assert(std::size(kMethodLabels) == size_t(Method::kCount));
static_assert(std::size(kHandlerLabels) == size_t(Handler::kCount));

std::string CodeLabel(size_t slot) {
  return slot < kStatuses.size() ? std::to_string(kStatuses[slot]) : "other";
}

}  // namespace

const char* MethodLabel(Method m) { return kMethodLabels[size_t(m)]; }
const char* HandlerLabel(Handler h) { return kHandlerLabels[size_t(h)]; }

void AppendMetrics(const std::vector<const RequestStats*>& stats, std::string* out) {
  metrics::Writer w(out);
  int64_t in_flight = 0;
  for (const RequestStats* s : stats) in_flight += s->in_flight.Get();
  w.Single("in_flight_requests", "gauge", "Requests currently being served.", in_flight);

  w.Family("api_requests_total", "counter", "Requests served, by status code and method.");
  for (size_t c = 0; c < kStatusSlots; ++c) {
    for (size_t m = 0; m < size_t(Method::kCount); ++m) {
      uint64_t v = 0;
      for (const RequestStats* s : stats) v += s->requests[m][c].Get();
      // Always one series, so the family exists (and rate() works) before the first request.
      bool always = c == StatusSlot(200) && Method(m) == Method::kGet;
      if (v == 0 && !always) continue;
      w.Sample("api_requests_total", fmt::format("{{code=\"{}\",method=\"{}\"}}", CodeLabel(c), kMethodLabels[m]), v);
    }
  }

  w.Family("request_duration_seconds", "histogram", "Time to serve a request, by handler and method.");
  for (size_t h = 0; h < size_t(Handler::kCount); ++h) {
    for (size_t m = 0; m < size_t(Method::kCount); ++m) {
      std::array<uint64_t, metrics::kLatencyBuckets.size() + 1> buckets{};
      uint64_t sum_nanos = 0;
      for (const RequestStats* s : stats) {
        const metrics::Histogram& hist = s->duration[h][m];
        for (size_t b = 0; b < buckets.size(); ++b) buckets[b] += hist.BucketCount(b);
        sum_nanos += hist.SumNanos();
      }
      const uint64_t count = std::accumulate(buckets.begin(), buckets.end(), uint64_t{0});
      if (count == 0) continue;
      const std::string labels = fmt::format("handler=\"{}\",method=\"{}\"", kHandlerLabels[h], kMethodLabels[m]);
      uint64_t cumulative = 0;
      for (size_t b = 0; b < buckets.size(); ++b) {
        cumulative += buckets[b];
        std::string le = b < metrics::kLatencyBuckets.size() ? fmt::format("{}", metrics::kLatencyBuckets[b]) : "+Inf";
        w.Sample("request_duration_seconds_bucket", fmt::format("{{{},le=\"{}\"}}", labels, le), cumulative);
      }
      w.Sample("request_duration_seconds_sum", "{" + labels + "}", double(sum_nanos) / 1e9);
      w.Sample("request_duration_seconds_count", "{" + labels + "}", count);
    }
  }
}

}  // namespace kvd::http
