// Fuzz harness for src/http/uri.{h,cc}: PercentDecode, SplitTarget, PlainPathLength, ParseTtl,
// ParseWriteOptions.
// Header-only, shared by the libFuzzer target (fuzz/uri_fuzz.cc) and the doctest replay of
// the corpus (fuzz/fuzz_replay_test.cc).
//
// Properties checked on arbitrary input (byte 0 picks options, the rest is the text):
//  - PercentDecode agrees with an independent decoder (same verdict, same bytes), and decoding a
//    percent-encoded string (every byte, or only unsafe ones, upper or lower case hex) gives the
//    string back;
//  - SplitTarget returns views into the target; path has no '?'; for an origin-form target,
//    path + "?" + query rebuilds it; an absolute-form one yields a path starting with '/';
//  - PlainPathLength of an origin-form target is the length of SplitTarget's path, or npos when
//    that path has a '%';
//  - ValidHostPort agrees with an independent reading of RFC 3986's host [":" port] (no ','),
//    and a valid host without a port stays valid with one;
//  - ParseTtl: on success 0 < ms <= max; "<N>ms" gives N, "<N>s"/bare "<N>" gives N*1000, and a
//    decimal number of seconds with at most 3 fraction digits gives exactly that many ms;
//  - ParseWriteOptions: on success nx and xx are not both set and ttl <= max; on failure the
//    error is a non-empty line; the options it found, written back as a query, parse the same.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "http/uri.h"

