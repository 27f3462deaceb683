// kvbench: a pipelined HTTP/1.1 load generator reproducing autocannon-go's kvd workload.
// Flags are listed by `kvbench --help`; flag names may be written with '-' or '_'.
// Exit status: 0 when the run completed; 1 on usage errors (also absl's own flag errors);
// 2 when the target could not be resolved or connected to at all.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kvbench/client.h"
#include "kvbench/report.h"
#include "kvbench/workload.h"
#include "util/flag_names.h"

namespace kvbench {
// A duration flag that also accepts a bare number of seconds ("10" = "10s").
struct FlagDuration {
  absl::Duration d;
};
bool AbslParseFlag(absl::string_view text, FlagDuration* out, std::string* error) {
  double secs = 0;
  if (absl::SimpleAtod(text, &secs)) {
    if (!(secs >= 0)) {
      *error = "must not be negative";
      return false;
    }
    out->d = absl::Seconds(secs);
    return true;
  }
  if (!absl::ParseDuration(text, &out->d)) {
    *error = "not a duration (e.g. 10s, 500ms, 1m, or a number of seconds)";
    return false;
  }
  if (out->d < absl::ZeroDuration()) {
    *error = "must not be negative";
    return false;
  }
  return true;
}
std::string AbslUnparseFlag(FlagDuration d) { return absl::FormatDuration(d.d); }
}  // namespace kvbench

ABSL_FLAG(int, threads, 1, "client threads, each with its own epoll loop");
ABSL_FLAG(int, connections, 20, "concurrent connections, split over the threads");
ABSL_FLAG(int, pipelining, 10, "requests in flight per connection");
ABSL_FLAG(kvbench::FlagDuration, duration, kvbench::FlagDuration{absl::Seconds(10)},
          "measured run time (e.g. 10s, 1m; a bare number is seconds)");
ABSL_FLAG(kvbench::FlagDuration, warmup, kvbench::FlagDuration{absl::ZeroDuration()},
          "time driven before the measured run and not counted");
ABSL_FLAG(kvbench::FlagDuration, timeout, kvbench::FlagDuration{absl::Seconds(10)},
          "a connection with requests in flight and no bytes received for this long counts a "
          "timeout and reconnects");
ABSL_FLAG(std::string, uri, "http://127.0.0.1:8081", "target, http://host[:port][/prefix]");
ABSL_FLAG(uint64_t, keys, 1000000, "keys are uniform in [0, keys)");
ABSL_FLAG(double, post_ratio, 0.25,
          "probability that a GET is followed by a POST of its value + 1 (0.25 = 80% GET / 20% "
          "POST)");
ABSL_FLAG(uint64_t, value_bytes, 0,
          "0: POST bodies are the decimal value; N > 0: zero-padded to exactly N bytes");
ABSL_FLAG(std::string, set_method, "POST", "method of the write requests: POST or PUT");
ABSL_FLAG(std::string, auth_token, "", "send \"Authorization: Bearer <token>\" with every request (kvd --auth-token)");
ABSL_FLAG(bool, json, false, "print the report as one JSON object instead of tables");
ABSL_FLAG(uint64_t, seed, 0, "random seed (0: pick one)");

namespace kvbench {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

int Usage(const std::string& msg) {
  fmt::print(stderr, "kvbench: {}\nRun kvbench --help for the flags.\n", msg);
  return 1;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "pipelined HTTP/1.1 load generator for kvd (autocannon-go's GET/POST workload).\n"
      "Usage: kvbench [--uri=http://127.0.0.1:8081] [--duration=10s] [--connections=20] "
      "[--pipelining=10] [--threads=1] [--json] ...\n"
      "Flag names may be written with - or _ (--post-ratio is --post_ratio).");
  absl::FlagsUsageConfig usage;
  // --help lists kvbench's own flags (not those of the kvd library objects linked in).
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "kvbench/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [](absl::string_view path) { return std::string(path); };
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> storage(argv, argv + argc);
  std::vector<char*> args = kvd::NormalizeFlagNames(&storage);
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (rest.size() > 1) return Usage(fmt::format("unexpected argument \"{}\"", rest[1]));

  Config c;
  c.threads = absl::GetFlag(FLAGS_threads);
  c.connections = absl::GetFlag(FLAGS_connections);
  c.pipelining = absl::GetFlag(FLAGS_pipelining);
  c.duration = absl::GetFlag(FLAGS_duration).d;
  c.warmup = absl::GetFlag(FLAGS_warmup).d;
  c.timeout = absl::GetFlag(FLAGS_timeout).d;
  c.keys = absl::GetFlag(FLAGS_keys);
  c.post_ratio = absl::GetFlag(FLAGS_post_ratio);
  c.value_bytes = absl::GetFlag(FLAGS_value_bytes);
  c.set_method = absl::AsciiStrToUpper(absl::GetFlag(FLAGS_set_method));
  c.auth_token = absl::GetFlag(FLAGS_auth_token);
  c.seed = absl::GetFlag(FLAGS_seed);
  const bool json = absl::GetFlag(FLAGS_json);

