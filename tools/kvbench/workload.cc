#include "kvbench/workload.h"

#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <array>
#include <bit>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kvbench {

bool ParseUri(const std::string& uri, Target* out, std::string* error) {
  Target t;
  t.uri = uri;
  absl::string_view s = uri;
  constexpr absl::string_view kScheme = "http://";
  if (s.size() < kScheme.size() || absl::AsciiStrToLower(std::string(s.substr(0, kScheme.size()))) != kScheme) {
    *error = absl::StrCat("--uri must start with http:// (got \"", uri, "\")");
    return false;
  }
  s.remove_prefix(kScheme.size());
  const size_t slash = s.find_first_of("/?#");
  absl::string_view authority = s.substr(0, slash);
  absl::string_view path = slash == absl::string_view::npos ? absl::string_view() : s.substr(slash);
  if (authority.find('@') != absl::string_view::npos) {
    *error = "--uri must not contain user info";
    return false;
  }
  absl::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      *error = "--uri has an unterminated IPv6 literal";
      return false;
    }
    host = authority.substr(1, close - 1);
    absl::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        *error = "--uri has junk after the IPv6 literal";
        return false;
      }
      port = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    *error = "--uri has no host";
    return false;
  }
  t.host = std::string(host);
  if (!port.empty()) {
    uint32_t p = 0;
    if (!absl::SimpleAtoi(port, &p) || p == 0 || p > 65535) {
      *error = absl::StrCat("--uri has an invalid port \"", port, "\"");
      return false;
    }
    t.port = static_cast<uint16_t>(p);
  }
  t.host_header = std::string(authority);
  if (port.empty()) t.host_header = absl::StrCat(authority, ":", t.port);
  if (!path.empty() && path[0] != '/') {
    *error = "--uri must not have a query or fragment";
    return false;
  }
  if (path.find_first_of("?# \t\r\n") != absl::string_view::npos) {
    *error = "--uri path must not contain a query, fragment or whitespace";
    return false;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  t.path_prefix = std::string(path);
  *out = std::move(t);
  return true;
}

bool ResolveTarget(Target* t, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(t->port);
  int rc = getaddrinfo(t->host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    // AI_ADDRCONFIG hides loopback-only families on hosts without other addresses; retry plain.
    hints.ai_flags = 0;
    rc = getaddrinfo(t->host.c_str(), port.c_str(), &hints, &res);
  }
  if (rc != 0 || res == nullptr) {
    *error = absl::StrCat("cannot resolve \"", t->host, "\": ", gai_strerror(rc));
    return false;
  }
  // Prefer IPv4 (what "localhost" servers usually listen on).
  const addrinfo* pick = res;
  for (const addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  std::memcpy(&t->addr, pick->ai_addr, pick->ai_addrlen);
  t->addr_len = pick->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

namespace {

constexpr size_t kBlock = 16;  // RequestWriter::Put()'s copy unit

// "00" "01" ... "99": two digits per division.
constexpr std::array<char, 200> MakeDigitPairs() {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; i++) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}
constexpr auto kDigitPairs = MakeDigitPairs();

}  // namespace

size_t WriteDecimal(char* out, uint64_t v) {
  // The number of digits first (so that they are written in place, last first): floor(log10)
  // estimated from the bit length (1233 / 4096 ~ log10(2)), then corrected by one compare.
  static constexpr uint64_t kPow10[20] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
      100000000, 1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000,
      100000000000000, 1000000000000000, 10000000000000000, 100000000000000000,
      1000000000000000000, 10000000000000000000ULL};
  const int t = std::bit_width(v | 1) * 1233 >> 12;
  const size_t n = static_cast<size_t>(t - ((v | 1) < kPow10[t]) + 1);
  char* p = out + n;
  while (v >= 100) {
    p -= 2;
    std::memcpy(p, &kDigitPairs[(v % 100) * 2], 2);
    v /= 100;
  }
  if (v >= 10) {
    std::memcpy(p - 2, &kDigitPairs[v * 2], 2);
  } else {
    p[-1] = static_cast<char>('0' + v);
  }
  return n;
}

