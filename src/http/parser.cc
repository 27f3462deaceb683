#include "http/parser.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace kvd::http {
namespace {

// Header values may hold visible ASCII, obs-text and HTAB; a bare CR, NUL or other control
// byte here means the framing cannot be trusted (llhttp 8.1 passes some of them through).
bool BadValueByte(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// RFC 9110 tchar: a header name is one token, so no spaces (as in "Host : x") or separators.
// A table, since every byte of every header name is checked.
constexpr auto kTokenBytes = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();
bool TokenByte(unsigned char c) { return kTokenBytes[c]; }

Method MethodOf(uint8_t m) {
  switch (m) {
    case HTTP_GET: return Method::kGet;
    case HTTP_HEAD: return Method::kHead;
    case HTTP_POST: return Method::kPost;
    case HTTP_PUT: return Method::kPut;
    case HTTP_DELETE: return Method::kDelete;
    default: return Method::kOther;
  }
}

}  // namespace

RequestParser::RequestParser(const Limits* limits, RequestSink* sink) : limits_(limits), sink_(sink) {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = OnMessageBegin;
    s.on_url = OnUrl;
    s.on_header_field = OnHeaderField;
    s.on_header_value = OnHeaderValue;
    s.on_header_value_complete = OnHeaderValueComplete;
    s.on_headers_complete = OnHeadersComplete;
    s.on_body = OnBody;
    s.on_message_complete = OnMessageComplete;
    return s;
  }();
  llhttp_init(&parser_, HTTP_REQUEST, &settings);
  parser_.data = this;
}

RequestParser::Result RequestParser::Feed(const char* data, size_t len) {
  feed_start_ = data;
  Result r = Execute(data, len);
  // Remember whether this buffer ended in a line break and blanks, for obs-fold detection.
  size_t i = len;
  while (i > 0 && (data[i - 1] == ' ' || data[i - 1] == '\t')) --i;
  if (i > 0) prev_feed_ended_in_break_ = data[i - 1] == '\n';
  return r;
}

RequestParser::Result RequestParser::Execute(const char* data, size_t len) {
  size_t off = 0;
  llhttp_errno_t err;
  size_t consumed;
  for (;;) {
    err = llhttp_execute(&parser_, data + off, len - off);
    if (err == HPE_OK) return {Status::kOk, len};
    consumed = size_t(llhttp_get_error_pos(&parser_) - data);
    // kvd never switches protocols: a request that asked to upgrade was answered as plain
    // HTTP/1.1, and the bytes after it are the next request.
    if (err != HPE_PAUSED_UPGRADE || error_status_ != 0) break;
    llhttp_resume_after_upgrade(&parser_);
    off = consumed;
  }
  if (err == HPE_PAUSED) return {Status::kPaused, consumed};
  if (error_status_ == 0) {
    // llhttp's own verdict. Only a PRI request declaring HTTP/2.0 is the HTTP/2 preface (505);
    // judging by the method or the bytes of this read alone made the answer depend on how the
    // request was split (found by the connection fuzzer). Everything else malformed is a 400.
    if (err == HPE_PAUSED_H2_UPGRADE || (parser_.method == HTTP_PRI && parser_.http_major == 2)) {
      Fail(505, "HTTP/2 is not supported; use HTTP/1.1");
    } else {
      Fail(400, llhttp_get_error_reason(&parser_));
    }
  }
  return {Status::kError, consumed};
}

int RequestParser::Fail(int status, const char* message) {
  error_status_ = status;
  error_message_ = message ? message : "bad request";
  return HPE_USER;
}

bool RequestParser::AfterLineBreak(const char* at) const {
  const char* p = at;
  while (p > feed_start_ && (p[-1] == ' ' || p[-1] == '\t')) --p;
  return p > feed_start_ ? p[-1] == '\n' : prev_feed_ended_in_break_;
}

