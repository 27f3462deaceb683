// Trace: the synthetic look-aside workloads shared by the simulator (cachesim replay) and the
// live-server benchmarks (scripts/bench/lookaside.sh, which read the same files), and kvd's byte model.
//
// Definition (exact; a trace is a pure function of requests, keys, zipf, scan and seed):
//   Rand        splitmix64: state += 0x9e3779b97f4a7c15; z = state;
//               z = (z ^ z>>30) * 0xbf58476d1ce4e5b9; z = (z ^ z>>27) * 0x94d049bb133111eb;
//               output z ^ z>>31. One generator, state = seed, used first by the permutation
//               then by the draws.
//   Mix(x)      the first output of Rand seeded with x (a fixed integer hash).
//   Permutation perm = 0..keys-1, then Fisher-Yates: for i = keys-1 down to 1,
//               j = Rand() % (i + 1), swap(perm[i], perm[j]). Rank r (0-based) is key perm[r].
//   Zipf draw   cum[r] = sum over i <= r of (i + 1)^-zipf, summed in order in double (std::pow);
//               u = (Rand() >> 11) * 2^-53; the rank is the first r with cum[r] > u * cum[keys-1]
//               (clamped to keys-1). zipf = 0 is uniform.
//   Value size  ValueSize(id) = 64 + Mix(id) % 961: uniform 64..1024 bytes, fixed per key.
//   Scan        with scan, after Zipf request number requests/2 (0-based: before it), the trace
//               holds requests/5 scan requests for keys keys, keys+1, ..., each once, in order,
//               flagged kScan. Scan keys are never requested otherwise.
//   Key text    HTTP path "/k<id>" (kvd's key, with its '/'); Redis and memcached key "k<id>".
//
// File format (little-endian, written as the host's structs: see the static_assert): a 64-byte header, then one 8-byte record per request.
//   header  char magic[8] = "KVDTRC01"; u32 version = 1; u32 record_bytes = 8; u64 records;
//           u64 keys; u64 requests (Zipf ones); u64 scan_records; f64 zipf; u64 seed
//   record  u32 key id; u16 value bytes; u8 flags (bit 0: scan); u8 0
//
// Byte model (kvd's store, used as every policy's object size): ObjectBytes = round_up_4(16 +
// key_len + value_len) + 10 (the hash table's share), key_len counting the '/'.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachesim {

