#include "http/stats.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::http {
namespace {

// Series (name plus label block) -> value text, for every sample line.
std::map<std::string, std::string> Samples(std::string_view text) {
  std::map<std::string, std::string> m;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    REQUIRE(nl != std::string_view::npos);
    std::string line(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    CHECK_MESSAGE(m.emplace(line.substr(0, sp), line.substr(sp + 1)).second, "duplicate series: " << line);
  }
  return m;
}

std::string Render(std::vector<const RequestStats*> stats) {
  std::string out;
  AppendMetrics(stats, &out);
  return out;
}

TEST_CASE("method and handler labels") {
  CHECK(std::string_view(MethodLabel(Method::kGet)) == "get");
  CHECK(std::string_view(MethodLabel(Method::kDelete)) == "delete");
  CHECK(std::string_view(MethodLabel(Method::kOther)) == "other");
  CHECK(std::string_view(HandlerLabel(Handler::kKey)) == "/");
  CHECK(std::string_view(HandlerLabel(Handler::kHealthz)) == "/healthz");
  std::set<std::string_view> methods, handlers;
  for (size_t i = 0; i < size_t(Method::kCount); ++i) methods.insert(MethodLabel(Method(i)));
  for (size_t i = 0; i < size_t(Handler::kCount); ++i) handlers.insert(HandlerLabel(Handler(i)));
  CHECK(methods.size() == size_t(Method::kCount));
  CHECK(handlers.size() == size_t(Handler::kCount));
}

TEST_CASE("requests are counted by status code from the one status table; others are 'other'") {
  RequestStats a, b;
  a.Count(Method::kGet, 200);
  a.Count(Method::kGet, 200);
  b.Count(Method::kGet, 200);
  b.Count(Method::kDelete, 404);
  b.Count(Method::kPost, 507);  // counted as itself, not as "other"
  b.Count(Method::kPut, 304);
  a.Count(Method::kOther, 418);  // not a status kvd sends
  a.in_flight.Add(2);
  b.in_flight.Add(-1);
  auto s = Samples(Render({&a, &b}));
  CHECK(s["in_flight_requests"] == "1");
  CHECK(s["api_requests_total{code=\"200\",method=\"get\"}"] == "3");
  CHECK(s["api_requests_total{code=\"404\",method=\"delete\"}"] == "1");
  CHECK(s["api_requests_total{code=\"507\",method=\"post\"}"] == "1");
  CHECK(s["api_requests_total{code=\"304\",method=\"put\"}"] == "1");
  CHECK(s["api_requests_total{code=\"other\",method=\"other\"}"] == "1");
  CHECK(s.count("api_requests_total{code=\"200\",method=\"post\"}") == 0);
  // With nothing counted, only GET's 200 series, so the family exists before the first request.
  auto empty = Samples(Render({}));
  CHECK(empty["api_requests_total{code=\"200\",method=\"get\"}"] == "0");
  size_t series = 0;
  for (const auto& [name, v] : empty) series += name.rfind("api_requests_total", 0) == 0;
  CHECK(series == 1);
}

TEST_CASE("durations: buckets are cumulative, +Inf equals _count, _sum is in seconds") {
  RequestStats r;
  metrics::Histogram& h = r.duration[size_t(Handler::kKey)][size_t(Method::kGet)];
  h.Observe(500);
  h.Observe(2'000, 2);
  h.Observe(2'000'000'000);
  RequestStats other;
  other.duration[size_t(Handler::kSize)][size_t(Method::kGet)].Observe(1'000);
  auto s = Samples(Render({&r, &other}));
  const std::string b = "request_duration_seconds_bucket{handler=\"/\",method=\"get\",le=";
  CHECK(s[b + "\"1e-06\"}"] == "1");
  CHECK(s[b + "\"2.5e-06\"}"] == "3");
  CHECK(s[b + "\"0.001\"}"] == "3");
  CHECK(s[b + "\"1\"}"] == "3");
  CHECK(s[b + "\"+Inf\"}"] == "4");
  CHECK(s["request_duration_seconds_count{handler=\"/\",method=\"get\"}"] == "4");
  CHECK(std::strtod(s["request_duration_seconds_sum{handler=\"/\",method=\"get\"}"].c_str(), nullptr) ==
        doctest::Approx(2.0000045));
  CHECK(s["request_duration_seconds_count{handler=\"/size\",method=\"get\"}"] == "1");
  // Only histograms with observations are written.
  size_t histograms = 0;
  for (const auto& [name, v] : s) histograms += name.rfind("request_duration_seconds_count", 0) == 0;
  CHECK(histograms == 2);
  size_t buckets = 0;
  for (const auto& [name, v] : s) buckets += name.rfind(b, 0) == 0;
  CHECK(buckets == metrics::kLatencyBuckets.size() + 1);
}

}  // namespace
}  // namespace kvd::http
