// A minimal, strict, incremental HTTP/1.1 response parser for kvbench.
//
// Accepts exactly what a well-behaved HTTP/1.1 server answers to kvbench's GET/POST/PUT requests:
//   status line  "HTTP/1.1 SSS reason\r\n" (also HTTP/1.0; status 200..599; reason may be empty),
//   header lines "name: value\r\n" (name a token, value without control bytes other than HTAB),
//   an empty line, then exactly Content-Length body bytes (none for 204 and 304).
// Rejected (Result::kError, error() names why): anything else in the status line, 1xx responses,
// bare LF or CR, obs-fold, NUL or other control bytes, a missing, invalid or conflicting
// Content-Length, any Transfer-Encoding (kvbench needs Content-Length framing), more than
// kMaxHeaders header lines, or a head longer than kMaxHeadBytes.
//
// Incremental use: call Parse() with the bytes at hand. It returns
//   kDone     one response is complete (see response()); *consumed bytes belong to it; call again
//             with the rest of the buffer for the next response;
//   kNeedMore all bytes that could be used were used (*consumed may be less than n while the head
//             is incomplete: the caller keeps the unconsumed tail and presents it again, followed
//             by the next bytes read; that tail is always shorter than kMaxHeadBytes);
//   kError    the stream is not valid HTTP/1.1; the connection must be dropped (then Reset()).
// A response may therefore be split anywhere. Body bytes are never retained: they are counted and,
// when `track_value` is set, parsed on the fly as a decimal int64 (optional leading '-', leading
// zeros allowed), which kvbench needs to build the POST that follows a GET.
// No allocation; one parser per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvbench {

struct Response {
  int status = 0;
  uint64_t content_length = 0;
  uint64_t wire_bytes = 0;  // head + body bytes
  bool close = false;       // the server sent "Connection: close"
  bool value_ok = false;    // with track_value: the body is a decimal int64 ...
  int64_t value = 0;        // ... whose value this is
};

class ResponseParser {
 public:
  static constexpr size_t kMaxHeadBytes = 16384;
  static constexpr int kMaxHeaders = 100;
  enum class Result { kNeedMore, kDone, kError };

  Result Parse(const char* p, size_t n, bool track_value, size_t* consumed);
  const Response& response() const { return resp_; }
  const char* error() const { return error_; }
  // Forgets any partial response (after a reconnect).
  void Reset();

 private:
  enum class State { kHead, kBody };
  Result ParseHead(const char* p, size_t n, size_t* consumed);
  Result Fail(const char* why) {
    error_ = why;
    return Result::kError;
  }
  void FeedValue(const char* p, size_t n);

  State state_ = State::kHead;
  uint64_t body_left_ = 0;
  Response resp_;
  const char* error_ = "";
  // Value accumulation while in the body.
  enum class Num : uint8_t { kStart, kSign, kDigits, kBad } num_ = Num::kStart;
  bool negative_ = false;
  uint64_t magnitude_ = 0;
};

}  // namespace kvbench
