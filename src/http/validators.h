// Validators: kvd's entity tags, and the conditional request fields that compare them (RFC 9110
// 8.8.3, 13.1.1, 13.1.2).
//
// A tag is strong: "<run><version>", 16 hex digits in quotes. `version` is the stored value's
// (the store gives every write a new one); `run` is a random number kvd picks at start, so a tag
// a client kept from before a restart never matches a value written since.
//
// Thread safety: pure functions and values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "http/response.h"

namespace kvd::http {

// v's 8 hex digits, most significant first, in lower case, at out[0, 8). Branch-free, eight
// digits at once: every GET hit writes one.
inline void Hex8(uint32_t v, char* out) {
  uint64_t x = v;
  // One nibble a byte, the most significant nibble in the lowest byte (the first written).
  x = ((x & 0xffff0000ull) >> 16) | ((x & 0x0000ffffull) << 32);
  x = ((x & 0x0000ff000000ff00ull) >> 8) | ((x & 0x000000ff000000ffull) << 16);
  x = ((x & 0x00f000f000f000f0ull) >> 4) | ((x & 0x000f000f000f000full) << 8);
  // '0' + n, plus 'a' - '0' - 10 where n >= 10.
  uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
  x += 0x3030303030303030ull + letters * ('a' - '0' - 10);
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  std::memcpy(out, &x, 8);
}

// Writes tags for one run: the run's half is formatted once.
class EtagFormatter {
 public:
  explicit EtagFormatter(uint32_t run) : run_(run) {
    prefix_[0] = '"';
    Hex8(run, prefix_ + 1);
  }
  // The tag, quotes included, at out[0, kEtagBytes).
  void Format(uint32_t version, char* out) const {
    std::memcpy(out, prefix_, sizeof prefix_);
    Hex8(version, out + sizeof prefix_);
    out[kEtagBytes - 1] = '"';
  }
  uint32_t run() const { return run_; }

 private:
  uint32_t run_;
  char prefix_[9];
};

// Writes the tag, quotes included, into out[0, kEtagBytes).
inline void FormatEtag(uint32_t run, uint32_t version, char* out) { EtagFormatter(run).Format(version, out); }

// An If-Match or If-None-Match field value: "*", or a comma-separated list of entity tags.
class TagCondition {
 public:
  // Takes the field value (empty: the request has no such field), which must outlive the
  // condition. False when it is neither "*" nor a list of well-formed entity tags: such a
  // condition cannot be evaluated.
  bool Parse(std::string_view field) { return field.empty() || ParseList(field); }
  bool present() const { return present_; }
  // Whether some tag of the list matches the current value's (or, for "*", whether there is a
  // current value). Strong comparison for If-Match; weak (`W/` ignored) for If-None-Match.
  bool Matches(bool exists, uint32_t run, uint32_t version, bool weak) const;

 private:
  bool ParseList(std::string_view field);

  std::string_view field_;
  bool present_ = false;
  bool any_ = false;
};

}  // namespace kvd::http