namespace kvd::fuzz {

inline int RefHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// An independent decoder: RFC 3986 percent-decoding, strict.
inline bool RefDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
    } else if (in.size() - i >= 3 && RefHex(in[i + 1]) >= 0 && RefHex(in[i + 2]) >= 0) {
      *out += char(RefHex(in[i + 1]) * 16 + RefHex(in[i + 2]));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

inline std::string Encode(std::string_view s, bool all, bool lower) {
  static const char* kUpper = "0123456789ABCDEF";
  static const char* kLower = "0123456789abcdef";
  const char* hex = lower ? kLower : kUpper;
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (!all && unreserved) {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline bool Within(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;  // an empty view may point anywhere
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

inline std::string CheckTtl(std::string_view text, uint64_t max_ms) {
  uint64_t ms = 0;
  if (!http::ParseTtl(text, max_ms, &ms)) return "";
  if (ms == 0 || ms > max_ms) return "ParseTtl accepted " + std::string(text) + " as " + std::to_string(ms) + " ms";
  return "";
}

// Round trips of TTLs written as a client would: "<N>ms", "<S>s", "<S>", "<S>.<mmm>".
inline std::string CheckTtlForms(uint64_t n, uint64_t max_ms) {
  struct Form {
    std::string text;
    uint64_t ms;
  };
  const uint64_t s = n / 1000, frac = n % 1000;
  char dec[64];
  std::snprintf(dec, sizeof dec, "%llu.%03llu", static_cast<unsigned long long>(s),
                static_cast<unsigned long long>(frac));
  const Form forms[] = {
      {std::to_string(n) + "ms", n},
      {std::to_string(s) + "s", s * 1000},
      {std::to_string(s), s * 1000},
      {dec, n},
      {std::string(dec) + "s", n},
  };
  for (const Form& f : forms) {
    uint64_t got = 0;
    bool ok = http::ParseTtl(f.text, max_ms, &got);
    bool want_ok = f.ms > 0 && f.ms <= max_ms;
    if (ok != want_ok || (ok && got != f.ms)) {
      return "ParseTtl(\"" + f.text + "\") gave " + (ok ? std::to_string(got) + " ms" : "an error") +
             ", want " + (want_ok ? std::to_string(f.ms) + " ms" : "an error");
    }
  }
  return "";
}

// An independent reading of host [":" port]: split first, then check each part by its byte set.
inline bool RefHostPort(std::string_view s) {
  constexpr std::string_view kName = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+;=";
  std::string_view host = s, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(0, close + 1);
    port = s.substr(close + 1);
    std::string inside(s.substr(1, close - 1));
    if (!inside.empty() && (inside[0] == 'v' || inside[0] == 'V')) {
      size_t dot = inside.find('.');
      if (dot == std::string::npos || dot < 2 || dot + 1 == inside.size()) return false;
      if (inside.substr(1, dot - 1).find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
      std::string tail_bytes = std::string(kName) + ":";
      if (inside.substr(dot + 1).find_first_not_of(tail_bytes) != std::string::npos) return false;
    } else {
      in6_addr a;
      if (inside.size() >= INET6_ADDRSTRLEN || inside.find('\0') != std::string::npos ||
          inet_pton(AF_INET6, inside.c_str(), &a) != 1) {
        return false;
      }
    }
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    port = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
    if (host.empty()) return false;
    for (size_t i = 0; i < host.size(); ++i) {
      if (host[i] == '%') {
        if (i + 2 >= host.size() || RefHex(host[i + 1]) < 0 || RefHex(host[i + 2]) < 0) return false;
        i += 2;
      } else if (kName.find(host[i]) == std::string_view::npos) {
        return false;
      }
    }
  }
  if (port.empty()) return true;
  return port[0] == ':' && port.substr(1).find_first_not_of("0123456789") == std::string_view::npos;
}

inline std::string RunUriCase(const uint8_t* data, size_t size) {
  if (size < 1) return "";
  const uint8_t flags = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr uint64_t kMaxTtl = uint64_t(24) * 86400 * 1000;  // store::kMaxTtlMs

  // PercentDecode against the reference decoder.
  std::string got, want;
  bool ok = http::PercentDecode(text, &got);
  bool want_ok = RefDecode(text, &want);
  if (ok != want_ok) return "PercentDecode verdict differs from the reference decoder";
  if (ok && got != want) return "PercentDecode output differs from the reference decoder";
  // Round trip: decode(encode(x)) == x.
  std::string encoded = Encode(text, flags & 1, flags & 2);
  if (!http::PercentDecode(encoded, &got) || got != text) return "decode(encode(x)) != x";
  // An output buffer holding earlier bytes is replaced, not appended to.
  got = "stale";
  if (http::PercentDecode(encoded, &got) && got != text) return "PercentDecode kept stale bytes";

  // SplitTarget.
  http::Target t = http::SplitTarget(text);
  // (An absolute-form target without a path yields the static "/".)
  if ((!Within(t.path, text) && t.path != "/") || !Within(t.query, text)) {
    return "SplitTarget returned a view outside the target";
  }
  if (t.path.find('?') != std::string_view::npos) return "SplitTarget: '?' in the path";
  bool absolute = !text.empty() && text[0] != '/' && text.find("://") != std::string_view::npos;
  if (absolute) {
    if (t.path.empty() || t.path[0] != '/') return "SplitTarget: absolute-form path without '/'";
  } else {
    bool has_q = text.find('?') != std::string_view::npos;
    std::string rebuilt = std::string(t.path) + (has_q ? "?" : "") + std::string(t.query);
    if (rebuilt != text) return "SplitTarget: path + ? + query != target";
  }

  // PlainPathLength: SplitTarget's path, unless it has a '%'.
  if (!text.empty() && text[0] == '/') {
    std::string_view path = http::SplitTarget(text).path;
    size_t plain = path.find('%') == std::string_view::npos ? path.size() : std::string_view::npos;
    if (http::PlainPathLength(text) != plain) return "PlainPathLength differs from SplitTarget's path";
  }

  // ValidHostPort.
  bool host_ok = http::ValidHostPort(text);
  if (host_ok != RefHostPort(text)) return "ValidHostPort differs from the reference reading";
  if (host_ok && text[0] != '[' && text.find(':') == std::string_view::npos &&
      !http::ValidHostPort(std::string(text) + ":8081")) {
    return "ValidHostPort: a valid host is invalid with a port";
  }

  // ParseTtl on the raw text, and on numbers taken from the input.
  std::string err = CheckTtl(text, kMaxTtl);
  if (!err.empty()) return err;
  err = CheckTtl(text, 1000);
  if (!err.empty()) return err;
  uint64_t n = 0;
  for (size_t i = 0; i < text.size() && i < 8; ++i) n = n << 8 | uint8_t(text[i]);
  err = CheckTtlForms(n % (kMaxTtl + 2), kMaxTtl);
  if (!err.empty()) return err;
  err = CheckTtlForms(n % 100000, kMaxTtl);
  if (!err.empty()) return err;

  // ParseWriteOptions on the text as a query.
  http::WriteOptions o;
  const char* error = nullptr;
  if (http::ParseWriteOptions(text, kMaxTtl, &o, &error)) {
    if (o.nx && o.xx) return "ParseWriteOptions accepted nx and xx together";
    if (o.ttl_ms > kMaxTtl) return "ParseWriteOptions: ttl over the maximum";
    std::string q;
    if (o.nx) q += "nx&";
    if (o.xx) q += "xx&";
    if (o.ttl_ms) q += "ttl=" + std::to_string(o.ttl_ms) + "ms&";
    if (!q.empty()) q.pop_back();
    http::WriteOptions again;
    if (!http::ParseWriteOptions(q, kMaxTtl, &again, &error) || again.nx != o.nx || again.xx != o.xx ||
        again.ttl_ms != o.ttl_ms) {
      return "ParseWriteOptions round trip failed for " + q;
    }
  } else if (error == nullptr || *error == 0 || std::string_view(error).find('\n') != std::string_view::npos) {
    return "ParseWriteOptions failed without a one-line reason";
  }
  return "";
}

}  // namespace kvd::fuzz
