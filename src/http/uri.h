// Request-target handling: splitting path from query, percent-decoding, the query parameters kvd
// understands (ttl, nx, xx), and the host[:port] syntax of Host and of absolute-form targets.
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

// Splits an origin-form ("/k?x") or absolute-form ("http://host/k?x") request-target. An
// absolute-form target without a path ("http://host", "http://host?x") has the path "/".
Target SplitTarget(std::string_view target);

// For an origin-form target (it starts with '/'): the length of its path, the bytes before the
// first '?' (all of them without one), or npos when a '%' comes first, so the key needs decoding.
// One scan, a word at a time, for both bytes: every request's target goes through it (Router::
// Prefetch), and it stands in for SplitTarget and a search for '%', two library calls each.
size_t PlainPathLength(std::string_view target);

// The bytes of an RFC 3986 reg-name besides ALPHA, DIGIT and %XX escapes: unreserved and
// sub-delims, without ',' (see ValidHostPort).
inline constexpr std::string_view kRegNameSymbols = "-._~!$&'()*+;=";

// Whether `s` is RFC 3986's `host [ ":" port ]`, the value RFC 9110 7.2 allows in Host: a
// reg-name (unreserved and sub-delims bytes, %XX escapes) or an IPv4 address, or an IP-literal
// ("[" IPv6address or IPvFuture "]"); then optionally ':' and digits. Not empty, and no ',':
// the grammar has it in a reg-name, but no DNS name does, and "a, b" is how two Host values read
// once combined (RFC 9110 5.3). Userinfo ("u@h"), a path, blanks or a list make it invalid.
bool ValidHostPort(std::string_view s);

// For an absolute-form target, "http://" or "https://" (the scheme in any case) and an authority:
// the authority, up to the path, query or end, and (if `https` is given) which scheme it was.
// False for any other target.
bool AbsoluteFormAuthority(std::string_view target, std::string_view* authority, bool* https = nullptr);

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
  bool incr = false;    // add `delta` (an integer as util/integer.h reads it) to the stored one
  int64_t delta = 1;
};


// Parses the query of a write. Unknown parameters are ignored. On error returns false and sets
// *error to a one-line reason.
bool ParseWriteOptions(std::string_view query, uint64_t max_ttl_ms, WriteOptions* out,
                       const char** error);

}  // namespace kvd::http
