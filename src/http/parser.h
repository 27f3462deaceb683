// RequestParser: llhttp wrapped for a server connection. Feed it bytes as they arrive, split
// anywhere; it hands each complete request to the sink, in order. Two kinds of refusal:
//
//  - Fatal (Status::kError, then error_status()): the bytes are not an HTTP/1.1 message kvd can
//    frame the way every other parser would: the request line (its spacing, line end, target
//    bytes, version), field-line syntax (obs-fold, bare CR or LF, control bytes, names that are
//    not tokens), the framing (Content-Length, Transfer-Encoding, chunks, the trailer section and
//    the fields it may not carry), and kvd's limits (target 414, header section 431, body 413,
//    chunk extensions 400). Parsing stops; the connection answers and closes.
//  - Kept (Request::reject_status): a well-framed request whose Host, target form, expectation or
//    other field value kvd refuses. It is handed to the sink complete, body read, so that the
//    connection can answer it and go on. One exception: a refused request that waits for
//    `100 Continue` before sending its body is answered at once, as a fatal error, rather than
//    left waiting.
//
// llhttp is Debian's node-llhttp 8.1, built in its strict mode (which refuses a CR followed by
// anything but LF in chunk framing and at the end of the header section, and non-ASCII or
// whitespace bytes in the target). kvd adds what that version still lets through, each decided
// once per request or header from the spans llhttp hands over, so that the verdict does not
// depend on how the bytes were split: obs-fold and bare CR in headers (CVE-2023-30589,
// CVE-2024-27982), NUL and other control bytes in header values, a second space in the request
// line, a bare LF ending the request line or the header or trailer section, a #fragment, Content-
// Length with leading zeros, Transfer-Encoding other than a final chunked, HTTP versions other
// than 1.x. docs/http.md lists each rule with its RFC section.
//
// Thread safety: none; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request.h"
#include "llhttp.h"

namespace kvd::http {

struct Limits {
  size_t max_target_bytes = 8192;
  size_t max_header_bytes = 8192;  // header lines (the target is limited by max_target_bytes)
  size_t max_headers = 100;
  size_t max_body_bytes = 1 << 20;
  size_t max_chunk_extension_bytes = 4096;  // all of a request's chunk extensions together
};

class RequestSink {
 public:
  // A complete request. Return false to pause parsing after it (output backpressure).
  virtual bool OnRequest(Request& req) = 0;
  // The client sent `Expect: 100-continue` and waits for the interim response before the body.
  virtual void OnContinue() = 0;

 protected:
  ~RequestSink() = default;
};

class RequestParser {
 public:
  enum class Status { kOk, kPaused, kError };
  struct Result {
    Status status;
    size_t consumed;  // bytes of the input parsed; with kPaused, feed the rest after Resume()
  };

  RequestParser(const Limits* limits, RequestSink* sink);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  Result Feed(const char* data, size_t len);
  void Resume() { llhttp_resume(&parser_); }

  // After kError: the status to answer (400, 413, 414, 431, 501, 505, or the status of a refusal
  // that waited for 100 Continue) and a one-line reason.
  int error_status() const { return error_status_; }
  std::string_view error_message() const { return error_message_; }

  // Memory the parser holds for requests that spanned reads (reused, so it stays at the largest).
  size_t held_bytes() const {
    return target_.own.capacity() + body_.own.capacity() + transfer_encoding_.capacity() +
           expect_.capacity() + req_.authorization.capacity();
  }

  // True between a request's first byte and its end; false between requests.
  bool in_request() const { return in_request_; }
  bool headers_complete() const { return headers_done_; }
  // During RequestSink::OnRequest: whether the request's target and body are views of the buffer
  // being fed (valid until Feed returns), rather than of the parser's own storage (valid only
  // during the call).
  bool borrowed() const {
    return (target_.view.empty() || target_.view.data() != target_.own.data()) &&
           (body_.view.empty() || body_.view.data() != body_.own.data());
  }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnChunkExtension(llhttp_t* p, const char* at, size_t n);
  static int OnBody(llhttp_t* p, const char* at, size_t n);
  static int OnMessageComplete(llhttp_t* p);
  Result Execute(const char* data, size_t len);
  static RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }
  int Fail(int status, const char* message);
  // Marks the request refused but well framed (Request::reject_status); the first reason stays.
  void Reject(int status, const char* reason);
  bool CountHeadBytes(size_t n);
  // Whether only blanks separate `at` (in the buffer being fed) from a preceding line break.
  bool AfterLineBreak(const char* at) const;
  // A header or trailer name, once complete: which value to keep, or a refusal.
  int OnFieldName(std::string_view name);
  int OnTrailerName(std::string_view name);
  void OnRareName();  // a watched header the usual request does not have
  // The checks of a complete header section that keep the connection (Reject), in order: Host,
  // the target's form, the fields only some requests have.
  void CheckHead(bool http11);
  void RejectHost(bool http11);
  void CheckTargetForm();
  void CheckRareFields();
  // Hands the complete request to the sink; its answer: go on (true) or pause.
  bool Deliver();
  // The request line's end, given the offset of the line after it: HPE_OK or Fail.
  int CheckRequestLineEnd(uint64_t next_line);
  // A request's last bytes, once llhttp has stopped at `end` (OnMessageComplete): HPE_OK or Fail.
  int CheckEnd(uint64_t end);

