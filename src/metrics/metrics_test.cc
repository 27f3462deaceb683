#include "metrics/metrics.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/process_stats.h"
#include "util/version.h"

namespace kvd::metrics {
namespace {

constexpr size_t kInf = kLatencyBuckets.size();  // index of the +Inf overflow bucket

std::string RenderAll(std::vector<const ReactorMetrics*> rs, const StoreFigures& store = {}) {
  std::string out;
  Render(rs.data(), rs.size(), store, &out);
  return out;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    REQUIRE(nl != std::string_view::npos);  // every line, including the last, ends in \n
    lines.emplace_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Series (name plus label block) -> value text, for every sample line.
std::map<std::string, std::string> Samples(std::string_view text) {
  std::map<std::string, std::string> m;
  for (const std::string& line : Lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    CHECK_MESSAGE(m.emplace(line.substr(0, sp), line.substr(sp + 1)).second,
                  "duplicate series: " << line);
  }
  return m;
}

uint64_t BoundNanos(size_t i) { return uint64_t(std::llround(kLatencyBuckets[i] * 1e9)); }

void CheckOnlyBucket(const Histogram& h, size_t want) {
  for (size_t i = 0; i <= kInf; ++i)
    CHECK_MESSAGE(h.BucketCount(i) == (i == want ? 1u : 0u), "bucket " << i);
}

TEST_CASE("Histogram::Observe counts a value in the first bucket whose bound is >= it") {
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    CAPTURE(i);
    Histogram at, above;
    at.Observe(BoundNanos(i));
    above.Observe(BoundNanos(i) + 1);
    CheckOnlyBucket(at, i);
    CheckOnlyBucket(above, i + 1);
  }
  Histogram zero;
  zero.Observe(0);
  CheckOnlyBucket(zero, 0);
  Histogram huge;
  huge.Observe(3'600'000'000'000);
  CheckOnlyBucket(huge, kInf);
}

TEST_CASE("Histogram::Observe with a batch count") {
  Histogram h;
  h.Observe(3'000, 4);  // 3us: the 5us bucket
  h.Observe(10);
  CHECK(h.BucketCount(2) == 4);
  CHECK(h.BucketCount(0) == 1);
  CHECK(h.Count() == 5);
  CHECK(h.SumNanos() == 12'010);
}

TEST_CASE("Render sums every reactor") {
  ReactorMetrics a, b;
  a.hits.Add(2);
  b.hits.Add(3);
  a.requests.Add(4);
  b.requests.Add(3);
  a.of(Protocol::kHttp).open.Add(3);
  b.of(Protocol::kHttp).open.Add(-1);
  b.of(Protocol::kResp).open.Add(4);
  a.of(Protocol::kHttp).closed_timeout.Add(1);
  b.of(Protocol::kHttp).closed_timeout.Add(1);
  a.syscalls_epoll_wait.Add(7);
  b.syscalls_epoll_wait.Add(1);
  a.of(Protocol::kHttp).bytes_written.Add(100);
  b.of(Protocol::kHttp).bytes_written.Add(23);
  b.of(Protocol::kResp).bytes_written.Add(7);

  auto s = Samples(RenderAll({&a, &b}));
  CHECK(s["kvd_cache_hits_total"] == "5");
  CHECK(s["kvd_cache_misses_total"] == "0");
  CHECK(s["kvd_reactor_requests_total{reactor=\"0\"}"] == "4");
  CHECK(s["kvd_reactor_requests_total{reactor=\"1\"}"] == "3");
  CHECK(s["kvd_connections_open{protocol=\"http\"}"] == "2");
  CHECK(s["kvd_connections_open{protocol=\"resp\"}"] == "4");
  CHECK(s["kvd_connections_closed_total{protocol=\"http\",reason=\"timeout\"}"] == "2");
  CHECK(s["kvd_connections_closed_total{protocol=\"http\",reason=\"bad_input\"}"] == "0");
  CHECK(s["kvd_connections_closed_total{protocol=\"resp\",reason=\"timeout\"}"] == "0");
  CHECK(s["kvd_syscalls_total{syscall=\"epoll_wait\"}"] == "8");
  CHECK(s["kvd_written_bytes_total{protocol=\"http\"}"] == "123");
  CHECK(s["kvd_written_bytes_total{protocol=\"resp\"}"] == "7");
}

TEST_CASE("Render writes the store's figures, after what is already there") {
  ReactorMetrics r;
  std::string out = "keep\n";
  const ReactorMetrics* rs[] = {&r};
  Render(rs, 1,
         StoreFigures{.keys = 7, .bytes_limit = 20, .bytes_reserved = 12, .bytes_used = 10,
                      .segments_small = 1, .segments_main = 2, .segments_spare = 3, .expired = 3,
                      .evicted_small = 4, .evicted_main = 5, .promoted = 6, .reinserted = 7,
                      .bytes_copied = 8, .ghost_hits = 9, .writes_refused = 11, .lock_waits = 13,
                      .lock_wait_ns = 1500000000},
         &out);
  REQUIRE(out.rfind("keep\n", 0) == 0);  // appends, never overwrites
  auto s = Samples(out.substr(5));
  CHECK(s["cache_size"] == "7");
  CHECK(s["kvd_memory_used_bytes"] == "10");
  CHECK(s["kvd_memory_limit_bytes"] == "20");
  CHECK(s["kvd_keys_expired_total"] == "3");
  CHECK(s["kvd_keys_evicted_total{reason=\"unread\"}"] == "4");
  CHECK(s["kvd_keys_evicted_total{reason=\"cold\"}"] == "5");
  CHECK(s["kvd_keys_kept_total{how=\"promoted\"}"] == "6");
  CHECK(s["kvd_keys_kept_total{how=\"reinserted\"}"] == "7");
  CHECK(s["kvd_eviction_copied_bytes_total"] == "8");
  CHECK(s["kvd_ghost_hits_total"] == "9");
  CHECK(s["kvd_writes_refused_total"] == "11");
  CHECK(s["kvd_store_lock_waits_total"] == "13");
  CHECK(s["kvd_store_lock_wait_seconds_total"] == "1.5");
  CHECK(s["kvd_memory_reserved_bytes"] == "12");
  CHECK(s["kvd_memory_fragmentation_bytes"] == "2");
  CHECK(s["kvd_memory_segments{queue=\"small\"}"] == "1");
  CHECK(s["kvd_memory_segments{queue=\"main\"}"] == "2");
  CHECK(s["kvd_memory_segments{queue=\"spare\"}"] == "3");
  CHECK(s["kvd_build_info{version=\"" KVD_VERSION "\"}"] == "1");
}

bool IsName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
  }
  return true;
}

// `name{a="x",b="y"} value` or `name value`; returns the metric name, or "" if malformed.
std::string ParseSample(std::string_view line) {
  size_t sp = line.rfind(' ');
  if (sp == std::string_view::npos) return "";
  std::string value(line.substr(sp + 1));
  char* end;
  std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0') return "";
  std::string_view series = line.substr(0, sp);
  size_t brace = series.find('{');
  std::string_view name = series.substr(0, brace);
  if (!IsName(name)) return "";
  if (brace != std::string_view::npos) {
    std::string_view labels = series.substr(brace + 1);
    if (labels.empty() || labels.back() != '}') return "";
    labels.remove_suffix(1);
    while (!labels.empty()) {
      size_t eq = labels.find("=\"");
      size_t close = labels.find('"', eq + 2);
      if (eq == std::string_view::npos || close == std::string_view::npos ||
          !IsName(labels.substr(0, eq)))
        return "";
      labels.remove_prefix(close + 1);
      if (!labels.empty() && labels[0] != ',') return "";
      if (!labels.empty()) labels.remove_prefix(1);
    }
  }
  return std::string(name);
}

TEST_CASE(
    "every family has one HELP and one TYPE before its samples, and samples are well-formed") {
  ReactorMetrics a, b;
  a.requests.Add(1);
  const std::string text = RenderAll({&a, &b});

  std::map<std::string, int> helps;
  std::map<std::string, std::string> types;
  std::map<std::string, int> samples;
  std::string current;  // family of the last TYPE line: a family's samples must follow it directly
  for (const std::string& line : Lines(text)) {
    CAPTURE(line);
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      CHECK(rest.size() > name.size() + 1);  // non-empty help text
      ++helps[name];
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      REQUIRE(sp != std::string::npos);
      current = rest.substr(0, sp);
      CHECK(helps[current] == 1);  // HELP came first
      CHECK_MESSAGE(types.emplace(current, rest.substr(sp + 1)).second,
                    "second TYPE for " << current);
    } else {
      std::string name = ParseSample(line);
      REQUIRE(!name.empty());
      std::string family = name;
      if (types[current] == "histogram") {
        for (std::string suffix : {"_bucket", "_sum", "_count"}) {
          if (name.size() > suffix.size() && name.ends_with(suffix) &&
              name.substr(0, name.size() - suffix.size()) == current) {
            family = current;
          }
        }
      }
      CHECK(family == current);
      ++samples[family];
    }
  }

