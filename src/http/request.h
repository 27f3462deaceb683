// Request: one parsed HTTP request, as the router sees it. Its target and body are views, valid
// during RequestSink::OnRequest only: into the bytes being parsed when the request arrived in one
// read (the usual case: no copy), else into the parser's storage, which is reused from request to
// request on a connection, so steady-state parsing allocates nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvd::http {

// kOther: a method llhttp knows and kvd does not implement (PATCH, TRACE, ...): 501.
enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOptions, kOther, kCount };
// As labelled in the metrics: lower case, as Go's promhttp does ("get", ..., "other").
const char* MethodLabel(Method m);

struct Request {
  Method method = Method::kOther;
  const char* method_name = "";  // for logs and Allow decisions on kOther
  std::string_view target;       // raw request-target: path and query, not yet decoded
  std::string_view body;
  std::string authorization;     // the Authorization header's value, if any (never a trailer's)
  // The bearer token's verdict when the connection checked `authorization` as the request
  // arrived and did not keep the value (a deferred request); unset: the router checks it.
  std::optional<bool> token_ok;
  // The If-Match and If-None-Match values as sent (several field lines joined with ", ", as RFC
  // 9110 5.3 combines a list); the router evaluates them (http/validators.h).
  std::string if_match;
  std::string if_none_match;
  // Non-zero for a well-framed request that kvd refuses (a missing or bad Host, an expectation it
  // cannot meet, ...): the router answers this status with `reject_reason` and does nothing else,
  // and the connection stays open. Errors that break the framing never get here: the parser
  // stops at them and the connection closes.
  int reject_status = 0;
  const char* reject_reason = "";
  bool keep_alive = true;        // false: close the connection after answering

  void Clear() {
    target = {};
    body = {};
    authorization.clear();
    token_ok.reset();
    if_match.clear();
    if_none_match.clear();
    reject_status = 0;
    reject_reason = "";
    keep_alive = true;
  }
};

}  // namespace kvd::http