  if (c.connections < 1 || c.connections > 100000) return Usage("--connections must be 1..100000");
  if (c.pipelining < 1 || c.pipelining > 10000) return Usage("--pipelining must be 1..10000");
  if (c.threads < 1 || c.threads > 1024) return Usage("--threads must be 1..1024");
  if (c.threads > c.connections) c.threads = c.connections;
  if (c.duration <= absl::ZeroDuration()) return Usage("--duration must be > 0");
  if (c.duration > absl::Hours(24 * 7)) return Usage("--duration must be at most a week");
  if (c.warmup > absl::Hours(24)) return Usage("--warmup must be at most a day");
  if (c.timeout <= absl::ZeroDuration()) return Usage("--timeout must be > 0");
  if (c.keys < 1) return Usage("--keys must be >= 1");
  if (!(c.post_ratio >= 0 && c.post_ratio <= 1)) return Usage("--post-ratio must be in [0, 1]");
  if (c.value_bytes > (64u << 20)) return Usage("--value-bytes must be at most 64 MiB");
  if (c.set_method != "POST" && c.set_method != "PUT") return Usage("--set-method must be POST or PUT");
  for (char ch : c.auth_token) {  // it is written into a header line as it is
    if (ch <= ' ' || ch > '~') return Usage("--auth-token must be visible ASCII without spaces");
  }
  if (c.seed == 0) c.seed = std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32) | 1;
  // Each connection keeps room for `pipelining` unsent requests (see client.h).
  const double buffers = static_cast<double>(c.connections) * (c.pipelining + 1) *
                         (static_cast<double>(c.value_bytes) + 512);
  if (buffers > 8.0 * (1ull << 30))
    return Usage("--connections x --pipelining x --value-bytes needs over 8 GiB of buffers");
  std::string error;
  if (!ParseUri(absl::GetFlag(FLAGS_uri), &c.target, &error)) return Usage(error);

  if (!ResolveTarget(&c.target, &error) ||
      !ProbeConnect(c.target, std::min(c.timeout, absl::Seconds(5)), &error)) {
    fmt::print(stderr, "kvbench: {}\n", error);
    return 2;
  }

  // One descriptor per connection: raise the soft limit as far as the hard limit allows.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!json) {
    fmt::print("{}", TextPreamble(c));
    std::fflush(stdout);
  }

  RunClock clock;
  clock.start_ns = NowNs();
  clock.measure_ns = clock.start_ns + absl::ToInt64Nanoseconds(c.warmup);
  clock.end_ns = clock.measure_ns + absl::ToInt64Nanoseconds(c.duration);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < c.threads; i++) {
    const int n = c.connections / c.threads + (i < c.connections % c.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(c, i, n, clock, &g_stop));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });

  // Live progress on stderr while stdout is a terminal; otherwise just wait.
  const bool live = isatty(STDOUT_FILENO);
  uint64_t last[kKinds] = {0, 0};
  int64_t next = clock.start_ns + 1000000000;
  for (;;) {
    const int64_t now = NowNs();
    if (now >= clock.end_ns || g_stop.load(std::memory_order_relaxed)) break;
    if (now < next) {
      absl::SleepFor(absl::Nanoseconds(std::min<int64_t>({next, clock.end_ns, now + 50000000}) - now));
      continue;
    }
    next += 1000000000;
    if (!live) continue;
    uint64_t cur[kKinds] = {0, 0}, errors = 0;
    for (auto& w : workers) {
      for (int k = 0; k < kKinds; k++)
        cur[k] += w->progress().responses[k].load(std::memory_order_relaxed);
      errors += w->progress().errors.load(std::memory_order_relaxed);
    }
    const double elapsed = static_cast<double>(now - clock.start_ns) / 1e9;
    const double total = absl::ToDoubleSeconds(c.warmup + c.duration);
    fmt::print(stderr, "\r\033[K[{:5.0f}s / {:.0f}s{}] GET {:>9}/s  {} {:>9}/s  errors {}",
               elapsed, total, now < clock.measure_ns ? " warmup" : "", cur[kGet] - last[kGet],
               c.set_method, cur[kSet] - last[kSet], errors);
    std::fflush(stderr);
    last[kGet] = cur[kGet];
    last[kSet] = cur[kSet];
  }
  const int64_t stopped = std::min(NowNs(), clock.end_ns);
  for (auto& t : threads) t.join();
  if (live) fmt::print(stderr, "\r\033[K");

  const size_t seconds =
      static_cast<size_t>((clock.end_ns - clock.measure_ns + 999999999) / 1000000000);
  RunStats total(seconds);
  for (auto& w : workers) total.Merge(w->stats());
  if (total.errors.connections_opened == 0) {
    fmt::print(stderr, "kvbench: could not connect to {} ({} connect errors)\n", c.target.uri,
               total.errors.connect);
    return 2;
  }
  const int64_t measured = std::max<int64_t>(0, stopped - clock.measure_ns);
  RunResult result{c, total, static_cast<double>(measured) / 1e9,
                   static_cast<size_t>(measured / 1000000000)};
  const std::string report = json ? JsonReport(result) : TextReport(result);
  fmt::print("{}", report);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace kvbench

int main(int argc, char** argv) { return kvbench::Main(argc, argv); }
