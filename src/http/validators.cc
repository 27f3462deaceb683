#include "http/validators.h"


namespace kvd::http {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // kvd writes lower case; any other byte is another server's tag
}

bool IsOws(char c) { return c == ' ' || c == '\t'; }

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 8.8.3): visible characters but '"'.
bool IsEtagc(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7f);
}

// Calls each(weak, opaque) for each entity tag of a list; false when the list is malformed.
// Empty elements (",,") are allowed, as RFC 9110 5.6.1 asks of a recipient.
template <class F>
bool ForEachTag(std::string_view s, F&& each) {
  size_t i = 0, n = s.size(), tags = 0;
  for (;;) {
    while (i < n && (IsOws(s[i]) || s[i] == ',')) ++i;
    if (i == n) return tags > 0;
    bool weak = false;
    if (s[i] == 'W' && i + 1 < n && s[i + 1] == '/') {
      weak = true;
      i += 2;
    }
    if (i == n || s[i] != '"') return false;
    size_t start = ++i;
    while (i < n && IsEtagc(s[i])) ++i;
    if (i == n || s[i] != '"') return false;
    if (each(weak, s.substr(start, i - start))) return true;
    ++tags;
    ++i;
    while (i < n && IsOws(s[i])) ++i;
    if (i < n && s[i] != ',') return false;
  }
}

}  // namespace

bool TagCondition::ParseList(std::string_view field) {
  field_ = field;
  present_ = true;
  any_ = false;
  size_t a = 0, b = field.size();
  while (a < b && IsOws(field[a])) ++a;
  while (b > a && IsOws(field[b - 1])) --b;
  if (field.substr(a, b - a) == "*") {
    any_ = true;
    return true;
  }
  return ForEachTag(field, [](bool, std::string_view) { return false; });
}

bool TagCondition::Matches(bool exists, uint32_t run, uint32_t version, bool weak) const {
  if (!present_ || !exists) return false;
  if (any_) return true;
  bool found = false;
  ForEachTag(field_, [&](bool tag_weak, std::string_view opaque) {
    if ((tag_weak && !weak) || opaque.size() != 16) return false;
    uint64_t v = 0;
    for (char c : opaque) {
      int d = HexDigit(c);
      if (d < 0) return false;
      v = v << 4 | uint64_t(d);
    }
    found = v == (uint64_t(run) << 32 | version);
    return found;
  });
  return found;
}

}  // namespace kvd::http
