// Decimal integers as Redis's INCR reads them, for every place kvd takes one from a client (a
// stored value to increment, ?incr=, RESP arguments): one rule everywhere.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace kvd {

// An optional '-', then digits without a leading zero ("0" alone), within the signed 64-bit
// range: "7", "-7", "0". False on anything else ("", "+1", " 1", "007", "-0", "1.0").
inline bool ParseInteger(std::string_view s, int64_t* out) {
  const bool neg = !s.empty() && s[0] == '-';
  const std::string_view digits = neg ? s.substr(1) : s;
  if (digits.empty() || digits.size() > 19 || (digits[0] == '0' && (digits.size() > 1 || neg))) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');  // 19 digits fit in 64 bits unsigned
  }
  if (v > uint64_t(INT64_MAX) + (neg ? 1 : 0)) return false;
  *out = neg ? int64_t(0 - v) : int64_t(v);
  return true;
}

}  // namespace kvd
