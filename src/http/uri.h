// Request-target handling: splitting path from query, percent-decoding, and the query
// parameters kvd understands (ttl, nx, xx).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvd::http {

struct Target {
  std::string_view path;   // still percent-encoded
  std::string_view query;  // without the '?'; empty if none
};

// Splits an origin-form ("/k?x") or absolute-form ("http://host/k?x") request-target.
Target SplitTarget(std::string_view target);

// Decodes %XX escapes into *out (replacing it). False on a malformed escape ("%", "%4", "%zz").
// '+' is kept: in a path it is not a space.
bool PercentDecode(std::string_view in, std::string* out);

// Parses a TTL: a Go-style duration ("500ms", "30s", "2m", "1h30m", "1.5s") or a bare number of
// seconds ("10", "0.5"). Rounds up to whole milliseconds. False unless 0 < ttl <= max_ms.
bool ParseTtl(std::string_view text, uint64_t max_ms, uint64_t* ms);

struct WriteOptions {
  uint64_t ttl_ms = 0;  // 0: the server's default
  bool nx = false;      // store only if absent
  bool xx = false;      // store only if present
};

// Parses the query of a write. Unknown parameters are ignored. On error returns false and sets
// *error to a one-line reason.
bool ParseWriteOptions(std::string_view query, uint64_t max_ttl_ms, WriteOptions* out,
                       const char** error);

}  // namespace kvd::http
