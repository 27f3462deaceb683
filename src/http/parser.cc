#include "http/parser.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/match.h"
#include "http/uri.h"

namespace kvd::http {
namespace {

// Header value bytes. kBadValue: values may hold visible ASCII, obs-text and HTAB; a bare CR,
// NUL or other control byte means the framing cannot be trusted (llhttp 8.1 passes some of them
// through). kNotRegName: not a byte of a host name, so that the scan every value gets also
// judges the usual Host ("kvd", "cache.example.com") without a second one.
constexpr unsigned char kBadValue = 1, kNotRegName = 2;
constexpr auto kValueBytes = [] {
  std::array<unsigned char, 256> t{};
  t.fill(kNotRegName);
  for (int c = 0; c < 0x20; ++c) t[c] |= c != '\t' ? kBadValue : 0;
  t[0x7f] |= kBadValue;
  for (int c = '0'; c <= '9'; ++c) t[c] = 0;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = 0;
  for (char c : kRegNameSymbols) t[static_cast<unsigned char>(c)] = 0;
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
inline unsigned AnyIn(const std::array<unsigned char, 256>& table, const char* at, size_t n) {
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

// Whether a '#' is in at[0, n). Inline, a word at a time: the usual target is a few bytes, for
// which a library call costs more than the scan. (haszero: a zero byte in w ^ "####....".)
inline bool HasHash(const char* at, size_t n) {
  auto zero64 = [](const char* q) {
    uint64_t w;
    std::memcpy(&w, q, 8);
    w ^= 0x2323232323232323u;
    return (w - 0x0101010101010101u) & ~w & 0x8080808080808080u;
  };
  auto zero32 = [](const char* q) {
    uint32_t w;
    std::memcpy(&w, q, 4);
    w ^= 0x23232323u;
    return (w - 0x01010101u) & ~w & 0x80808080u;
  };
  if (n >= 8) {
    uint64_t any = zero64(at + n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) any |= zero64(at + i);
    return any != 0;
  }
  if (n >= 4) return (zero32(at) | zero32(at + n - 4)) != 0;
  for (size_t i = 0; i < n; ++i) {
    if (at[i] == '#') return true;
  }
  return false;
}

// Whether the token at `p` (as long as `lower`) is `lower` in any case. `lower` has lower-case
// letters and '-' only; OR-ing 0x20 into a token's bytes maps exactly the upper-case letters onto
// those ('^' becomes '~', '_' DEL, neither of which `lower` has). A few word compares: every
// header name of every request is classified, and a library call per name cost more than this.
template <size_t N>
inline bool IsToken(const char* p, const char (&lower)[N]) {
  constexpr size_t n = N - 1;
  auto word = [](const char* q, auto zero) {
    decltype(zero) w;
    std::memcpy(&w, q, sizeof w);
    return w;
  };
  if constexpr (n >= 8) {
    uint64_t diff = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) diff |= (word(p + i, uint64_t{}) | 0x2020202020202020u) ^ word(lower + i, uint64_t{});
    return (diff | ((word(p + n - 8, uint64_t{}) | 0x2020202020202020u) ^ word(lower + n - 8, uint64_t{}))) == 0;
  } else {
    static_assert(n >= 4);
    return (((word(p, uint32_t{}) | 0x20202020u) ^ word(lower, uint32_t{})) |
            ((word(p + n - 4, uint32_t{}) | 0x20202020u) ^ word(lower + n - 4, uint32_t{}))) == 0;
  }
}

// The methods the router tells apart, named here; llhttp names the others (for logs).
void SetMethod(Request* req, uint8_t m) {
  switch (m) {
    case HTTP_GET: req->method = Method::kGet, req->method_name = "GET"; return;
    case HTTP_HEAD: req->method = Method::kHead, req->method_name = "HEAD"; return;
    case HTTP_POST: req->method = Method::kPost, req->method_name = "POST"; return;
    case HTTP_PUT: req->method = Method::kPut, req->method_name = "PUT"; return;
    case HTTP_DELETE: req->method = Method::kDelete, req->method_name = "DELETE"; return;
    case HTTP_OPTIONS: req->method = Method::kOptions, req->method_name = "OPTIONS"; return;
    default:
      req->method = Method::kOther;
      req->method_name = llhttp_method_name(static_cast<llhttp_method_t>(m));
  }
}

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

std::string_view StripBlanks(std::string_view s) {  // for lists: the rare fields
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void StripTrailingBlanks(std::string* s) {
  while (!s->empty() && (s->back() == ' ' || s->back() == '\t')) s->pop_back();
}

// A Host value as llhttp hands it over (blanks before it dropped, those after it kept).
enum HostVerdict : uint8_t { kHostUnchecked, kHostValid, kHostEmpty, kHostInvalid };

[[gnu::noinline]] HostVerdict JudgeHostWithBlanks(const char* p, size_t n) {
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) --n;
  if (n == 0) return kHostEmpty;
  return ValidHostPort({p, n}) ? kHostValid : kHostInvalid;
}

inline HostVerdict JudgeHost(const char* p, size_t n) {
  // The usual value has no blanks after it to drop first.
  return ValidHostPort({p, n}) ? kHostValid : JudgeHostWithBlanks(p, n);
}

// What a Transfer-Encoding value asks of the body (RFC 9112 6.1, 6.3, 7).
enum class Codings { kChunked, kUnsupported, kInvalid };

// kChunked: exactly "chunked". kUnsupported: codings kvd does not decode, then chunked as the
// last (the framing is still known: 501). kInvalid: chunked not last or more than once, a
// parameter on chunked, an empty list element or a coding that is not a token.
Codings TransferCodings(std::string_view value) {
  bool others = false;
  for (;;) {
    size_t comma = value.find(',');
    bool last = comma == std::string_view::npos;
    std::string_view item = StripBlanks(value.substr(0, comma));
    // An empty element is what a list may carry (RFC 9110 5.6.1), but llhttp 8.1 refuses one
    // after chunked: refused anywhere, so that where it sits cannot change the verdict.
    if (item.empty()) return Codings::kInvalid;
    if (absl::EqualsIgnoreCase(Absl(item), "chunked")) {
      if (!last) return Codings::kInvalid;
      return others ? Codings::kUnsupported : Codings::kChunked;
    }
    std::string_view name = StripBlanks(item.substr(0, item.find(';')));
    if (name.empty() || AnyIn(kNonTokenBytes, name.data(), name.size())) return Codings::kInvalid;
    if (last) return Codings::kInvalid;  // chunked is not the final coding
    others = true;
    value.remove_prefix(comma + 1);
  }
}

// What an Expect value asks (RFC 9110 10.1.1): 100-continue and/or something kvd cannot meet.
void ReadExpectations(std::string_view value, bool* continue_asked, bool* unmet) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = StripBlanks(value.substr(0, comma));
    if (absl::EqualsIgnoreCase(Absl(item), "100-continue")) {
      *continue_asked = true;
    } else if (!item.empty()) {  // empty list elements are ignored (RFC 9110 5.6.1)
      *unmet = true;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// Fields RFC 9110 6.5.1 says cannot be processed outside the header section (framing, routing,
// connection, authentication, request modifiers, content format), among those kvd or a proxy in
// front of it acts on. kvd never merges trailers into the header section; it refuses these
// because an intermediary that did merge them would frame, route or authorize the message, and
// what follows it, differently.
bool NotAllowedInTrailer(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "authorization", "cache-control", "connection", "content-encoding", "content-length",
      "content-range", "content-type", "expect", "host", "if-match", "if-modified-since",
      "if-none-match", "if-range", "if-unmodified-since", "keep-alive", "max-forwards", "pragma",
      "proxy-authorization", "range", "te", "trailer", "transfer-encoding", "upgrade"};
  for (std::string_view n : kNames) {
    if (absl::EqualsIgnoreCase(Absl(name), Absl(n))) return true;
  }
  return false;
}

}  // namespace

inline RequestParser::Watched RequestParser::WatchedHeader(std::string_view name) {
  // Names are case-insensitive; the length decides first, so other headers cost one switch.
  const char* n = name.data();
  switch (name.size()) {
    case 4: return IsToken(n, "host") ? Watched::kHost : Watched::kNone;
    case 6: return IsToken(n, "expect") ? Watched::kExpect : Watched::kNone;
    case 8: return IsToken(n, "if-match") ? Watched::kIfMatch : Watched::kNone;
    case 13:
      if (IsToken(n, "authorization")) return Watched::kAuthorization;
      if (IsToken(n, "if-none-match")) return Watched::kIfNoneMatch;
      return IsToken(n, "content-range") ? Watched::kContentRange : Watched::kNone;
    case 14: return IsToken(n, "content-length") ? Watched::kContentLength : Watched::kNone;
    case 17: return IsToken(n, "transfer-encoding") ? Watched::kTransferEncoding : Watched::kNone;
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
    s.on_chunk_extension_name = OnChunkExtension;
    s.on_chunk_extension_value = OnChunkExtension;
    s.on_body = OnBody;
    s.on_message_complete = OnMessageComplete;
    return s;
  }();
  llhttp_init(&parser_, HTTP_REQUEST, &settings);
  // Any single-digit version parses (llhttp 8.1 knows only 0.9, 1.0, 1.1 and 2.0 otherwise), so
  // that HTTP/1.2 is served as 1.1 (RFC 9110 2.5) and HTTP/3.0 is a 505, not a 400. The flag
  // has no setter in 8.1; it is the documented LENIENT_VERSION bit.
  parser_.lenient_flags |= LENIENT_VERSION;
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
  Consumed(data, r.consumed);
  return r;
}

void RequestParser::Consumed(const char* data, size_t n) {
  // Remember whether this buffer ended in a line break and blanks, for obs-fold detection. (After
  // a pause only the bytes before it count: the rest is fed again.)
  size_t i = n;
  while (i > 0 && (data[i - 1] == ' ' || data[i - 1] == '\t')) --i;
  if (i > 0) prev_feed_ended_in_break_ = data[i - 1] == '\n';
  if (n > 0) prev_last_byte_ = data[n - 1];
  if (n >= kTail) {
    std::memcpy(tail_, data + n - kTail, kTail);
  } else {
    std::memmove(tail_, tail_ + n, kTail - n);
    std::memcpy(tail_ + kTail - n, data, n);
  }
  fed_ += n;
}

RequestParser::Result RequestParser::Execute(const char* data, size_t len) {
  size_t off = 0;
  llhttp_errno_t err;
  size_t consumed;
  for (;;) {
    err = llhttp_execute(&parser_, data + off, len - off);
    if (err == HPE_OK) return {Status::kOk, len};
    consumed = size_t(llhttp_get_error_pos(&parser_) - data);
    if (err == HPE_PAUSED_UPGRADE && error_status_ == 0) {
      // kvd never switches protocols: a request that asked to upgrade was answered as plain
      // HTTP/1.1, and the bytes after it are the next request.
      llhttp_resume_after_upgrade(&parser_);
    } else if (err == HPE_PAUSED && seen_.end_check) {
      // Paused at a request's end so that its last bytes can be seen (OnMessageComplete).
      seen_.end_check = false;
      if (CheckEnd(Offset(data + consumed)) != HPE_OK) return {Status::kError, consumed};
      llhttp_resume(&parser_);
      if (!Deliver()) return {Status::kPaused, consumed};
    } else {
      break;
    }
    off = consumed;
    if (off == len) return {Status::kOk, len};
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

void RequestParser::Reject(int status, const char* reason) {
  if (req_.reject_status != 0) return;
  req_.reject_status = status;
  req_.reject_reason = reason;
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
  self->seen_ = {};
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
  if (self->target_.view.empty() && n > 0) {  // the first piece
    // llhttp accepts several spaces after the method; other parsers split such a line on other
    // boundaries (RFC 9112 3). The one before `at` is a space; the one before that must not be.
    char before = at - self->feed_start_ >= 2 ? at[-2] : self->ByteAt(self->Offset(at) - 2);
    if (before == ' ') return self->Fail(400, "more than one space in the request line");
  }
  self->seen_.url_end = self->Offset(at + n);
  // A fragment is not part of any request-target form (RFC 9112 3.2); a cache that dropped it
  // would key the request differently from kvd.
  if (HasHash(at, n)) return self->Fail(400, "#fragment in the request target");
  self->target_.Add(at, n);
  return HPE_OK;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->field_done_) {  // the first piece of a new header name
    if (self->headers_ == 0) {
      uint64_t line = self->Offset(at);
      if (line - self->seen_.url_end != 11 || self->ByteAt(line - 2) != '\r') return self->CheckRequestLineEnd(line);
    }
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
  if (last && self->field_len_ == 0) return self->OnFieldName({at, n});
  size_t take = std::min(n, sizeof self->field_ - self->field_len_);
  if (take > 0) std::memcpy(self->field_ + self->field_len_, at, take);
  self->field_len_ += take;
  self->watched_ = Watched::kNone;
  return last ? self->OnFieldName({self->field_, self->field_len_}) : HPE_OK;
}

inline int RequestParser::OnFieldName(std::string_view name) {
  if (headers_done_) return OnTrailerName(name);
  watched_ = WatchedHeader(name);
  switch (watched_) {
    case Watched::kNone:
    case Watched::kTransferEncoding:
    case Watched::kContentLength: break;
    case Watched::kHost: seen_.hosts += seen_.hosts < 255; break;
    default: OnRareName(); break;
  }
  return HPE_OK;
}

int RequestParser::OnTrailerName(std::string_view name) {
  watched_ = Watched::kNone;  // a trailer's value is never kept
  if (NotAllowedInTrailer(name)) return Fail(400, "a framing, routing or authorization field in the trailer section");
  return HPE_OK;
}

void RequestParser::OnRareName() {
  seen_.rare = true;  // CheckHead looks at these
  switch (watched_) {
    case Watched::kAuthorization: seen_.authorizations += seen_.authorizations < 255; break;
    case Watched::kContentRange: seen_.content_range = true; break;
    case Watched::kExpect:  // several Expect lines are one list
      if (!expect_.empty()) expect_ += ',';
      break;
    case Watched::kIfMatch:
    case Watched::kIfNoneMatch: {
      std::string& value = watched_ == Watched::kIfMatch ? req_.if_match : req_.if_none_match;
      StripTrailingBlanks(&value);
      if (!value.empty()) value += ", ";
      break;
    }
    default: break;
  }
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (!self->header_has_name_) return self->Fail(400, "header with an empty name");
  if (!self->field_done_) {  // the first piece of this header's value: the name is complete
    self->field_done_ = true;
    // Two Transfer-Encoding lines are the classic way to show one framing to one parser and
    // another to the next: refused, whatever they say.
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
  // Where this line ends: at the end of the value, or, for an empty value (which llhttp reports
  // as an empty piece just after the line's CRLF), 2 bytes before it.
  self->seen_.line_end = n == 0 && self->value_pieces_ == 1 ? self->Offset(at) - 2 : self->Offset(at + n);
  // llhttp 8.1 takes any byte after a CR among the blanks before a value for its LF ("X: \rv"
  // ends the line at the v, and "X: \rvY: z" hides a header) and reports an empty value just
  // after that byte: an empty value must follow a real line break.
  if (n == 0 && self->value_pieces_ == 1 &&
      (at > self->feed_start_ ? at[-1] : self->prev_last_byte_) != '\n') {
    return self->Fail(400, "bare CR or LF, or obs-fold, in a header");
  }
  unsigned classes = AnyIn(kValueBytes, at, n);
  if (classes & kBadValue) {
    const char* bad = at;
    while (!(kValueBytes[static_cast<unsigned char>(*bad)] & kBadValue)) ++bad;
    return self->Fail(400, *bad == '\r' || *bad == '\n' ? "bare CR or LF, or obs-fold, in a header"
                                                        : "control character in a header value");
  }
  switch (self->watched_) {
    case Watched::kNone:
    case Watched::kContentRange: break;
    case Watched::kHost:
      // The usual value is whole in one piece: judged where it lies. The pieces of a split one
      // are gathered, and judged with the rest of the header section (CheckHead).
      if (self->seen_.host_len == 0 && at + n != self->feed_end_) {
        if (self->seen_.host == kHostUnchecked) {
          self->seen_.host = n > kMaxHostBytes          ? kHostInvalid  // as if gathered
                             : classes & kNotRegName ? JudgeHost(at, n)
                             : n > 0                 ? kHostValid
                                                     : kHostEmpty;
        }
      } else if (self->seen_.host_len + n > kMaxHostBytes) {
        self->seen_.host = kHostInvalid;
      } else if (n > 0) {
        std::memcpy(self->host_ + self->seen_.host_len, at, n);
        self->seen_.host_len += uint16_t(n);
      }
      break;
    case Watched::kContentLength:
      // llhttp reads the digits (blanks before them dropped, a digit after a blank refused); kvd
      // refuses leading zeros, which some parsers take for octal ("010" is 8 to strtol with base
      // 0), so that a proxy could frame the body differently.
      if (n > 0 && (self->seen_.cl_zero || (self->value_pieces_ == 1 && at[0] == '0'))) {
        const char* digit = self->seen_.cl_zero ? at : at + 1;  // one after the leading 0
        if (digit < at + n && *digit >= '0' && *digit <= '9') return self->Fail(400, "Content-Length with a leading zero");
        self->seen_.cl_zero = digit == at + n;  // the 0 ended this piece: look at the next
      }
      break;
    case Watched::kExpect:
      if (self->expect_.size() + n > 64) {  // longer than any list of 100-continue
        self->seen_.expect_unmet = true;
      } else {
        self->expect_.append(at, n);
      }
      break;
    case Watched::kTransferEncoding:
      if (self->transfer_encoding_.size() + n > 64) return self->Fail(400, "invalid Transfer-Encoding header");
      self->transfer_encoding_.append(at, n);
      break;
    case Watched::kAuthorization: self->req_.authorization.append(at, n); break;
    case Watched::kIfMatch: self->req_.if_match.append(at, n); break;
    case Watched::kIfNoneMatch: self->req_.if_none_match.append(at, n); break;
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
  // The blank line ending the section must be CRLF: llhttp 8.1 also takes a bare LF. (Without a
  // header line this is checked at the end of the request: see OnMessageComplete.)
  if (self->headers_ > 0 && self->ByteAt(self->seen_.line_end + 2) != '\r') {
    return self->Fail(400, "bare LF ending the header section");
  }
  if (p->http_major != 1) {
    // llhttp reads a request line without a version as HTTP/0.9: malformed for kvd.
    if (p->http_major == 0) return self->Fail(400, "request line has no HTTP/1.x version");
    return self->Fail(505, p->method == HTTP_PRI ? "HTTP/2 is not supported; use HTTP/1.1"
                                                 : "unsupported HTTP version; use HTTP/1.1");
  }
  if (p->method == HTTP_PRI) return self->Fail(505, "HTTP/2 is not supported; use HTTP/1.1");
  if (p->upgrade && p->method == HTTP_CONNECT) return self->Fail(501, "CONNECT is not implemented");
  SetMethod(&self->req_, p->method);
  bool http11 = p->http_minor >= 1;  // 1.2 and later minors are served as 1.1 (RFC 9110 2.5)
  if (self->transfer_encodings_) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (!http11) return self->Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    switch (TransferCodings(self->transfer_encoding_)) {
      case Codings::kChunked: break;
      case Codings::kUnsupported: return self->Fail(501, "unsupported transfer coding: only chunked is implemented");
      case Codings::kInvalid: return self->Fail(400, "invalid Transfer-Encoding: chunked must be the only coding");
    }
  }
  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->limits_->max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  // llhttp 8.1 keeps a value's trailing blanks, which are not part of it (RFC 9110 5.5), so a
  // token would otherwise be compared with them.
  StripTrailingBlanks(&self->req_.authorization);
  self->CheckHead(http11);
  // RFC 9110 10.1.1: an HTTP/1.0 client cannot take an interim response.
  bool wants_continue = has_body && http11 && self->seen_.continue_asked;
  // A refused request whose client waits for 100 Continue before its body is answered now; it
  // may send the body anyway, so the connection closes.
  if (wants_continue && self->req_.reject_status != 0) {
    return self->Fail(self->req_.reject_status, self->req_.reject_reason);
  }
  self->headers_done_ = true;
  if (wants_continue) self->sink_->OnContinue();
  return HPE_OK;
}

inline void RequestParser::CheckHead(bool http11) {
  // RFC 9112 3.2: exactly one Host in HTTP/1.1 (HTTP/1.0 may omit it), with a valid value.
  if (seen_.hosts == 1 && seen_.host == kHostUnchecked) seen_.host = JudgeHost(host_, seen_.host_len);
  if (seen_.hosts != 1 || seen_.host != kHostValid) RejectHost(http11);
  // The target forms of RFC 9112 3.2 besides a path: '*' for OPTIONS, or an http(s) URI.
  if (target_.view.empty() || target_.view[0] != '/') CheckTargetForm();
  if (seen_.rare) CheckRareFields();
}

void RequestParser::RejectHost(bool http11) {
  if (seen_.hosts == 0) {
    if (http11) Reject(400, "missing Host header");
  } else if (seen_.hosts > 1) {
    Reject(400, "more than one Host header");
  } else if (seen_.host == kHostEmpty) {
    Reject(400, "empty Host header");
  } else {
    Reject(400, "invalid Host header: must be host[:port]");
  }
}

void RequestParser::CheckTargetForm() {
  // An absolute-form target's own authority is what names the host (RFC 9112 3.2.2); Host must
  // still be there and valid, which RejectHost has seen to.
  std::string_view t = target_.view;
  std::string_view authority;
  bool https = false;
  if (t == "*") {
    if (req_.method != Method::kOptions) Reject(400, "'*' is a request target for OPTIONS only");
  } else if (!AbsoluteFormAuthority(t, &authority, &https)) {
    Reject(400, "request target must be a path or an http(s) URI");
  } else if (authority.find('@') != std::string_view::npos) {
    Reject(400, "userinfo in the request target");  // RFC 9110 4.2.4
  } else if (!ValidHostPort(authority)) {
    Reject(400, "invalid host in the request target");
  } else if (https) {
    // RFC 9110 7.4: an https resource is not served over a connection TLS does not secure. (A
    // TLS-terminating proxy in front sends the path only, as proxies do.)
    Reject(421, "https request on a plain HTTP connection");
  }
}

void RequestParser::CheckRareFields() {
  StripTrailingBlanks(&req_.if_match);
  StripTrailingBlanks(&req_.if_none_match);
  // Authorization holds one credential (RFC 9110 11.6.2); two lines would be read as one token.
  if (seen_.authorizations > 1) Reject(400, "more than one Authorization header");
  // RFC 9110 9.3.4: a PUT with Content-Range (a partial PUT) must be refused.
  if (req_.method == Method::kPut && seen_.content_range) Reject(400, "Content-Range in a PUT request");
  ReadExpectations(expect_, &seen_.continue_asked, &seen_.expect_unmet);
  if (seen_.expect_unmet) Reject(417, "unsupported expectation: only 100-continue is supported");
}

int RequestParser::OnChunkExtension(llhttp_t* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  // Extensions are ignored (RFC 9112 7.1.1), but llhttp 8.1 reads any length of them: kvd bounds
  // what a request may make it read.
  self->seen_.chunk_extension_bytes += n;
  if (self->seen_.chunk_extension_bytes > self->limits_->max_chunk_extension_bytes) {
    return self->Fail(400, "chunk extensions too long");
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

inline bool RequestParser::Deliver() {
  // llhttp_should_keep_alive, for a request (whose end never depends on the connection's): an
  // HTTP/1.1 request keeps the connection unless it says close, an HTTP/1.0 one only if it asks.
  req_.keep_alive = parser_.http_minor > 0 ? !(parser_.flags & F_CONNECTION_CLOSE)
                                           : (parser_.flags & F_CONNECTION_KEEP_ALIVE) != 0;
  in_request_ = false;
  req_.target = target_.view;
  req_.body = body_.view;
  return sink_->OnRequest(req_);
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  // Two ends of a request whose bytes no callback showed kvd: a chunked body's last line break,
  // and the request line and blank line of a request without header lines. llhttp stops right
  // after them, where Execute checks them (CheckEnd), then hands the request on.
  if ((p->flags & F_CHUNKED) || self->headers_ == 0) {
    self->seen_.end_check = true;
    return HPE_PAUSED;
  }
  return self->Deliver() ? HPE_OK : HPE_PAUSED;
}

int RequestParser::CheckRequestLineEnd(uint64_t next_line) {
  // With strict llhttp the request line is method SP+ target SP+ "HTTP/" DIGIT "." DIGIT, then CR
  // LF or a bare LF: exactly one SP before the version and a CR leave 11 bytes after the target.
  // llhttp 8.1 takes a bare LF and several spaces, which a proxy in front may read otherwise.
  if (ByteAt(next_line - 2) != '\r') return Fail(400, "bare LF ending the request line");
  uint64_t after_target = next_line - seen_.url_end;
  if (after_target == 2) return Fail(400, "request line has no HTTP/1.x version");
  if (after_target != 11) return Fail(400, "more than one space in the request line");
  return HPE_OK;
}

int RequestParser::CheckEnd(uint64_t end) {
  if (headers_ == 0) {  // request line, CRLF, CRLF
    if (ByteAt(end - 2) != '\r') return Fail(400, "bare LF ending the header section");
    return CheckRequestLineEnd(end - 2);
  }
  // chunked: the CRLF ending the trailer section (which llhttp 8.1 also takes a bare LF for)
  if (ByteAt(end - 2) != '\r') return Fail(400, "bare LF ending the chunked body");
  return HPE_OK;
}



}  // namespace kvd::http
