// RequestParser: llhttp wrapped for a server connection. Feed it bytes as they arrive, split
// anywhere; it hands each complete request to the sink, in order, and turns every protocol
// violation into the HTTP status to answer with before closing.
//
// Beyond llhttp's own checks it enforces kvd's limits (request-target length, header section
// size and count, body size decided from Content-Length before the body is read) and rejects
// what Debian's llhttp 8.1 lets through (obs-fold and bare CR in headers, see CVE-2023-30589 and
// CVE-2024-27982), NUL and other control bytes in header values, and HTTP versions other than
// 1.0 and 1.1.
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

  // After kError: the status to answer (400, 413, 414, 431, 505) and a one-line reason.
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
  static int OnBody(llhttp_t* p, const char* at, size_t n);
  static int OnMessageComplete(llhttp_t* p);
  Result Execute(const char* data, size_t len);
  static RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }
  int Fail(int status, const char* message);
  bool CountHeadBytes(size_t n);
  // Whether only blanks separate `at` (in the buffer being fed) from a preceding line break.
  bool AfterLineBreak(const char* at) const;

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

  enum class Watched : uint8_t { kNone, kExpect, kAuthorization, kTransferEncoding };
  // Which header a complete name is, if it is one whose value kvd keeps.
  static Watched WatchedHeader(std::string_view name);

  llhttp_t parser_;
  const Limits* limits_;
  RequestSink* sink_;
  Request req_;
  Gathered target_;
  Gathered body_;
  size_t head_bytes_ = 0;
  size_t headers_ = 0;
  char field_[32];       // a name split across buffers: its first bytes, as sent
  size_t field_len_ = 0;
  bool field_done_ = true;
  Watched watched_ = Watched::kNone;  // set when the current header's name ends
  std::string transfer_encoding_;
  size_t transfer_encodings_ = 0;
  bool header_has_name_ = false;
  std::string expect_;   // the Expect header value (watched headers only are kept)
  // obs-fold detection (llhttp 8.1 joins folded lines silently): a header value arriving in a
  // second piece that did not start at a buffer boundary, or that follows a buffer ending in a
  // line break plus optional blanks, continues a folded line.
  const char* feed_start_ = nullptr;
  const char* feed_end_ = nullptr;
  bool prev_feed_ended_in_break_ = false;
  char prev_last_byte_ = '\n';  // the last byte fed before this buffer
  size_t value_pieces_ = 0;
  bool in_request_ = false;
  bool headers_done_ = false;
  int error_status_ = 0;
  const char* error_message_ = "";
};

}  // namespace kvd::http
