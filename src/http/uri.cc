#include "http/uri.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace kvd::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Target SplitTarget(std::string_view target) {
  if (target.size() > 7 && (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://")) {
    size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
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
    }
  }
  if (out->nx && out->xx) {
    *error = "nx and xx cannot be combined";
    return false;
  }
  return true;
}

}  // namespace kvd::http
