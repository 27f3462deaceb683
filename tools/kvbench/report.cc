#include "kvbench/report.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace kvbench {
namespace {

std::vector<double> Samples(const std::vector<uint64_t>& per_sec, const RunResult& r) {
  std::vector<double> out;
  if (r.full_seconds > 0) {
    const size_t n = std::min(r.full_seconds, per_sec.size());
    out.reserve(n);
    for (size_t i = 0; i < n; i++) out.push_back(static_cast<double>(per_sec[i]));
  } else if (r.seconds > 0 && !per_sec.empty()) {
    out.push_back(static_cast<double>(per_sec[0]) / r.seconds);  // a run shorter than 1 s
  }
  return out;
}

std::string Micros(double us) {
  if (us >= 100) return fmt::format("{:.0f} us", us);
  if (us >= 10) return fmt::format("{:.1f} us", us);
  return fmt::format("{:.2f} us", us);
}

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

// Rounds to 3 decimals for JSON.
double R3(double v) { return std::round(v * 1000.0) / 1000.0; }

bool IsNumeric(const std::string& s) {
  double d;
  return absl::SimpleAtod(s, &d);
}

std::string Seconds(double s) {
  if (std::fabs(s - std::round(s)) < 1e-6) return fmt::format("{:.0f}", s);
  return fmt::format("{:.2f}", s);
}

void KindText(std::string* out, const char* title, const char* label, const KindStats& k,
              const RunResult& r) {
  auto o = std::back_inserter(*out);
  fmt::format_to(o, "\n---------- {} ----------\n\n", title);
  const LatencyHistogram& h = k.latency;
  *out += RenderTable({
      {"STAT", "2.5%", "50%", "97.5%", "99%", "AVG", "STDEV", "MAX"},
      {"Latency", Micros(Us(h.Percentile(2.5))), Micros(Us(h.Percentile(50))),
       Micros(Us(h.Percentile(97.5))), Micros(Us(h.Percentile(99))),
       fmt::format("{:.2f} us", h.mean() / 1000.0), fmt::format("{:.2f} us", h.stdev() / 1000.0),
       Micros(Us(h.max()))},
  });
  *out += "\n";
  const SampleStats rq = SampleStats::Of(Samples(k.requests_per_sec, r));
  const SampleStats by = SampleStats::Of(Samples(k.bytes_per_sec, r));
  auto i0 = [](double v) { return fmt::format("{:.0f}", v); };
  auto f2 = [](double v) { return fmt::format("{:.2f}", v); };
  *out += RenderTable({
      {"STAT", "1%", "2.5%", "50%", "97.5%", "AVG", "STDEV", "MIN"},
      {"Req/Sec", i0(rq.p1), i0(rq.p2_5), i0(rq.p50), i0(rq.p97_5), f2(rq.mean), f2(rq.stdev),
       i0(rq.min)},
      {"Bytes/Sec", FormatBytes(by.p1), FormatBytes(by.p2_5), FormatBytes(by.p50),
       FormatBytes(by.p97_5), FormatBytes(by.mean), FormatBytes(by.stdev), FormatBytes(by.min)},
  });
  fmt::format_to(o, "\nReq/Bytes counts sampled once per second.\n\n");
  fmt::format_to(o, "{} 2xx responses, {} non 2xx responses.\n", k.status_2xx, k.status_non2xx);
  fmt::format_to(o, "{} errors ({} timeouts).\n", k.errors, k.timeouts);
  fmt::format_to(o, "{} total requests in {} seconds, {} read for {}.\n", k.responses,
                 Seconds(r.seconds), FormatBytes(static_cast<double>(k.bytes)), label);
}

void StatsJson(std::string* out, const SampleStats& s) {
  fmt::format_to(std::back_inserter(*out),
                 "{{\"p1\":{},\"p2_5\":{},\"p50\":{},\"p97_5\":{},\"avg\":{},\"stdev\":{},"
                 "\"min\":{},\"max\":{},\"samples\":{}}}",
                 R3(s.p1), R3(s.p2_5), R3(s.p50), R3(s.p97_5), R3(s.mean), R3(s.stdev), R3(s.min),
                 R3(s.max), s.n);
}

void KindJson(std::string* out, const KindStats& k, const RunResult& r) {
  auto o = std::back_inserter(*out);
  const LatencyHistogram& h = k.latency;
  fmt::format_to(o,
                 "{{\"total\":{},\"2xx\":{},\"non2xx\":{},\"errors\":{},\"timeouts\":{},"
                 "\"bytes\":{},\"latency_us\":{{\"p2_5\":{},\"p50\":{},\"p97_5\":{},\"p99\":{},"
                 "\"p99_9\":{},\"avg\":{},\"stdev\":{},\"min\":{},\"max\":{}}},",
                 k.responses, k.status_2xx, k.status_non2xx, k.errors, k.timeouts, k.bytes,
                 R3(Us(h.Percentile(2.5))), R3(Us(h.Percentile(50))), R3(Us(h.Percentile(97.5))),
                 R3(Us(h.Percentile(99))), R3(Us(h.Percentile(99.9))), R3(h.mean() / 1000.0),
                 R3(h.stdev() / 1000.0), R3(Us(h.min())), R3(Us(h.max())));
  *out += "\"requests_per_sec\":";
  StatsJson(out, SampleStats::Of(Samples(k.requests_per_sec, r)));
  *out += ",\"bytes_per_sec\":";
  StatsJson(out, SampleStats::Of(Samples(k.bytes_per_sec, r)));
  *out += "}";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

std::string FormatBytes(double b) {
  if (!(b >= 0)) b = 0;
  if (b < 10) return fmt::format("{:.0f} B", b);
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int e = static_cast<int>(std::floor(std::log(b) / std::log(1000.0)));
  e = std::clamp(e, 0, 6);
  const double v = std::floor(b / std::pow(1000.0, e) * 10 + 0.5) / 10;
  return v < 10 ? fmt::format("{:.1f} {}", v, kUnits[e]) : fmt::format("{:.0f} {}", v, kUnits[e]);
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.size());
  std::vector<size_t> w(cols, 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); i++) w[i] = std::max(w[i], r[i].size());
  std::string sep = "+";
  for (size_t i = 0; i < cols; i++) sep += std::string(w[i] + 2, '-') + "+";
  sep += "\n";
  std::string out = sep;
  for (size_t ri = 0; ri < rows.size(); ri++) {
    out += "|";
    for (size_t i = 0; i < cols; i++) {
      const std::string cell = i < rows[ri].size() ? rows[ri][i] : "";
      const size_t pad = w[i] - cell.size();
      if (ri == 0) {  // header: centered
        const size_t left = pad / 2;
        out += std::string(left + 1, ' ') + cell + std::string(pad - left + 1, ' ');
      } else if (IsNumeric(cell)) {  // numbers right-aligned, text left-aligned
        out += std::string(pad + 1, ' ') + cell + " ";
      } else {
        out += " " + cell + std::string(pad + 1, ' ');
      }
      out += "|";
    }
    out += "\n";
    if (ri == 0) out += sep;
  }
  out += sep;
  return out;
}

