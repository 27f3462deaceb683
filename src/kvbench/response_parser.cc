#include "kvbench/response_parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

namespace kvbench {
namespace {

// RFC 9110 tchar.
constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; c++) t[c] = true;
  for (int c = 'a'; c <= 'z'; c++) t[c] = true;
  for (int c = 'A'; c <= 'Z'; c++) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
// Bytes allowed in a field value or reason phrase: HTAB, SP, VCHAR, obs-text.
constexpr std::array<bool, 256> MakeTextTable() {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c < 0x7f; c++) t[c] = true;
  for (int c = 0x80; c < 0x100; c++) t[c] = true;
  return t;
}
constexpr auto kToken = MakeTokenTable();
constexpr auto kText = MakeTextTable();

bool EqualsLower(const char* p, size_t n, std::string_view lower) {
  if (n != lower.size()) return false;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

bool HasCloseToken(const char* p, size_t n) {
  // Comma-separated tokens with optional whitespace; "close" anywhere (case-insensitive).
  size_t i = 0;
  while (i < n) {
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ',')) i++;
    size_t j = i;
    while (j < n && p[j] != ',') j++;
    size_t e = j;
    while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t')) e--;
    if (EqualsLower(p + i, e - i, "close")) return true;
    i = j;
  }
  return false;
}

}  // namespace

void ResponseParser::Reset() {
  state_ = State::kHead;
  body_left_ = 0;
  resp_ = Response{};
  error_ = "";
}

ResponseParser::Result ResponseParser::Parse(const char* p, size_t n, bool track_value,
                                             size_t* consumed) {
  size_t used = 0;
  if (state_ == State::kHead) {
    size_t head = 0;
    const Result r = ParseHead(p, n, &head);
    if (r != Result::kDone) {
      *consumed = 0;
      return r;
    }
    used = head;
    resp_.wire_bytes = head + resp_.content_length;
    body_left_ = (resp_.status == 204 || resp_.status == 304) ? 0 : resp_.content_length;
    if (resp_.status == 204 || resp_.status == 304) resp_.wire_bytes = head;
    num_ = Num::kStart;
    negative_ = false;
    magnitude_ = 0;
    state_ = State::kBody;
  }
  // Body.
  const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, n - used));
  if (track_value && take) FeedValue(p + used, take);
  used += take;
  body_left_ -= take;
  *consumed = used;
  if (body_left_ != 0) return Result::kNeedMore;
  if (track_value && num_ == Num::kDigits) {
    resp_.value_ok = true;
    resp_.value = negative_ ? -static_cast<int64_t>(magnitude_) : static_cast<int64_t>(magnitude_);
  } else {
    resp_.value_ok = false;
    resp_.value = 0;
  }
  state_ = State::kHead;
  return Result::kDone;
}

void ResponseParser::FeedValue(const char* p, size_t n) {
  for (size_t i = 0; i < n && num_ != Num::kBad; i++) {
    const char c = p[i];
    if (c >= '0' && c <= '9') {
      const uint64_t d = static_cast<uint64_t>(c - '0');
      // Keep |value| <= INT64_MAX so that negation and +1 stay defined.
      if (magnitude_ > (static_cast<uint64_t>(INT64_MAX) - d) / 10) {
        num_ = Num::kBad;
        break;
      }
      magnitude_ = magnitude_ * 10 + d;
      num_ = Num::kDigits;
    } else if (c == '-' && num_ == Num::kStart) {
      negative_ = true;
      num_ = Num::kSign;
    } else {
      num_ = Num::kBad;
    }
  }
}