  const std::map<std::string, std::string> want = {
      {"cache_size", "gauge"},
      {"kvd_cache_hits_total", "counter"},
      {"kvd_cache_misses_total", "counter"},
      {"kvd_keys_expired_total", "counter"},
      {"kvd_keys_evicted_total", "counter"},
      {"kvd_keys_kept_total", "counter"},
      {"kvd_eviction_copied_bytes_total", "counter"},
      {"kvd_ghost_hits_total", "counter"},
      {"kvd_writes_refused_total", "counter"},
      {"kvd_store_lock_waits_total", "counter"},
      {"kvd_store_lock_wait_seconds_total", "counter"},
      {"kvd_memory_limit_bytes", "gauge"},
      {"kvd_memory_reserved_bytes", "gauge"},
      {"kvd_memory_used_bytes", "gauge"},
      {"kvd_memory_fragmentation_bytes", "gauge"},
      {"kvd_memory_segments", "gauge"},
      {"kvd_connection_buffer_bytes", "gauge"},
      {"kvd_connections_accepted_total", "counter"},
      {"kvd_connections_open", "gauge"},
      {"kvd_connections_closed_total", "counter"},
      {"kvd_connections_rejected_total", "counter"},
      {"kvd_read_bytes_total", "counter"},
      {"kvd_written_bytes_total", "counter"},
      {"kvd_syscalls_total", "counter"},
      {"kvd_reactor_requests_total", "counter"},
      {"kvd_build_info", "gauge"},
      {"process_cpu_seconds_total", "counter"},
      {"process_resident_memory_bytes", "gauge"},
      {"process_virtual_memory_bytes", "gauge"},
      {"process_open_fds", "gauge"},
      {"process_max_fds", "gauge"},
      {"process_start_time_seconds", "gauge"},
      {"process_threads", "gauge"},
  };
  CHECK(types == want);
  for (const auto& [name, type] : want) {
    CAPTURE(name);
    CHECK(helps[name] == 1);
    CHECK(samples[name] > 0);
    if (type == "counter") CHECK(name.ends_with("_total"));
  }
}

TEST_CASE("ReadProcessStats reports this process") {
  auto before = ReadProcessStats();
  REQUIRE(before.has_value());
  CHECK(before->resident_bytes > 0);
  CHECK(before->virtual_bytes >= before->resident_bytes);
  CHECK(before->open_fds > 0);
  CHECK(before->max_fds >= before->open_fds);
  CHECK(before->threads >= 1);
  CHECK(before->cpu_seconds >= 0);
  const double now = double(std::time(nullptr));
  CHECK(before->start_time_seconds <= now + 1);
  CHECK(before->start_time_seconds > now - 86'400);

  // An independent count: probe every descriptor number.
  uint64_t probed = 0;
  for (int i = 0; i < int(std::min<uint64_t>(before->max_fds, 1 << 16)); ++i)
    probed += fcntl(i, F_GETFD) != -1;
  CHECK(before->open_fds == probed);

  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto after = ReadProcessStats();
  close(fd);
  REQUIRE(after.has_value());
  CHECK(after->open_fds == before->open_fds + 1);
}

}  // namespace
}  // namespace kvd::metrics
