#include "config/config.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "store/entry.h"
#include "store/shard.h"
#include "util/flag_names.h"
#include "util/log.h"
#include "util/version.h"

ABSL_FLAG(std::string, bind, "0.0.0.0", "address to listen on");
ABSL_FLAG(int, port, 8081, "TCP port to listen on (0 picks a free port)");
ABSL_FLAG(int, resp_port, 0,
          "also serve RESP2, the Redis protocol, on this TCP port, over the same keys (0: off)");
ABSL_FLAG(int, threads, 0, "reactor threads (0: one per CPU this process may run on)");
ABSL_FLAG(int, shards, 0, "store shards (0: 16 per reactor with several, each at least 32M of --max-memory; at most 8G each)");
ABSL_FLAG(absl::Duration, ttl, absl::Milliseconds(10000),
          "how long a key lives after its last write, e.g. 10s, 500ms (max 24 days)");
ABSL_FLAG(int, max_key_bytes, 250, "longest key in bytes, not counting the leading '/' (max 254)");
ABSL_FLAG(std::string, max_value_bytes, "1M", "largest value, bytes with optional K/M suffix (max 8M-1)");
ABSL_FLAG(std::string, max_memory, "",
          "memory budget for everything the store holds (keys, values, tables), bytes with K/M/G "
          "suffix; at it, keys are evicted by S3-FIFO (default: a quarter of physical memory)");
ABSL_FLAG(int, miss_status, 200, "status for a GET miss: 200 (empty body, as the seed) or 404");
ABSL_FLAG(int, max_connections, 10000, "most client connections open at once");
ABSL_FLAG(int, max_header_bytes, 8192, "largest header section (the request target has its own 8 KiB limit); over it: 431");
ABSL_FLAG(std::string, max_output_bytes, "4M",
          "per-connection pending output above which kvd stops reading from that client");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(60), "close connections idle this long");
ABSL_FLAG(absl::Duration, header_timeout, absl::Seconds(10),
          "close connections whose request headers take longer than this");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(5),
          "on SIGTERM/SIGINT, how long to finish answering requests already received");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");
ABSL_FLAG(std::string, auth_token, "",
          "if set, key and /size requests need 'Authorization: Bearer <token>' (else 401); "
          "prefer the KVD_AUTH_TOKEN environment variable, which ps does not show");
ABSL_FLAG(bool, auth_metrics, false, "with --auth-token, also require the token for /metrics and /healthz");

namespace kvd {
namespace {

// Default --shards with several reactors (see Parse). tools/storebench measured 16 a reactor
// against 1, 4 and 64: lock waits fell 3.8M -> 0.8M in 2 s, ops/s rose 1.26x -> 1.40x one thread's.
constexpr size_t kShardsPerReactor = 16;
constexpr uint64_t kMinAutoShardBytes = uint64_t(32) << 20;

// A shard addresses at most 8 GiB (its ids).
size_t ShardsNeeded(uint64_t max_memory) {
  const uint64_t per_shard_max = uint64_t(store::Arena::kMaxSegments) * store::Arena::kSegmentBytes;
  return size_t((max_memory + per_shard_max - 1) / per_shard_max);
}

size_t UsableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return size_t(CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? size_t(n) : 1;
}

uint64_t PhysicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(1) << 30;
}

}  // namespace

size_t DefaultShards(size_t threads, uint64_t max_memory) {
  const size_t want = threads == 1 ? 1 : std::min<size_t>(threads * kShardsPerReactor, size_t(max_memory / kMinAutoShardBytes));
  return std::max({threads, ShardsNeeded(max_memory), want});
}

bool ParseByteSize(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t mult = 1;
  char last = char(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'B' && text.size() > 1) {  // accept "64MB" / "64MiB"-less spellings too
    text.remove_suffix(1);
    if (!text.empty() && (text.back() == 'i' || text.back() == 'I')) text.remove_suffix(1);
    last = text.empty() ? '\0' : char(std::toupper(static_cast<unsigned char>(text.back())));
  }
  switch (last) {
    case 'K': mult = uint64_t(1) << 10; break;
    case 'M': mult = uint64_t(1) << 20; break;
    case 'G': mult = uint64_t(1) << 30; break;
    case 'T': mult = uint64_t(1) << 40; break;
    default: break;
  }
  if (mult != 1) text.remove_suffix(1);
  uint64_t n;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &n)) return false;
  if (n > UINT64_MAX / mult) return false;
  *out = n * mult;
  return true;
}