ResponseParser::Result ResponseParser::ParseHead(const char* p, size_t n, size_t* consumed) {
  const char* const begin = p;
  const char* const end = p + n;
  auto need_more = [&]() {
    return n >= kMaxHeadBytes ? Fail("response head too large") : Result::kNeedMore;
  };

  // Status line: HTTP/1.x SSS[ reason]\r\n
  static constexpr char kVersion[] = "HTTP/1.";
  const size_t avail = std::min<size_t>(n, 7);
  if (std::memcmp(p, kVersion, avail) != 0) return Fail("bad status line (version)");
  if (n < 13) {
    // Validate what we have of "HTTP/1.x SSS" early so garbage is reported promptly.
    if (n > 7 && p[7] != '0' && p[7] != '1') return Fail("bad status line (version)");
    if (n > 8 && p[8] != ' ') return Fail("bad status line");
    for (size_t i = 9; i < n && i < 12; i++)
      if (p[i] < '0' || p[i] > '9') return Fail("bad status code");
    return Result::kNeedMore;
  }
  if (p[7] != '0' && p[7] != '1') return Fail("bad status line (version)");
  if (p[8] != ' ') return Fail("bad status line");
  for (int i = 9; i < 12; i++)
    if (p[i] < '0' || p[i] > '9') return Fail("bad status code");
  const int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  if (status < 100 || status > 599) return Fail("bad status code");
  if (status < 200) return Fail("unexpected 1xx response");
  const char* q = p + 12;
  if (*q == ' ') {
    q++;
    while (q < end && kText[static_cast<unsigned char>(*q)]) q++;
  }
  if (q == end) return need_more();
  if (*q != '\r') return Fail("bad byte in status line");
  if (++q == end) return need_more();
  if (*q != '\n') return Fail("bare CR in status line");
  q++;

  resp_ = Response{};
  resp_.status = status;
  bool have_length = false;
  uint64_t length = 0;
  bool close = false;
  int headers = 0;
  for (;;) {
    if (q == end) return need_more();
    if (*q == '\r') {
      if (++q == end) return need_more();
      if (*q != '\n') return Fail("bare CR in header section");
      q++;
      break;
    }
    if (*q == ' ' || *q == '\t') return Fail("obs-fold in header section");
    if (++headers > kMaxHeaders) return Fail("too many header lines");
    const char* name = q;
    while (q < end && kToken[static_cast<unsigned char>(*q)]) q++;
    if (q == end) return need_more();
    if (*q != ':') return Fail(*q == '\n' ? "bare LF in header section" : "bad header name");
    const size_t name_len = static_cast<size_t>(q - name);
    if (name_len == 0) return Fail("empty header name");
    q++;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    const char* value = q;
    while (q < end && kText[static_cast<unsigned char>(*q)]) q++;
    if (q == end) return need_more();
    if (*q != '\r') return Fail(*q == '\n' ? "bare LF in header section" : "control byte in header");
    const char* value_end = q;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) value_end--;
    if (++q == end) return need_more();
    if (*q != '\n') return Fail("bare CR in header section");
    q++;
    const size_t value_len = static_cast<size_t>(value_end - value);

    switch (name_len) {
      case 14:
        if (EqualsLower(name, name_len, "content-length")) {
          if (value_len == 0 || value_len > 18) return Fail("invalid Content-Length");
          uint64_t v = 0;
          for (size_t i = 0; i < value_len; i++) {
            if (value[i] < '0' || value[i] > '9') return Fail("invalid Content-Length");
            v = v * 10 + static_cast<uint64_t>(value[i] - '0');
          }
          if (have_length && v != length) return Fail("conflicting Content-Length");
          have_length = true;
          length = v;
        }
        break;
      case 17:
        if (EqualsLower(name, name_len, "transfer-encoding"))
          return Fail("Transfer-Encoding is not supported");
        break;
      case 10:
        if (EqualsLower(name, name_len, "connection") && HasCloseToken(value, value_len))
          close = true;
        break;
      default:
        break;
    }
  }
  if (!have_length) return Fail("missing Content-Length");
  resp_.content_length = length;
  resp_.close = close;
  *consumed = static_cast<size_t>(q - begin);
  return Result::kDone;
}

}  // namespace kvbench