  // Stream offsets: bytes of the connection's input consumed before the buffer being fed, and
  // the last kTail of them, so that a check can look a few bytes back across a buffer boundary.
  uint64_t Offset(const char* p) const { return fed_ + uint64_t(p - feed_start_); }
  // The byte at `off`: only for bytes llhttp has consumed, at most kTail before the buffer.
  char ByteAt(uint64_t off) const {
    return off >= fed_ ? feed_start_[off - fed_] : tail_[kTail - size_t(fed_ - off)];
  }
  void Consumed(const char* data, size_t n);

  // A request's target or body as llhttp hands it over, in pieces that end where a fed buffer
  // does (or a chunk, for a body): a view of the buffer while it is one piece there, so the usual
  // request is not copied; gathered into `own` when a second piece comes or the buffer is about
  // to go (Keep, at the end of each Feed while a request is incomplete).
  struct Gathered {
    std::string_view view;
    std::string own;  // reused: its capacity stays from request to request
    void Add(const char* at, size_t n) {
      if (view.empty()) {
        view = {at, n};
      } else {
        Append(at, n);
      }
    }
    void Append(const char* at, size_t n);  // a second or later piece
    void Keep();
  };

  enum class Watched : uint8_t {  // the usual ones first (CheckHead skips the rest's checks)
    kNone, kHost, kTransferEncoding, kContentLength, kExpect, kAuthorization, kContentRange,
    kIfMatch, kIfNoneMatch
  };
  // Which header a complete name is, if it is one whose value kvd looks at.
  static Watched WatchedHeader(std::string_view name);

  // What one request has shown so far; reset as a whole when the next begins.
  struct Seen {
    bool end_check = false;       // paused at the request's end, whose last bytes are to check
    bool continue_asked = false;  // Expect has 100-continue
    bool expect_unmet = false;    // Expect has something else (or is too long to be only that)
    bool content_range = false;
    bool rare = false;            // Expect, Authorization, Content-Range, If-Match or If-None-Match
    uint8_t hosts = 0;            // Host field lines (saturating)
    uint8_t host = 0;             // the Host value's verdict, once known (HostVerdict)
    uint8_t authorizations = 0;   // Authorization field lines (saturating)
    bool cl_zero = false;         // Content-Length's value so far is "0"
    uint16_t host_len = 0;
    uint64_t url_end = 0;         // offset just past the target
    uint64_t line_end = 0;        // offset of the CR ending the last field line
    size_t chunk_extension_bytes = 0;
  };
  static constexpr size_t kMaxHostBytes = 262;  // a 255-byte name, ':' and a port, some OWS

  llhttp_t parser_;
  const Limits* limits_;
  RequestSink* sink_;
  Request req_;
  Gathered target_;
  Gathered body_;
  Seen seen_;
  size_t head_bytes_ = 0;
  size_t headers_ = 0;
  char field_[32];       // a name split across buffers: its first bytes, as sent
  size_t field_len_ = 0;
  bool field_done_ = true;
  Watched watched_ = Watched::kNone;  // set when the current header's name ends
  std::string transfer_encoding_;
  size_t transfer_encodings_ = 0;
  bool header_has_name_ = false;
  std::string expect_;   // the Expect header values, joined with ','
  char host_[kMaxHostBytes];  // the Host value, as sent
  // obs-fold detection (llhttp 8.1 joins folded lines silently): a header value arriving in a
  // second piece that did not start at a buffer boundary, or that follows a buffer ending in a
  // line break plus optional blanks, continues a folded line.
  const char* feed_start_ = nullptr;
  const char* feed_end_ = nullptr;
  bool prev_feed_ended_in_break_ = false;
  char prev_last_byte_ = '\n';  // the last byte fed before this buffer
  size_t value_pieces_ = 0;
  static constexpr size_t kTail = 4;
  uint64_t fed_ = 0;
  char tail_[kTail] = {};
  bool in_request_ = false;
  bool headers_done_ = false;
  int error_status_ = 0;
  const char* error_message_ = "";
};

}  // namespace kvd::http
