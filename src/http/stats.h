// RequestStats: one reactor's HTTP request counts and latencies, the seed's metric families
// (api_requests_total{code,method}, request_duration_seconds{handler,method}, in_flight_requests).
//
// Thread safety: as metrics::ReactorMetrics: one writer (the reactor's connections), relaxed
// reads from the scrape on any reactor.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "http/request.h"
#include "http/status.h"
#include "metrics/metrics.h"

namespace kvd::http {

// Which route served a request: label handler="/" for keys, else the reserved path.
enum class Handler : uint8_t { kKey, kSize, kMetrics, kHealthz, kOther, kCount };
const char* HandlerLabel(Handler h);  // "/", "/size", ...

struct RequestStats {
  // [method][StatusSlot(status)]
  std::array<std::array<metrics::Counter, kStatusSlots>, size_t(Method::kCount)> requests;
  std::array<std::array<metrics::Histogram, size_t(Method::kCount)>, size_t(Handler::kCount)> duration;
  metrics::Gauge in_flight;  // requests parsed whose response has not yet been handed to the kernel

  void Count(Method m, int status) { requests[size_t(m)][StatusSlot(status)].Add(); }
};

// Appends the families above to a /metrics exposition, summed over `stats` (every reactor's).
void AppendMetrics(const std::vector<const RequestStats*>& stats, std::string* out);

}  // namespace kvd::http
