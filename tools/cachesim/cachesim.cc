// cachesim: writes the synthetic look-aside traces (trace.h has their exact definition and file
// format) and replays them against eviction policies (policies.h) under kvd's byte model.
//
//   cachesim trace --zipf=S [--scan] [--requests=2000000] [--keys=1000000] [--seed=1] --out=FILE
//   cachesim replay --trace=FILE (--budget=64M | --objects=N) --policy=NAME[,NAME...] [--tsv]
//
// replay is a look-aside cache: each record is a GET; a miss SETs the key with its size. Per
// policy it prints the hit ratio over the non-scan GETs, the same over the second half of them
// (after the scan, when there is one), the scan GETs' hits, the objects and bytes held at the
// end (and, for s3fifo-seg, the bytes of the segments in use and the bytes its evictions copied
// per byte inserted), and the replay's wall time.
// --objects=N sets the budget to N times the mean object size of the trace's Zipf keys (the
// budget that would hold N average objects). --tsv prints tab-separated rows instead of markdown.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"
#include "policies.h"
#include "trace.h"

namespace cachesim {
namespace {

struct Result {
  uint64_t gets = 0, hits = 0, late_gets = 0, late_hits = 0, scan_gets = 0, scan_hits = 0;
  uint64_t objects = 0, bytes = 0, reserved = 0, copied = 0, inserted = 0;
  double seconds = 0;
};

Result Replay(const Trace& t, Cache& c) {
  auto start = std::chrono::steady_clock::now();
  Result r;
  uint64_t zipf_i = 0, half = t.header.requests / 2;
  for (const Record& rec : t.records) {
    bool hit = c.Get(rec.id);
    if (!hit) {
      uint32_t bytes = ObjectBytesOf(rec.id, rec.value_bytes);
      c.Insert(rec.id, bytes);
      r.inserted += bytes;
    }
    if (rec.flags & kScan) {
      ++r.scan_gets, r.scan_hits += hit;
    } else {
      ++r.gets, r.hits += hit;
      if (zipf_i++ >= half) ++r.late_gets, r.late_hits += hit;
    }
  }
  r.objects = c.objects();
  r.bytes = c.bytes();
  r.reserved = c.reserved();
  r.copied = c.copied();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

double Ratio(uint64_t a, uint64_t b) { return b ? double(a) / double(b) : 0; }

// --name=value and --flag arguments after the command; anything else is an error.
std::map<std::string, std::string> ParseArgs(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 2; i < argc; ++i) {
    std::string_view s = argv[i];
    if (!s.starts_with("--")) throw std::invalid_argument("unexpected argument " + std::string(s));
    size_t eq = s.find('=');
    a[std::string(s.substr(2, eq - 2))] = eq == std::string_view::npos ? "1" : std::string(s.substr(eq + 1));
  }
  return a;
}

std::string Take(std::map<std::string, std::string>& a, const std::string& k, const std::string& def = "") {
  auto it = a.find(k);
  if (it == a.end()) {
    if (def.empty()) throw std::invalid_argument("missing --" + k);
    return def;
  }
  std::string v = it->second;
  a.erase(it);
  return v;
}

void NoMore(const std::map<std::string, std::string>& a) {
  if (!a.empty()) throw std::invalid_argument("unknown option --" + a.begin()->first);
}

int TraceCmd(std::map<std::string, std::string> a) {
  TraceSpec s;
  s.zipf = std::stod(Take(a, "zipf"));
  s.scan = a.erase("scan") > 0;
  s.requests = std::stoull(Take(a, "requests", "2000000"));
  s.keys = uint32_t(std::stoul(Take(a, "keys", "1000000")));
  s.seed = std::stoull(Take(a, "seed", "1"));
  std::string out = Take(a, "out");
  NoMore(a);
  Trace t = Generate(s);
  Write(t, out);
  fmt::print(stderr, "cachesim: wrote {} ({} records: zipf {} over {} keys, {} scan)\n", out,
             t.records.size(), s.zipf, s.keys, t.header.scan_records);
  return 0;
}

int ReplayCmd(std::map<std::string, std::string> a) {
  Trace t = Read(Take(a, "trace"));
  std::string budget_s = Take(a, "budget", "-"), objects_s = Take(a, "objects", "-");
  std::string policies = Take(a, "policy");
  bool tsv = a.erase("tsv") > 0;
  NoMore(a);
  uint64_t budget;
  if (objects_s != "-") {
    uint64_t sum = 0;
    for (uint32_t id = 0; id < t.header.keys; ++id) sum += ObjectBytesOf(id, ValueSize(id));
    budget = uint64_t(std::stod(objects_s) * double(sum) / double(t.header.keys));
  } else if (budget_s != "-") {
    budget = ParseBytes(budget_s);
  } else {
    throw std::invalid_argument("give --budget or --objects");
  }
  if (tsv) {
    fmt::print("zipf\tscan\tbudget\tpolicy\thit_ratio\thit_ratio_late\tscan_hits\tobjects\tbytes\treserved\tcopied\tseconds\n");
  } else {
    fmt::print("trace: zipf {} over {} keys, {} requests{}, seed {}; budget {} bytes ({:.1f} MiB)\n\n",
               t.header.zipf, t.header.keys, t.header.requests,
               t.header.scan_records ? fmt::format(" + a scan of {} keys", t.header.scan_records) : "",
               t.header.seed, budget, double(budget) / (1 << 20));
    fmt::print("| policy | hit ratio | 2nd half | scan hits | objects | bytes used | segments held | copied / inserted | replay s |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|\n");
  }
  std::string_view rest = policies;
  while (!rest.empty()) {
    std::string_view spec = rest.substr(0, rest.find(','));
    rest = spec.size() < rest.size() ? rest.substr(spec.size() + 1) : "";
    auto cache = MakeCache(spec, budget, t.id_limit());
    Result r = Replay(t, *cache);
    double hr = Ratio(r.hits, r.gets), late = Ratio(r.late_hits, r.late_gets);
    if (tsv) {
      fmt::print("{}\t{}\t{}\t{}\t{:.5f}\t{:.5f}\t{}\t{}\t{}\t{}\t{}\t{:.3f}\n", t.header.zipf,
                 t.header.scan_records > 0, budget, spec, hr, late, r.scan_hits, r.objects, r.bytes,
                 r.reserved, r.copied, r.seconds);
    } else {
      bool seg = r.reserved != r.bytes || r.copied > 0;
      fmt::print("| {} | {:.4f} | {:.4f} | {} | {} | {} | {} | {} | {:.2f} |\n", spec, hr, late, r.scan_hits,
                 r.objects, r.bytes, seg ? std::to_string(r.reserved) : "—",
                 seg ? fmt::format("{:.3f}", Ratio(r.copied, r.inserted)) : "—", r.seconds);
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace cachesim

int main(int argc, char** argv) {
  std::string_view cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "trace") return cachesim::TraceCmd(cachesim::ParseArgs(argc, argv));
    if (cmd == "replay") return cachesim::ReplayCmd(cachesim::ParseArgs(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cachesim: {}\n", e.what());
    return 1;
  }
  fmt::print(stderr,
             "usage: cachesim trace --zipf=S [--scan] [--requests=2000000] [--keys=1000000] [--seed=1] --out=FILE\n"
             "       cachesim replay --trace=FILE (--budget=64M | --objects=N) --policy=NAME[,NAME...] [--tsv]\n"
             "policies: fifo lru clock clock2 sieve s3fifo[:small=F][:move=N][:ghost=F] s3fifo-seg[=SEGBYTES][:...]\n");
  return cmd == "-h" || cmd == "--help" ? 0 : 2;
}
