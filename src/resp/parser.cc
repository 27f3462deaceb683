#include "resp/parser.h"

#include <algorithm>
#include <cstring>

namespace kvd::resp {
namespace {

constexpr char kInvalidMultibulk[] = "ERR Protocol error: invalid multibulk length";
constexpr char kInvalidBulk[] = "ERR Protocol error: invalid bulk length";
constexpr char kUnauthMultibulk[] = "ERR Protocol error: unauthenticated multibulk length";
constexpr char kUnauthBulk[] = "ERR Protocol error: unauthenticated bulk length";
constexpr char kBadBulkEnd[] = "ERR Protocol error: expected CRLF after bulk string";
constexpr char kTooBigCommand[] = "ERR Protocol error: command too large";
constexpr char kTooBigInline[] = "ERR Protocol error: too big inline request";
constexpr char kUnbalancedQuotes[] = "ERR Protocol error: unbalanced quotes in request";

// Redis's pre-authentication bounds (networking.c, 7.0).
constexpr int64_t kUnauthMaxArgs = 10;
constexpr int64_t kUnauthMaxBulk = 16384;

// A count or length as Redis's string2ll reads it: an optional '-', then digits without a
// leading zero ("0" alone excepted), within the signed 64-bit range; no '+', no blanks.
bool ParseNumber(const char* s, size_t n, int64_t* out) {
  if (n == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  const bool neg = n > 0 && s[0] == '-';
  size_t i = neg ? 1 : 0;
  if (i >= n || s[i] < '1' || s[i] > '9' || n - i > 19) return false;
  uint64_t v = 0;
  for (; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + uint64_t(s[i] - '0');  // 19 digits cannot overflow 64 bits unsigned
  }
  if (v > uint64_t(INT64_MAX) + (neg ? 1 : 0)) return false;
  *out = neg ? int64_t(0 - v) : int64_t(v);
  return true;
}

// C's isspace in the "C" locale: what sdssplitargs skips between arguments.
inline bool IsBlank(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

RequestParser::RequestParser(const Limits* limits, CommandSink* sink) : limits_(limits), sink_(sink) {}

size_t RequestParser::held_bytes() const {
  return own_.capacity() + line_.capacity() + args_.capacity() * sizeof(std::string_view) +
         lens_.capacity() * sizeof(size_t);
}

void RequestParser::ShrinkIfIdle(size_t keep) {
  if (state_ != State::kStart) return;
  if (own_.capacity() > keep) std::string().swap(own_);
  if (line_.capacity() > keep) std::string().swap(line_);
  if (args_.capacity() * sizeof(std::string_view) > keep) std::vector<std::string_view>().swap(args_);
  if (lens_.capacity() * sizeof(size_t) > keep) std::vector<size_t>().swap(lens_);
}

RequestParser::Result RequestParser::Fail(const char* data, const char* at, std::string message) {
  failed_ = true;
  error_ = std::move(message);
  return {Status::kError, size_t(at - data)};
}

void RequestParser::Reset() {
  state_ = State::kStart;
  gathering_ = false;
  args_.clear();
  lens_.clear();
  own_.clear();
  line_.clear();
  command_bytes_ = 0;
}

void RequestParser::Gather() {
  for (std::string_view a : args_) {
    own_.append(a.data(), a.size());
    lens_.push_back(a.size());
  }
  args_.clear();
  gathering_ = true;
}

bool RequestParser::Dispatch() {
  if (gathering_) {
    // own_ is complete now, so its data pointer is final.
    args_.clear();
    const char* q = own_.data();
    for (size_t n : lens_) {
      args_.emplace_back(q, n);
      q += n;
    }
  }
  borrowed_ = !gathering_;
  bool go = sink_->OnCommand(Args(args_.data(), args_.size()));
  borrowed_ = false;
  Reset();
  return go;
}

bool RequestParser::SplitInline(std::string_view line) {
  // The decoded arguments are never longer than the line: reserving it keeps own_ from moving
  // while lens_ is filled (not that it matters: views are made at Dispatch).
  own_.clear();
  lens_.clear();
  own_.reserve(line.size());
  const size_t n = line.size();
  size_t i = 0;
  for (;;) {
    while (i < n && IsBlank(line[i])) ++i;
    if (i == n) return true;
    const size_t start = own_.size();
    enum { kBare, kDouble, kSingle } mode = kBare;
    for (bool done = false; !done;) {
      if (mode == kDouble) {
        if (i >= n) return false;  // unterminated
        char c = line[i];
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          own_.push_back(char(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 4;
        } else if (c == '\\' && i + 1 < n) {
          char e = line[i + 1];
          switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;  // the byte itself: \" \\ \q ...
          }
          own_.push_back(e);
          i += 2;
        } else if (c == '"') {
          if (i + 1 < n && !IsBlank(line[i + 1])) return false;  // "ab"c
          ++i;
          done = true;
        } else {
          own_.push_back(c);
          ++i;
        }
      } else if (mode == kSingle) {
        if (i >= n) return false;
        char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          own_.push_back('\'');
          i += 2;
        } else if (c == '\'') {
          if (i + 1 < n && !IsBlank(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          own_.push_back(c);
          ++i;
        }
      } else {
        if (i >= n) break;
        char c = line[i];
        // Only these end a bare argument (a \v or \f inside one is kept, as in Redis).
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
          ++i;
          done = true;
        } else if (c == '"') {
          mode = kDouble;  // a quote may open mid-argument: a"b c" is one argument, ab c
          ++i;
        } else if (c == '\'') {
          mode = kSingle;
          ++i;
        } else {
          own_.push_back(c);
          ++i;
        }
      }
    }
    lens_.push_back(own_.size() - start);
  }
}

RequestParser::Result RequestParser::Feed(const char* data, size_t len) {
  if (failed_) return {Status::kError, 0};
  if (paused_) return {Status::kPaused, 0};
  const char* p = data;
  const char* const end = data + len;
  while (p < end) {
    switch (state_) {
      case State::kStart:
        if (*p == '*') {
          ++p;
          num_len_ = 0;
          state_ = State::kCount;
        } else {
          line_start_ = p;
          state_ = State::kInline;
        }
        break;

      case State::kCount:
      case State::kBulkLen: {
        const bool count = state_ == State::kCount;
        while (p < end && *p != '\r') {
          if (num_len_ == kMaxDigits) return Fail(data, p, count ? kInvalidMultibulk : kInvalidBulk);
          num_[num_len_++] = *p++;
        }
        if (p < end) {
          ++p;
          state_ = count ? State::kCountLf : State::kBulkLenLf;
        }
        break;
      }

      case State::kCountLf: {
        int64_t n;
        if (*p != '\n' || !ParseNumber(num_, num_len_, &n) || (n > 0 && uint64_t(n) > limits_->max_args)) {
          return Fail(data, p, kInvalidMultibulk);
        }
        if (unauthenticated_ && n > kUnauthMaxArgs) return Fail(data, p, kUnauthMultibulk);
        ++p;
        if (n <= 0) {  // *0, *-1: an empty command, answered with nothing
          Reset();
          break;
        }
        args_left_ = uint64_t(n);
        state_ = State::kBulkHead;
        break;
      }

      case State::kBulkHead:
        if (*p != '$') {
          std::string m = "ERR Protocol error: expected '$', got ' '";
          m[m.size() - 2] = *p;  // CR/LF there are made spaces when the error is written
          return Fail(data, p, std::move(m));
        }
        ++p;
        num_len_ = 0;
        state_ = State::kBulkLen;
        break;

      case State::kBulkLenLf: {
        int64_t n;
        if (*p != '\n' || !ParseNumber(num_, num_len_, &n) || n < 0 ||
            uint64_t(n) > limits_->max_bulk_bytes) {
          return Fail(data, p, kInvalidBulk);
        }
        if (unauthenticated_ && n > kUnauthMaxBulk) return Fail(data, p, kUnauthBulk);
        command_bytes_ += uint64_t(n) + kArgOverhead;
        if (command_bytes_ > limits_->max_command_bytes) return Fail(data, p, kTooBigCommand);
        ++p;
        bulk_len_ = bulk_left_ = uint64_t(n);
        if (gathering_) lens_.push_back(bulk_len_);
        state_ = State::kBulkData;
        break;
      }

      case State::kBulkData: {
        const size_t avail = size_t(end - p);
        if (!gathering_) {
          if (avail >= bulk_len_) {  // the usual case: the whole argument is here
            args_.emplace_back(p, bulk_len_);
            p += bulk_len_;
            state_ = State::kBulkCr;
            break;
          }
          // It goes on in a later buffer: from here on the command is gathered.
          Gather();
          lens_.push_back(bulk_len_);
          bulk_left_ = bulk_len_;
        }
        const size_t take = size_t(std::min<uint64_t>(avail, bulk_left_));
        own_.append(p, take);
        p += take;
        bulk_left_ -= take;
        if (bulk_left_ == 0) state_ = State::kBulkCr;
        break;
      }

      case State::kBulkCr:
        if (*p != '\r') return Fail(data, p, kBadBulkEnd);
        ++p;
        state_ = State::kBulkLf;
        break;

      case State::kBulkLf:
        if (*p != '\n') return Fail(data, p, kBadBulkEnd);
        ++p;
        if (--args_left_ > 0) {
          state_ = State::kBulkHead;
          break;
        }
        if (!Dispatch()) {
          paused_ = true;
          return {Status::kPaused, size_t(p - data)};
        }
        break;

      case State::kInline: {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
        const char* stop = nl != nullptr ? nl : end;
        // The line so far: what earlier buffers held of it, plus this buffer's part.
        const size_t so_far = gathering_ ? line_.size() + size_t(stop - p) : size_t(stop - line_start_);
        if (so_far > limits_->max_inline_bytes) return Fail(data, stop, kTooBigInline);
        if (nl == nullptr) {
          if (gathering_) {
            line_.append(p, size_t(end - p));
          } else {
            line_.assign(line_start_, size_t(end - line_start_));
            gathering_ = true;
          }
          p = end;
          break;
        }
        std::string_view line;
        if (gathering_) {
          line_.append(p, size_t(nl - p));
          line = line_;
        } else {
          line = std::string_view(line_start_, size_t(nl - line_start_));
        }
        p = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!SplitInline(line)) return Fail(data, nl, kUnbalancedQuotes);
        if (lens_.empty()) {  // a blank line: nothing to run
          Reset();
          break;
        }
        gathering_ = true;  // the decoded arguments are in own_
        if (!Dispatch()) {
          paused_ = true;
          return {Status::kPaused, size_t(p - data)};
        }
        break;
      }
    }
  }
  // A command goes on in the next buffer: keep what this one held of it (an inline line and a
  // bulk string being read were taken care of above).
  if (state_ != State::kStart && !gathering_) {
    Gather();
    // A bulk string whose header ended this buffer exactly: none of its bytes were here.
    if (state_ == State::kBulkData) lens_.push_back(bulk_len_);
  }
  return {Status::kOk, len};
}

}  // namespace kvd::resp
