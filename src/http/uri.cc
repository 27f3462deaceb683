#include "http/uri.h"

#include <arpa/inet.h>

#include <array>
#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "util/integer.h"

namespace kvd::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes of a reg-name besides %XX escapes, and (with ':') of an IPvFuture's tail.
constexpr auto kRegNameBytes = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : kRegNameSymbols) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool ValidIpvFuture(std::string_view s) {
  if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
  size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot + 1 == s.size()) return false;
  for (size_t i = 1; i < dot; ++i) {
    if (HexValue(s[i]) < 0) return false;
  }
  for (size_t i = dot + 1; i < s.size(); ++i) {
    if (!kRegNameBytes[static_cast<unsigned char>(s[i])] && s[i] != ':') return false;
  }
  return true;
}

// The inside of "[...]": an IPv6 address (inet_pton's grammar is RFC 4291's, which RFC 3986
// uses) or an IPvFuture.
bool ValidIpLiteral(std::string_view s) {
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) return ValidIpvFuture(s);
  char text[INET6_ADDRSTRLEN];
  if (s.empty() || s.size() >= sizeof text || s.find('\0') != std::string_view::npos) return false;
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = '\0';
  in6_addr addr;
  return inet_pton(AF_INET6, text, &addr) == 1;
}

}  // namespace

namespace {

// The full grammar: IP-literals, %XX escapes, and every way to be invalid. (Not inlined: its
// registers would cost the usual Host's fast path more than the whole check.)
[[gnu::noinline]] bool ValidHostPortSlow(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  if (p != end && *p == '[') {
    const char* close = static_cast<const char*>(std::memchr(p, ']', s.size()));
    if (close == nullptr || !ValidIpLiteral({p + 1, size_t(close - p - 1)})) return false;
    p = close + 1;
  } else {
    const char* start = p;
    for (;;) {
      while (p != end && kRegNameBytes[static_cast<unsigned char>(*p)]) ++p;
      if (p == end || *p != '%') break;
      if (end - p < 3 || HexValue(p[1]) < 0 || HexValue(p[2]) < 0) return false;
      p += 3;
    }
    if (p == start) return false;  // an empty host: RFC 9110 4.2.1 has it rejected
  }
  if (p == end) return true;
  return *p == ':' && AllDigits({p + 1, size_t(end - p - 1)});
}

}  // namespace

bool ValidHostPort(std::string_view s) {
  // Host is checked on every request: the usual one ("kvd", "10.0.0.7:8081"), reg-name bytes
  // and perhaps ':' and digits, is decided in one pass; anything else takes the full grammar.
  const char* p = s.data();
  const char* end = p + s.size();
  while (p != end && kRegNameBytes[static_cast<unsigned char>(*p)]) ++p;
  if (p == end) return p != s.data();
  if (*p == ':' && p != s.data()) {
    while (++p != end && *p >= '0' && *p <= '9') {
    }
    if (p == end) return true;
  }
  return ValidHostPortSlow(s);
}

bool AbsoluteFormAuthority(std::string_view target, std::string_view* authority, bool* https) {
  absl::string_view t(target.data(), target.size());
  size_t after;
  if (absl::StartsWithIgnoreCase(t, "http://")) {
    after = 7;
  } else if (absl::StartsWithIgnoreCase(t, "https://")) {
    after = 8;
  } else {
    return false;
  }
  if (https != nullptr) *https = after == 8;
  size_t end = target.find_first_of("/?", after);
  *authority = target.substr(after, end == std::string_view::npos ? end : end - after);
  return true;
}

