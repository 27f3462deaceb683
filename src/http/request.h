// Request: one parsed HTTP request, as the router sees it. Its strings are reused from request to
// request on a connection, so steady-state parsing allocates nothing.
#pragma once

#include <cstdint>
#include <string>

namespace kvd::http {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOther };

struct Request {
  Method method = Method::kOther;
  const char* method_name = "";  // for logs and Allow decisions on kOther
  std::string target;            // raw request-target: path and query, not yet decoded
  std::string body;
  std::string authorization;     // the Authorization header's value, if any
  bool keep_alive = true;        // false: close the connection after answering

  void Clear() {
    target.clear();
    body.clear();
    authorization.clear();
    keep_alive = true;
  }
};

}  // namespace kvd::http