std::string TextPreamble(const Config& c) {
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "running {} test @ {}\n", absl::FormatDuration(c.duration), c.target.uri);
  fmt::format_to(o, "{} connections with {} pipelining factor, {} thread{}", c.connections,
                 c.pipelining, c.threads, c.threads == 1 ? "" : "s");
  if (c.warmup > absl::ZeroDuration())
    fmt::format_to(o, ", {} warmup", absl::FormatDuration(c.warmup));
  fmt::format_to(o, ".\n");
  fmt::format_to(o,
                 "Keys uniform in [0, {}); {:.4g}% of GETs are followed by a {} of their value + 1"
                 "{} (seed {}).\n",
                 c.keys, c.post_ratio * 100, c.set_method,
                 c.value_bytes ? fmt::format(", padded to {} bytes", c.value_bytes) : "", c.seed);
  return out;
}

std::string TextReport(const RunResult& r) {
  std::string out;
  const std::string set_title = "Write/" + r.config.set_method;
  KindText(&out, "Read/GET", "GET", r.stats.kind[kGet], r);
  out += "\n";
  KindText(&out, set_title.c_str(), r.config.set_method.c_str(), r.stats.kind[kSet], r);
  const ErrorStats& e = r.stats.errors;
  const uint64_t total = r.stats.kind[kGet].responses + r.stats.kind[kSet].responses;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "\n---------- Total ----------\n\n");
  fmt::format_to(o, "{} requests in {} seconds: {:.0f} requests/sec, {}/sec read.\n", total,
                 Seconds(r.seconds), r.seconds > 0 ? static_cast<double>(total) / r.seconds : 0.0,
                 FormatBytes(r.seconds > 0 ? static_cast<double>(r.stats.kind[kGet].bytes +
                                                                 r.stats.kind[kSet].bytes) /
                                                 r.seconds
                                           : 0.0));
  fmt::format_to(o,
                 "{} errors: {} connect, {} read, {} write, {} closed, {} protocol, {} timeouts; "
                 "{} connections opened, {} reconnects.\n",
                 e.Total(), e.connect, e.read, e.write, e.closed, e.protocol, e.timeouts,
                 e.connections_opened, e.reconnects);
  out += "Done!\n";
  return out;
}

std::string JsonReport(const RunResult& r) {
  const Config& c = r.config;
  const ErrorStats& e = r.stats.errors;
  const uint64_t total = r.stats.kind[kGet].responses + r.stats.kind[kSet].responses;
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 "{{\"uri\":{},\"duration\":{},\"warmup\":{},\"threads\":{},\"connections\":{},"
                 "\"pipelining\":{},\"keys\":{},\"post_ratio\":{},\"value_bytes\":{},"
                 "\"set_method\":{},\"seed\":{},",
                 JsonString(c.target.uri), R3(r.seconds), R3(absl::ToDoubleSeconds(c.warmup)),
                 c.threads, c.connections, c.pipelining, c.keys, c.post_ratio, c.value_bytes,
                 JsonString(c.set_method), c.seed);
  out += "\"get\":";
  KindJson(&out, r.stats.kind[kGet], r);
  out += ",\"post\":";
  KindJson(&out, r.stats.kind[kSet], r);
  fmt::format_to(o,
                 ",\"errors\":{{\"total\":{},\"connect\":{},\"read\":{},\"write\":{},"
                 "\"closed\":{},\"protocol\":{},\"timeouts\":{},\"reconnects\":{},"
                 "\"connections_opened\":{}}},\"total\":{},\"requests_per_sec\":{}}}\n",
                 e.Total(), e.connect, e.read, e.write, e.closed, e.protocol, e.timeouts,
                 e.reconnects, e.connections_opened, total,
                 R3(r.seconds > 0 ? static_cast<double>(total) / r.seconds : 0.0));
  return out;
}

}  // namespace kvbench