bool LoadConfig(int argc, char** argv, Config* c, std::string* error) {
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return std::string("kvd " KVD_VERSION "\n"); };
  usage.contains_help_flags = [](absl::string_view path) { return path.find("config") != absl::string_view::npos; };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage("kvd: a fast HTTP key-value cache. Usage: kvd [--flag=value ...]");
  // Flags are spelled with dashes (--max-key-bytes) as users expect; absl names them with
  // underscores, so translate the name part of each "--flag[=value]" before parsing.
  std::vector<std::string> args(argv, argv + argc);
  // Every flag can also come from the environment: KVD_MAX_MEMORY=2G is --max_memory=2G. They go
  // right after argv[0], so the command line (parsed later, last one wins) overrides them.
  std::vector<std::string> from_env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, 4) != "KVD_") continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(4, eq - 4));
    for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (absl::FindCommandLineFlag(name) == nullptr) continue;  // e.g. KVD_BIN, used by scripts
    from_env.push_back("--" + name + "=" + std::string(kv.substr(eq + 1)));
  }
  args.insert(args.begin() + 1, from_env.begin(), from_env.end());
  std::vector<char*> ptrs = NormalizeFlagNames(&args);
  absl::ParseCommandLine(int(ptrs.size()), ptrs.data());

  auto fail = [error](std::string msg) {
    *error = std::move(msg);
    return false;
  };
  c->bind = absl::GetFlag(FLAGS_bind);
  int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) return fail("--port must be 0..65535");
  c->port = uint16_t(port);
  int resp_port = absl::GetFlag(FLAGS_resp_port);
  if (resp_port < 0 || resp_port > 65535) return fail("--resp-port must be 0 (off) or a port, 1..65535");
  c->resp_port = uint16_t(resp_port);
  if (c->resp_port != 0 && c->resp_port == c->port) return fail("--resp-port must differ from --port");
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0 || threads > 1024) return fail("--threads must be 0..1024");
  c->threads = threads == 0 ? UsableCpus() : size_t(threads);
  int shards = absl::GetFlag(FLAGS_shards);
  if (shards < 0 || shards > 4096) return fail("--shards must be 0..4096");

  absl::Duration ttl = absl::GetFlag(FLAGS_ttl);
  if (ttl < absl::Milliseconds(1) || ttl > absl::Milliseconds(store::kMaxTtlMs)) {
    return fail("--ttl must be between 1ms and 24 days");
  }
  c->ttl_ms = uint64_t(absl::ToInt64Milliseconds(ttl));

  int key = absl::GetFlag(FLAGS_max_key_bytes);
  if (key < 1 || size_t(key) + 1 > store::kMaxKeyLen) return fail("--max-key-bytes must be 1..254");
  c->max_key_bytes = size_t(key);
  uint64_t v;
  if (!ParseByteSize(absl::GetFlag(FLAGS_max_value_bytes), &v) || v > store::kMaxValueLen) {
    return fail("--max-value-bytes must be a size up to 8388607 (e.g. 1M)");
  }
  c->max_value_bytes = v;
  std::string mem = absl::GetFlag(FLAGS_max_memory);
  if (mem.empty()) {
    c->max_memory = PhysicalMemory() / 4;
  } else if (!ParseByteSize(mem, &c->max_memory) || c->max_memory == 0) {
    return fail("--max-memory must be a size such as 512M or 4G");
  }
  // A shard addresses at most 8 GiB (its ids), and needs a minimum for its bookkeeping.
  const size_t shards_needed = ShardsNeeded(c->max_memory);
  if (shards == 0) {
    c->shards = DefaultShards(c->threads, c->max_memory);
  } else if (size_t(shards) < shards_needed) {
    return fail(fmt::format("--shards={} is too few for --max-memory={}: each shard holds at most 8G",
                            shards, mem));
  } else {
    c->shards = size_t(shards);
  }
  if (c->max_memory / c->shards < store::Shard::MinLimit()) {
    return fail(fmt::format("--max-memory is too small for {} shards: each needs at least {} bytes "
                            "(so at least {} in all)",
                            c->shards, store::Shard::MinLimit(), store::Shard::MinLimit() * c->shards));
  }
  int miss = absl::GetFlag(FLAGS_miss_status);
  if (miss != 200 && miss != 404) return fail("--miss-status must be 200 or 404");
  c->miss_status = miss;
  int conns = absl::GetFlag(FLAGS_max_connections);
  if (conns < 1) return fail("--max-connections must be positive");
  c->max_connections = size_t(conns);
  int hdr = absl::GetFlag(FLAGS_max_header_bytes);
  if (hdr < 256 || hdr > (1 << 20)) return fail("--max-header-bytes must be 256..1048576");
  c->max_header_bytes = size_t(hdr);
  if (!ParseByteSize(absl::GetFlag(FLAGS_max_output_bytes), &v) || v < 4096) {
    return fail("--max-output-bytes must be a size of at least 4K");
  }
  c->max_output_bytes = v;
  c->idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  c->header_timeout = absl::GetFlag(FLAGS_header_timeout);
  c->shutdown_timeout = absl::GetFlag(FLAGS_shutdown_timeout);
  if (c->idle_timeout <= absl::ZeroDuration() || c->header_timeout <= absl::ZeroDuration() ||
      c->shutdown_timeout < absl::ZeroDuration()) {
    return fail("timeouts must be positive");
  }
  c->auth_token = absl::GetFlag(FLAGS_auth_token);
  c->auth_metrics = absl::GetFlag(FLAGS_auth_metrics);
  if (c->auth_metrics && c->auth_token.empty()) return fail("--auth-metrics needs --auth-token");
  log::Level level;
  if (!log::ParseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return fail("--log-level must be debug, info, warn or error");
  }
  log::SetLevel(level);
  return true;
}

}  // namespace kvd