RequestWriter::Piece::Piece(std::string s) : padded(std::move(s)), size(padded.size()) {
  padded.resize((size + kBlock - 1) / kBlock * kBlock, '\0');
}

char* RequestWriter::Put(char* out, const Piece& piece) {
  for (size_t i = 0; i < piece.size; i += kBlock)
    std::memcpy(out + i, piece.padded.data() + i, kBlock);  // constant size: inlined
  return out + piece.size;
}

RequestWriter::RequestWriter(const Config& config) : value_bytes_(config.value_bytes) {
  const Target& t = config.target;
  get_prefix_ = Piece(absl::StrCat("GET ", t.path_prefix, "/"));
  const std::string auth =
      config.auth_token.empty() ? "" : absl::StrCat("Authorization: Bearer ", config.auth_token, "\r\n");
  get_suffix_ = Piece(absl::StrCat(" HTTP/1.1\r\nHost: ", t.host_header, "\r\n", auth, "\r\n"));
  set_prefix_ = Piece(absl::StrCat(config.set_method, " ", t.path_prefix, "/"));
  std::string set_suffix = absl::StrCat(" HTTP/1.1\r\nHost: ", t.host_header, "\r\n", auth, "Content-Length: ");
  if (value_bytes_ > 0) absl::StrAppend(&set_suffix, value_bytes_, "\r\n\r\n");
  set_suffix_ = Piece(std::move(set_suffix));
  // Each Put() may write up to kBlock - 1 bytes past its piece (later overwritten): count one
  // block of scratch past the longest request.
  const size_t get_max = get_prefix_.size + 20 + get_suffix_.size;
  const size_t set_max = set_prefix_.size + 20 + set_suffix_.size +
                         (value_bytes_ > 0 ? value_bytes_ : 20 + 4 + 20);
  max_bytes_ = std::max(get_max, set_max) + kBlock;
}

size_t RequestWriter::WriteGet(char* out, uint64_t key) const {
  char* p = Put(out, get_prefix_);
  p += WriteDecimal(p, key);
  p = Put(p, get_suffix_);
  return static_cast<size_t>(p - out);
}

size_t RequestWriter::WriteBody(char* out, int64_t value) const {
  const bool neg = value < 0;
  const uint64_t mag = neg ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  if (value_bytes_ == 0) {
    if (neg) *out = '-';
    return neg + WriteDecimal(out + neg, mag);
  }
  char digits[21];
  size_t n = 0;
  if (neg) digits[n++] = '-';
  n += WriteDecimal(digits + n, mag);
  if (n >= value_bytes_) {  // keep the last value_bytes_ characters (drops the sign first)
    std::memcpy(out, digits + (n - value_bytes_), value_bytes_);
    return value_bytes_;
  }
  // Sign, then zeros, then the digits.
  size_t pad = value_bytes_ - n;
  char* p = out;
  const char* d = digits;
  size_t dn = n;
  if (neg) {
    *p++ = '-';
    d++;
    dn--;
  }
  std::memset(p, '0', pad);
  p += pad;
  std::memcpy(p, d, dn);
  return value_bytes_;
}

size_t RequestWriter::WriteSet(char* out, uint64_t key, int64_t value) const {
  char* p = Put(out, set_prefix_);
  p += WriteDecimal(p, key);
  p = Put(p, set_suffix_);
  if (value_bytes_ > 0) {
    p += WriteBody(p, value);
  } else {
    // The length goes first: write the body where it goes after a two-digit length (the
    // longest: "-9223372036854775808" is 20 bytes), then move it if the length has one digit.
    char* body = p + 2 + 4;
    const size_t n = WriteBody(body, value);
    if (n < 10) {
      *p++ = static_cast<char>('0' + n);
      std::memmove(p + 4, body, 16);  // constant size: one inline move; past n is scratch
    } else {
      p += WriteDecimal(p, n);
    }
    std::memcpy(p, "\r\n\r\n", 4);
    p += 4 + n;
  }
  return static_cast<size_t>(p - out);
}

std::string RequestWriter::Body(int64_t value) const {
  std::string s(std::max<size_t>(value_bytes_, 24), '\0');
  s.resize(WriteBody(s.data(), value));
  return s;
}

}  // namespace kvbench