namespace {

// "scheme://authority/path?query": the path (or "/") and query. Out of line: the usual target is
// a path.
[[gnu::noinline]] Target SplitAbsoluteForm(std::string_view target, size_t scheme_end) {
  size_t path = target.find_first_of("/?", scheme_end + 3);
  if (path == std::string_view::npos) return {"/", {}};
  if (target[path] == '?') return {"/", target.substr(path + 1)};
  target.remove_prefix(path);
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace

Target SplitTarget(std::string_view target) {
  // Not origin-form: drop "scheme://authority" (the parser has let only http and https through).
  if (!target.empty() && target[0] != '/') {
    size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) return SplitAbsoluteForm(target, scheme_end);
  }
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

namespace {

// The first '?' or '%' in w (bytes in memory order), as a byte index, or sizeof w if neither is
// there. haszero(w ^ c) marks each byte equal to c and, at worst, bytes after a marked one: the
// lowest mark is exact.
template <class W>
inline unsigned FirstQueryOrEscape(W w) {
  constexpr W kOnes = W(~W(0)) / 0xff, kHigh = kOnes * 0x80;
  W q = w ^ (kOnes * '?'), e = w ^ (kOnes * '%');
  W marks = (((q - kOnes) & ~q) | ((e - kOnes) & ~e)) & kHigh;
  return marks ? unsigned(__builtin_ctzll(marks)) / 8 : unsigned(sizeof w);
}

template <class W>
inline W Load(const char* p) {
  W w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

}  // namespace

size_t PlainPathLength(std::string_view target) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  const char* p = target.data();
  const size_t n = target.size();
  size_t at = n;  // where the first '?' or '%' is
  if (n >= 8) {
    // Whole words, then the last 8 bytes (overlapping ones already seen, which hold neither).
    for (size_t i = 0;; i += 8) {
      size_t base = i + 8 <= n ? i : n - 8;
      unsigned k = FirstQueryOrEscape(Load<uint64_t>(p + base));
      if (k < 8) {
        at = base + k;
        break;
      }
      if (base + 8 == n) break;
    }
  } else if (n >= 4) {
    unsigned k = FirstQueryOrEscape(Load<uint32_t>(p));
    if (k < 4) {
      at = k;
    } else {
      k = FirstQueryOrEscape(Load<uint32_t>(p + n - 4));
      if (k < 4) at = n - 4 + k;
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (p[i] == '?' || p[i] == '%') {
        at = i;
        break;
      }
    }
  }
  return at < n && p[at] == '%' ? std::string_view::npos : at;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  size_t pct = in.find('%');
  if (pct == std::string_view::npos) {  // the common case: nothing to decode
    out->assign(in.data(), in.size());
    return true;
  }
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(char(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool ParseTtl(std::string_view text, uint64_t max_ms, uint64_t* ms) {
  double seconds;
  absl::Duration d;
  // Debian's Abseil has its own string_view type, distinct from std::string_view.
  absl::string_view atext(text.data(), text.size());
  if (absl::SimpleAtod(atext, &seconds) && !text.empty() && text.back() >= '0' && text.back() <= '9') {
    if (!(seconds > 0) || !std::isfinite(seconds) || seconds * 1000 > double(max_ms)) return false;
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(atext, &d)) {
    return false;
  }
  if (d <= absl::ZeroDuration()) return false;
  double v = std::ceil(absl::ToDoubleMilliseconds(d));
  if (v > double(max_ms)) return false;
  *ms = uint64_t(v);
  return true;
}

bool ParseWriteOptions(std::string_view query, uint64_t max_ttl_ms, WriteOptions* out,
                       const char** error) {
  *out = WriteOptions{};
  if (query.empty()) return true;
  std::string value;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq);
    std::string_view arg = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (name == "nx") {
      out->nx = true;
    } else if (name == "xx") {
      out->xx = true;
    } else if (name == "ttl") {
      if (!PercentDecode(arg, &value) || !ParseTtl(value, max_ttl_ms, &out->ttl_ms)) {
        *error = "invalid ttl: use a duration such as 500ms, 30s, 2m, or a number of seconds";
        return false;
      }
    } else if (name == "incr") {
      out->incr = true;
      if (eq != std::string_view::npos && !ParseInteger(arg, &out->delta)) {
        *error = "invalid incr: use a signed 64-bit decimal integer, e.g. incr=5 or incr=-1";
        return false;
      }
    }
  }
  if (out->nx && out->xx) {
    *error = "nx and xx cannot be combined";
    return false;
  }
  return true;
}

}  // namespace kvd::http