struct Rand {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = state += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

inline uint64_t Mix(uint64_t x) { return Rand{x}(); }
inline uint32_t ValueSize(uint32_t id) { return 64 + uint32_t(Mix(id) % 961); }

inline uint32_t Digits(uint32_t n) {
  uint32_t d = 1;
  while (n >= 10) n /= 10, ++d;
  return d;
}
inline uint32_t KeyLen(uint32_t id) { return 2 + Digits(id); }  // "/k<id>"
inline uint32_t ObjectBytes(uint32_t key_len, uint32_t value_len) {
  return ((16 + key_len + value_len + 3) & ~3u) + 10;
}
inline uint32_t ObjectBytesOf(uint32_t id, uint32_t value_len) {
  return ObjectBytes(KeyLen(id), value_len);
}

struct Record {
  uint32_t id;
  uint16_t value_bytes;
  uint8_t flags;
  uint8_t pad;
};
static_assert(sizeof(Record) == 8);
static_assert(std::endian::native == std::endian::little, "the trace format is little-endian");
inline constexpr uint8_t kScan = 1;

struct TraceHeader {
  char magic[8];
  uint32_t version;
  uint32_t record_bytes;
  uint64_t records;
  uint64_t keys;
  uint64_t requests;
  uint64_t scan_records;
  double zipf;
  uint64_t seed;
};
static_assert(sizeof(TraceHeader) == 64);
inline constexpr char kMagic[8] = {'K', 'V', 'D', 'T', 'R', 'C', '0', '1'};

struct TraceSpec {
  uint64_t requests = 2000000;
  uint32_t keys = 1000000;
  double zipf = 0.99;
  bool scan = false;
  uint64_t seed = 1;
};

struct Trace {
  TraceHeader header{};
  std::vector<Record> records;
  // One past the largest key id: every per-key array a policy keeps has this many slots.
  uint32_t id_limit() const { return uint32_t(header.keys + header.scan_records); }
};

// "64M" and the like: a decimal count of bytes with an optional K, M or G (powers of 1024).
inline uint64_t ParseBytes(std::string_view s) {
  size_t used = 0;
  uint64_t n = std::stoull(std::string(s), &used);
  std::string_view unit = s.substr(used);
  int shift = unit.empty() ? 0 : unit == "K" || unit == "k" ? 10 : unit == "M" || unit == "m" ? 20
            : unit == "G" || unit == "g" ? 30 : -1;
  if (shift < 0 || n > (UINT64_MAX >> shift)) throw std::invalid_argument("bad byte count: " + std::string(s));
  return n << shift;
}

inline Trace Generate(const TraceSpec& s) {
  if (s.keys == 0 || s.zipf < 0) throw std::invalid_argument("trace: keys must be > 0, zipf >= 0");
  Rand rng{s.seed};
  std::vector<uint32_t> perm(s.keys);
  for (uint32_t i = 0; i < s.keys; ++i) perm[i] = i;
  for (uint32_t i = s.keys - 1; i > 0; --i) std::swap(perm[i], perm[rng() % (uint64_t(i) + 1)]);
  std::vector<double> cum(s.keys);
  double sum = 0;
  for (uint32_t r = 0; r < s.keys; ++r) cum[r] = sum += std::pow(double(r) + 1, -s.zipf);

  uint64_t scan_n = s.scan ? s.requests / 5 : 0;
  Trace t;
  std::memcpy(t.header.magic, kMagic, 8);
  t.header.version = 1;
  t.header.record_bytes = sizeof(Record);
  t.header.records = s.requests + scan_n;
  t.header.keys = s.keys;
  t.header.requests = s.requests;
  t.header.scan_records = scan_n;
  t.header.zipf = s.zipf;
  t.header.seed = s.seed;
  if (uint64_t(s.keys) + scan_n > UINT32_MAX) throw std::invalid_argument("trace: too many keys");
  t.records.reserve(t.header.records);
  for (uint64_t i = 0; i < s.requests; ++i) {
    if (i == s.requests / 2) {
      for (uint64_t k = 0; k < scan_n; ++k) {
        uint32_t id = uint32_t(s.keys + k);
        t.records.push_back({id, uint16_t(ValueSize(id)), kScan, 0});
      }
    }
    double target = double(rng() >> 11) * 0x1p-53 * sum;
    size_t r = std::upper_bound(cum.begin(), cum.end(), target) - cum.begin();
    uint32_t id = perm[std::min<size_t>(r, s.keys - 1)];
    t.records.push_back({id, uint16_t(ValueSize(id)), 0, 0});
  }
  return t;
}

inline void Write(const Trace& t, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  bool ok = std::fwrite(&t.header, sizeof t.header, 1, f) == 1 &&
            std::fwrite(t.records.data(), sizeof(Record), t.records.size(), f) == t.records.size();
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("short write to " + path);
}

inline Trace Read(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot read " + path);
  Trace t;
  bool ok = std::fread(&t.header, sizeof t.header, 1, f) == 1 &&
            std::memcmp(t.header.magic, kMagic, 8) == 0 && t.header.version == 1 &&
            t.header.record_bytes == sizeof(Record);
  if (ok) {
    t.records.resize(t.header.records);
    ok = std::fread(t.records.data(), sizeof(Record), t.records.size(), f) == t.records.size();
  }
  std::fclose(f);
  if (!ok) throw std::runtime_error(path + ": not a cachesim trace (or truncated)");
  return t;
}

}  // namespace cachesim
