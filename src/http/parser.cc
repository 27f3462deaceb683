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
constexpr auto kBadValueBytes = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = c != '\t';
  t[0x7f] = 1;
  return t;
}();

// RFC 9110 tchar: a header name is one token, so no spaces (as in "Host : x") or separators.
// Marks the bytes that are not.
constexpr auto kNonTokenBytes = [] {
  std::array<unsigned char, 256> t{};
  t.fill(1);
  for (int c = '0'; c <= '9'; ++c) t[c] = 0;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = 0;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = 0;
  return t;
}();

// Whether any byte of at[0, n) is marked in `table`. Every byte of every header line goes
// through here, so the lookups are combined without a branch per byte, four at a time (the last
// four overlapping the group before if n is not a multiple of four).
inline bool AnyIn(const std::array<unsigned char, 256>& table, const char* at, size_t n) {
  const unsigned char* t = table.data();
  const unsigned char* b = reinterpret_cast<const unsigned char*>(at);
  unsigned any = 0;
  if (n < 4) {
    for (size_t i = 0; i < n; ++i) any |= t[b[i]];
    return any;
  }
  auto four = [t](const unsigned char* q) { return t[q[0]] | t[q[1]] | t[q[2]] | t[q[3]]; };
  for (const unsigned char* last = b + n - 4; b < last; b += 4) any |= four(b);
  return any | four(reinterpret_cast<const unsigned char*>(at) + n - 4);
}

// The methods the router tells apart, named here; llhttp names the others (for logs).
void SetMethod(Request* req, uint8_t m) {
  switch (m) {
    case HTTP_GET: req->method = Method::kGet, req->method_name = "GET"; return;
    case HTTP_HEAD: req->method = Method::kHead, req->method_name = "HEAD"; return;
    case HTTP_POST: req->method = Method::kPost, req->method_name = "POST"; return;
    case HTTP_PUT: req->method = Method::kPut, req->method_name = "PUT"; return;
    case HTTP_DELETE: req->method = Method::kDelete, req->method_name = "DELETE"; return;
    default:
      req->method = Method::kOther;
      req->method_name = llhttp_method_name(static_cast<llhttp_method_t>(m));
  }
}

}  // namespace

inline RequestParser::Watched RequestParser::WatchedHeader(std::string_view name) {
  // Names are case-insensitive; the length decides first, so other headers cost one switch.
  absl::string_view n(name.data(), name.size());
  switch (n.size()) {
    case 6: return absl::EqualsIgnoreCase(n, "expect") ? Watched::kExpect : Watched::kNone;
    case 13: return absl::EqualsIgnoreCase(n, "authorization") ? Watched::kAuthorization : Watched::kNone;
    case 17:
      return absl::EqualsIgnoreCase(n, "transfer-encoding") ? Watched::kTransferEncoding : Watched::kNone;
    default: return Watched::kNone;
  }
}

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
  feed_end_ = data + len;
  Result r = Execute(data, len);
  if (in_request_) {  // the request goes on in a later buffer: keep what this one held of it
    target_.Keep();
    body_.Keep();
  }
  // Remember whether this buffer ended in a line break and blanks, for obs-fold detection.
  size_t i = len;
  while (i > 0 && (data[i - 1] == ' ' || data[i - 1] == '\t')) --i;
  if (i > 0) prev_feed_ended_in_break_ = data[i - 1] == '\n';
  if (len > 0) prev_last_byte_ = data[len - 1];
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
  // The usual "Name: value": the colon is in sight, so no line break is.
  if (at - feed_start_ >= 2 && at[-1] == ' ' && at[-2] == ':') return false;
  const char* p = at;
  while (p > feed_start_ && (p[-1] == ' ' || p[-1] == '\t')) --p;
  return p > feed_start_ ? p[-1] == '\n' : prev_feed_ended_in_break_;
}

bool RequestParser::CountHeadBytes(size_t n) {
  head_bytes_ += n;
  return head_bytes_ <= limits_->max_header_bytes;
}

void RequestParser::Gathered::Append(const char* at, size_t n) {
  if (view.data() != own.data()) own.assign(view.data(), view.size());
  own.append(at, n);
  view = own;
}

