#include "kvbench/workload.h"

#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

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

size_t WriteDecimal(char* out, uint64_t v) {
  char tmp[20];
  char* p = tmp + sizeof tmp;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  const size_t n = static_cast<size_t>(tmp + sizeof tmp - p);
  std::memcpy(out, p, n);
  return n;
}

RequestWriter::RequestWriter(const Config& config) : value_bytes_(config.value_bytes) {
  const Target& t = config.target;
  get_prefix_ = absl::StrCat("GET ", t.path_prefix, "/");
  get_suffix_ = absl::StrCat(" HTTP/1.1\r\nHost: ", t.host_header, "\r\n\r\n");
  set_prefix_ = absl::StrCat(config.set_method, " ", t.path_prefix, "/");
  set_suffix_ = absl::StrCat(" HTTP/1.1\r\nHost: ", t.host_header, "\r\nContent-Length: ");
  if (value_bytes_ > 0) absl::StrAppend(&set_suffix_, value_bytes_, "\r\n\r\n");
  const size_t get_max = get_prefix_.size() + 20 + get_suffix_.size();
  const size_t set_max = set_prefix_.size() + 20 + set_suffix_.size() +
                         (value_bytes_ > 0 ? value_bytes_ : 20 + 4 + 20);
  max_bytes_ = std::max(get_max, set_max);
}

size_t RequestWriter::WriteGet(char* out, uint64_t key) const {
  char* p = out;
  std::memcpy(p, get_prefix_.data(), get_prefix_.size());
  p += get_prefix_.size();
  p += WriteDecimal(p, key);
  std::memcpy(p, get_suffix_.data(), get_suffix_.size());
  p += get_suffix_.size();
  return static_cast<size_t>(p - out);
}

size_t RequestWriter::WriteBody(char* out, int64_t value) const {
  char digits[21];
  size_t n = 0;
  const bool neg = value < 0;
  const uint64_t mag = neg ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  if (neg) digits[n++] = '-';
  n += WriteDecimal(digits + n, mag);
  if (value_bytes_ == 0) {
    std::memcpy(out, digits, n);
    return n;
  }
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
  char* p = out;
  std::memcpy(p, set_prefix_.data(), set_prefix_.size());
  p += set_prefix_.size();
  p += WriteDecimal(p, key);
  std::memcpy(p, set_suffix_.data(), set_suffix_.size());
  p += set_suffix_.size();
  if (value_bytes_ > 0) {
    p += WriteBody(p, value);
  } else {
    char body[24];
    const size_t n = WriteBody(body, value);
    p += WriteDecimal(p, n);
    std::memcpy(p, "\r\n\r\n", 4);
    p += 4;
    std::memcpy(p, body, n);
    p += n;
  }
  return static_cast<size_t>(p - out);
}

std::string RequestWriter::Body(int64_t value) const {
  std::string s(std::max<size_t>(value_bytes_, 24), '\0');
  s.resize(WriteBody(s.data(), value));
  return s;
}

}  // namespace kvbench