bool RequestParser::CountHeadBytes(size_t n) {
  head_bytes_ += n;
  return head_bytes_ <= limits_->max_header_bytes;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->req_.Clear();
  self->head_bytes_ = 0;
  self->headers_ = 0;
  self->field_done_ = true;
  self->watched_ = Watched::kNone;
  self->expect_.clear();
  self->transfer_encoding_.clear();
  self->transfer_encodings_ = 0;
  self->header_has_name_ = false;
  self->in_request_ = true;
  self->headers_done_ = false;
  return HPE_OK;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->req_.target.size() + n > self->limits_->max_target_bytes) {
    return self->Fail(414, "request target too long");
  }
  self->req_.target.append(at, n);
  return HPE_OK;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  // ": " and CRLF (the 4) count once per header line, not once per piece of its name, so the
  // 431 limit does not depend on how the bytes were split across reads.
  if (!self->CountHeadBytes(n + (self->field_done_ ? 4 : 0))) {
    return self->Fail(431, "request header section too large");
  }
  if (self->field_done_) {  // the first piece of a new header name
    if (++self->headers_ > self->limits_->max_headers) return self->Fail(431, "too many request headers");
    self->field_done_ = false;
    self->field_len_ = 0;
    self->value_pieces_ = 0;
    self->watched_ = Watched::kNone;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!TokenByte(static_cast<unsigned char>(at[i]))) return self->Fail(400, "invalid header name");
  }
  if (n > 0) self->header_has_name_ = true;
  size_t take = std::min(n, sizeof self->field_ - self->field_len_);
  std::memcpy(self->field_ + self->field_len_, at, take);
  self->field_len_ += take;
  return HPE_OK;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (!self->header_has_name_) return self->Fail(400, "header with an empty name");
  if (!self->field_done_) {  // the first piece of this header's value: the name is complete
    self->field_done_ = true;
    // Names are case-insensitive; the length test first keeps the common headers cheap.
    absl::string_view name(self->field_, self->field_len_);
    if (name.size() == 6 && absl::EqualsIgnoreCase(name, "expect")) {
      self->watched_ = Watched::kExpect;
    } else if (name.size() == 13 && absl::EqualsIgnoreCase(name, "authorization")) {
      self->watched_ = Watched::kAuthorization;
    } else if (name.size() == 17 && absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      // llhttp 8.1 accepts "gzip, chunked"; kvd takes exactly one coding, chunked.
      if (self->transfer_encodings_++ > 0) return self->Fail(400, "more than one Transfer-Encoding header");
      self->watched_ = Watched::kTransferEncoding;
    }
  }
  if (!self->CountHeadBytes(n)) return self->Fail(431, "request header section too large");
  // A fold onto an empty or blank value ("X:\r\n chunked") reaches here as the value's first
  // piece, so also look at what precedes the piece: only blanks back to a line break is a fold.
  // (llhttp reports an empty value as an empty piece placed after its line break: not a fold.)
  if ((self->value_pieces_++ > 0 && at != self->feed_start_) || (n > 0 && self->AfterLineBreak(at))) {
    return self->Fail(400, "obs-fold (a header line continued on the next line) is not allowed");
  }
  for (size_t i = 0; i < n; ++i) {
    if (BadValueByte(static_cast<unsigned char>(at[i]))) {
      return self->Fail(400, at[i] == '\r' || at[i] == '\n' ? "bare CR or LF, or obs-fold, in a header"
                                                            : "control character in a header value");
    }
  }
  if (self->watched_ == Watched::kExpect || self->watched_ == Watched::kTransferEncoding) {
    std::string& value = self->watched_ == Watched::kExpect ? self->expect_ : self->transfer_encoding_;
    if (value.size() + n > 64) return self->Fail(400, "invalid Expect or Transfer-Encoding header");
    value.append(at, n);
  }
  if (self->watched_ == Watched::kAuthorization) self->req_.authorization.append(at, n);
  return HPE_OK;
}

int RequestParser::OnHeaderValueComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->field_done_ = true;  // also ends a header with an empty value
  self->header_has_name_ = false;
  return HPE_OK;
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  // llhttp reads a request line without a version as HTTP/0.9: malformed for kvd.
  if (p->http_major == 0) return self->Fail(400, "request line has no HTTP version");
  if (p->http_major != 1 || p->http_minor > 1) return self->Fail(505, "unsupported HTTP version");
  if (p->method == HTTP_PRI) return self->Fail(505, "HTTP/2 is not supported; use HTTP/1.1");
  if (p->upgrade && p->method == HTTP_CONNECT) return self->Fail(405, "CONNECT is not supported");
  self->req_.method = MethodOf(p->method);
  self->req_.method_name = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  if (self->transfer_encodings_ &&
      !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(self->transfer_encoding_), "chunked")) {
    return self->Fail(400, "unsupported Transfer-Encoding: only chunked is accepted");
  }
  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->limits_->max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  // llhttp 8.1 keeps a value's trailing blanks, which are not part of it (RFC 9110 5.5), so a
  // token would otherwise be compared with them.
  std::string& auth = self->req_.authorization;
  while (!auth.empty() && (auth.back() == ' ' || auth.back() == '\t')) auth.pop_back();
  self->headers_done_ = true;
  if (has_body && p->http_minor == 1 && absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(self->expect_), "100-continue")) {
    self->sink_->OnContinue();
  }
  return HPE_OK;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->req_.body.size() + n > self->limits_->max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  self->req_.body.append(at, n);
  return HPE_OK;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->req_.keep_alive = llhttp_should_keep_alive(p);
  self->in_request_ = false;
  bool go_on = self->sink_->OnRequest(self->req_);
  return go_on ? HPE_OK : HPE_PAUSED;
}

}  // namespace kvd::http