void RequestParser::Gathered::Keep() {
  if (view.empty() || view.data() == own.data()) return;
  own.assign(view.data(), view.size());
  view = own;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->req_.Clear();
  self->target_.view = {};
  self->body_.view = {};
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
  if (self->target_.view.size() + n > self->limits_->max_target_bytes) {
    return self->Fail(414, "request target too long");
  }
  self->target_.Add(at, n);
  return HPE_OK;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->field_done_) {  // the first piece of a new header name
    // ": " and CRLF (the 4) count once per header line, not once per piece of its name, so the
    // 431 limit does not depend on how the bytes were split across reads.
    if (!self->CountHeadBytes(n + 4)) return self->Fail(431, "request header section too large");
    if (++self->headers_ > self->limits_->max_headers) return self->Fail(431, "too many request headers");
    self->field_done_ = false;
    self->field_len_ = 0;
    self->value_pieces_ = 0;
  } else if (!self->CountHeadBytes(n)) {
    return self->Fail(431, "request header section too large");
  }
  if (AnyIn(kNonTokenBytes, at, n)) return self->Fail(400, "invalid header name");
  if (n > 0) self->header_has_name_ = true;
  // llhttp splits a name only where a buffer ends: a piece that ends before this buffer does is
  // the name's last. The usual name, whole in one buffer, is classified in place; the pieces of
  // a split one are gathered (its first bytes, enough to classify) until it ends.
  bool last = at + n != self->feed_end_;
  if (last && self->field_len_ == 0) {
    self->watched_ = WatchedHeader({at, n});
    return HPE_OK;
  }
  size_t take = std::min(n, sizeof self->field_ - self->field_len_);
  if (take > 0) std::memcpy(self->field_ + self->field_len_, at, take);
  self->field_len_ += take;
  self->watched_ = last ? WatchedHeader({self->field_, self->field_len_}) : Watched::kNone;
  return HPE_OK;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (!self->header_has_name_) return self->Fail(400, "header with an empty name");
  if (!self->field_done_) {  // the first piece of this header's value: the name is complete
    self->field_done_ = true;
    // llhttp 8.1 accepts "gzip, chunked"; kvd takes exactly one coding, chunked.
    if (self->watched_ == Watched::kTransferEncoding && self->transfer_encodings_++ > 0) {
      return self->Fail(400, "more than one Transfer-Encoding header");
    }
  }
  if (!self->CountHeadBytes(n)) return self->Fail(431, "request header section too large");
  // A fold onto an empty or blank value ("X:\r\n chunked") reaches here as the value's first
  // piece, so also look at what precedes the piece: only blanks back to a line break is a fold.
  // (llhttp reports an empty value as an empty piece placed after its line break: not a fold.)
  if ((self->value_pieces_++ > 0 && at != self->feed_start_) || (n > 0 && self->AfterLineBreak(at))) {
    return self->Fail(400, "obs-fold (a header line continued on the next line) is not allowed");
  }
  // llhttp 8.1 takes any byte after a CR among the blanks before a value for its LF ("X: \rv"
  // ends the line at the v, and "X: \rvY: z" hides a header) and reports an empty value just
  // after that byte: an empty value must follow a real line break.
  if (n == 0 && self->value_pieces_ == 1 &&
      (at > self->feed_start_ ? at[-1] : self->prev_last_byte_) != '\n') {
    return self->Fail(400, "bare CR or LF, or obs-fold, in a header");
  }
  if (AnyIn(kBadValueBytes, at, n)) {
    const char* bad = at;
    while (!kBadValueBytes[static_cast<unsigned char>(*bad)]) ++bad;
    return self->Fail(400, *bad == '\r' || *bad == '\n' ? "bare CR or LF, or obs-fold, in a header"
                                                        : "control character in a header value");
  }
  switch (self->watched_) {
    case Watched::kNone: break;
    case Watched::kExpect:
    case Watched::kTransferEncoding: {
      std::string& value = self->watched_ == Watched::kExpect ? self->expect_ : self->transfer_encoding_;
      if (value.size() + n > 64) return self->Fail(400, "invalid Expect or Transfer-Encoding header");
      value.append(at, n);
      break;
    }
    case Watched::kAuthorization: self->req_.authorization.append(at, n); break;
  }
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
  if (p->http_major != 1 || p->http_minor > 1) {
    // llhttp reads a request line without a version as HTTP/0.9: malformed for kvd.
    if (p->http_major == 0) return self->Fail(400, "request line has no HTTP version");
    return self->Fail(505, "unsupported HTTP version");
  }
  if (p->method == HTTP_PRI) return self->Fail(505, "HTTP/2 is not supported; use HTTP/1.1");
  if (p->upgrade && p->method == HTTP_CONNECT) return self->Fail(405, "CONNECT is not supported");
  SetMethod(&self->req_, p->method);
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
  if (has_body && p->http_minor == 1 && !self->expect_.empty() &&
      absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(self->expect_), "100-continue")) {
    self->sink_->OnContinue();
  }
  return HPE_OK;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->body_.view.size() + n > self->limits_->max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  self->body_.Add(at, n);
  return HPE_OK;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  // llhttp_should_keep_alive, for a request (whose end never depends on the connection's): an
  // HTTP/1.1 request keeps the connection unless it says close, an HTTP/1.0 one only if it asks.
  self->req_.keep_alive = p->http_minor > 0 ? !(p->flags & F_CONNECTION_CLOSE)
                                            : (p->flags & F_CONNECTION_KEEP_ALIVE) != 0;
  self->in_request_ = false;
  self->req_.target = self->target_.view;
  self->req_.body = self->body_.view;
  bool go_on = self->sink_->OnRequest(self->req_);
  return go_on ? HPE_OK : HPE_PAUSED;
}

}  // namespace kvd::http
