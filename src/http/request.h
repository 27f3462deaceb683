// Request: one parsed HTTP request, as the router sees it. Its target and body are views, valid
// during RequestSink::OnRequest only: into the bytes being parsed when the request arrived in one
// read (the usual case: no copy), else into the parser's storage, which is reused from request to
// request on a connection, so steady-state parsing allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvd::http {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOther };

struct Request {
  Method method = Method::kOther;
  const char* method_name = "";  // for logs and Allow decisions on kOther
  std::string_view target;       // raw request-target: path and query, not yet decoded
  std::string_view body;
  std::string authorization;     // the Authorization header's value, if any
  bool keep_alive = true;        // false: close the connection after answering

  void Clear() {
    target = {};
    body = {};
    authorization.clear();
    keep_alive = true;
  }
};

}  // namespace kvd::http
