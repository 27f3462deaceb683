#include "kvbench/response_parser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string_view>
#include <type_traits>

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

// Returns the first byte at or after q that is not allowed in a field value (kText), or end.
// Heads are mostly field values, so this is the parser's hot loop: 16 bytes per step (GCC/Clang
// vector extensions: SSE2 on x86-64) look for a control byte (< 0x20, which includes the allowed
// HTAB) or DEL; the byte found is then judged by the table. Never reads at or past end.
const char* SkipText(const char* q, const char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    using V16 = uint8_t __attribute__((vector_size(16)));
    while (end - q >= 16) {
      V16 v;
      std::memcpy(&v, q, 16);
      const V16 hit = (v < 0x20) | (v == 0x7f);  // 0xff in the lanes found
      uint64_t half[2];
      std::memcpy(half, &hit, 16);
      if ((half[0] | half[1]) == 0) {
        q += 16;
        continue;
      }
      q += half[0] ? std::countr_zero(half[0]) / 8 : 8 + std::countr_zero(half[1]) / 8;
      if (*q != '\t') return q;
      q++;
    }
  }
  while (q < end && kText[static_cast<unsigned char>(*q)]) q++;
  return q;
}

// True if the N - 1 characters of the literal s are at q (and before end). Up to 16 characters,
// compared as two overlapping words: always inlined (GCC calls memcmp for sizes like 7 or 15).
template <size_t N>
bool At(const char* q, const char* end, const char (&s)[N]) {
  constexpr size_t n = N - 1;
  static_assert(n >= 4 && n <= 16);
  if (static_cast<size_t>(end - q) < n) return false;
  using W = std::conditional_t<(n >= 8), uint64_t, uint32_t>;
  W a, b, x, y;
  std::memcpy(&a, q, sizeof a);
  std::memcpy(&b, q + n - sizeof b, sizeof b);
  std::memcpy(&x, s, sizeof x);
  std::memcpy(&y, s + n - sizeof y, sizeof y);
  return a == x && b == y;
}

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
  const bool version_ok = n >= 7 ? At(p, end, kVersion) : std::memcmp(p, kVersion, n) == 0;
  if (!version_ok) return Fail("bad status line (version)");
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
  if (*q == ' ') q = SkipText(q + 1, end);
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
    // The names kvd sends, spelled as it does, are recognised by one fixed compare each (the
    // hot path); any other name is scanned as a token and then compared case-insensitively.
    enum class Field { kOther, kContentLength, kTransferEncoding, kConnection } field = Field::kOther;
    if (At(q, end, "Date:")) {
      q += 4;
    } else if (At(q, end, "Content-Type:")) {
      q += 12;
    } else if (At(q, end, "Content-Length:")) {
      q += 14;
      field = Field::kContentLength;
    } else {
      const char* name = q;
      while (q < end && kToken[static_cast<unsigned char>(*q)]) q++;
      if (q == end) return need_more();
      if (*q != ':') return Fail(*q == '\n' ? "bare LF in header section" : "bad header name");
      const size_t name_len = static_cast<size_t>(q - name);
      if (name_len == 0) return Fail("empty header name");
      if (EqualsLower(name, name_len, "content-length")) {
        field = Field::kContentLength;
      } else if (EqualsLower(name, name_len, "transfer-encoding")) {
        field = Field::kTransferEncoding;
      } else if (EqualsLower(name, name_len, "connection")) {
        field = Field::kConnection;
      }
    }
    q++;  // the colon
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    const char* value = q;
    q = SkipText(q, end);
    if (q == end) return need_more();
    if (*q != '\r') return Fail(*q == '\n' ? "bare LF in header section" : "control byte in header");
    const char* value_end = q;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) value_end--;
    if (++q == end) return need_more();
    if (*q != '\n') return Fail("bare CR in header section");
    q++;
    const size_t value_len = static_cast<size_t>(value_end - value);

    switch (field) {
      case Field::kContentLength: {
        if (value_len == 0 || value_len > 18) return Fail("invalid Content-Length");
        uint64_t v = 0;
        for (size_t i = 0; i < value_len; i++) {
          if (value[i] < '0' || value[i] > '9') return Fail("invalid Content-Length");
          v = v * 10 + static_cast<uint64_t>(value[i] - '0');
        }
        if (have_length && v != length) return Fail("conflicting Content-Length");
        have_length = true;
        length = v;
        break;
      }
      case Field::kTransferEncoding:
        return Fail("Transfer-Encoding is not supported");
      case Field::kConnection:
        if (HasCloseToken(value, value_len)) close = true;
        break;
      case Field::kOther:
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
