// The benchmark's configuration and the requests it sends (autocannon-go's workload).
//
// Workload: every pipeline slot of a connection repeatedly sends `GET <prefix>/<key>`; when its
// response arrives, with probability post_ratio the slot next sends
// `<set_method> <prefix>/<other key>` whose body is that GET's response body parsed as an integer
// plus one ("1" when the body was empty or not an integer), then goes back to GETs. With the default
// 0.25 that is 80% GET / 20% POST. Keys are uniform in [0, keys) and written in decimal.
//
// RequestWriter formats those requests into caller-provided memory: no allocation, no library
// calls; the fixed parts are copied in whole 16-byte blocks from padded templates (a few inline
// vector moves instead of memcpy calls), so a Write*() may scribble up to 15 bytes past the
// request it returns (within max_request_bytes(); the next request overwrites them). With value_bytes > 0 a POST body is exactly value_bytes long: the
// number left-padded with zeros (keeping its last value_bytes characters if it is longer), so it
// still parses back as the same integer (modulo 10^value_bytes).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace kvbench {

// Where to send requests, from --uri (http://host[:port][/prefix]).
struct Target {
  std::string uri;          // as given
  std::string host;         // host as written in the URI (IPv6 without brackets)
  uint16_t port = 80;
  std::string host_header;  // value of the Host header ("host:port")
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
  sockaddr_storage addr{};  // resolved address
  socklen_t addr_len = 0;
};

// Parses an http:// URI. Returns false and sets *error when it is not one kvbench can use.
bool ParseUri(const std::string& uri, Target* out, std::string* error);
// Resolves out->host (numeric or by name) into out->addr. Returns false and sets *error on failure.
bool ResolveTarget(Target* out, std::string* error);

struct Config {
  Target target;
  int threads = 1;
  int connections = 20;
  int pipelining = 10;
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::ZeroDuration();
  absl::Duration timeout = absl::Seconds(10);
  uint64_t keys = 1000000;
  double post_ratio = 0.25;
  size_t value_bytes = 0;
  std::string set_method = "POST";
  std::string auth_token;  // sent as "Authorization: Bearer <token>" on every request, if set
  uint64_t seed = 1;
};

// Writes the decimal form of v at out (exactly its digits); returns their number (at most 20).
size_t WriteDecimal(char* out, uint64_t v);

class RequestWriter {
 public:
  explicit RequestWriter(const Config& config);
  // Upper bound of the bytes any Write*() call writes (its request plus scratch).
  size_t max_request_bytes() const { return max_bytes_; }
  // Each writes one complete request at out (room for max_request_bytes()); returns its length.
  size_t WriteGet(char* out, uint64_t key) const;
  size_t WriteSet(char* out, uint64_t key, int64_t value) const;
  // The body WriteSet() sends for `value` (for tests and the report).
  std::string Body(int64_t value) const;

 private:
  // A fixed part of the requests, zero-padded to whole 16-byte blocks.
  struct Piece {
    std::string padded;
    size_t size = 0;
    Piece() = default;
    explicit Piece(std::string s);
  };
  // Copies the piece at out in whole blocks; returns out + its size.
  static char* Put(char* out, const Piece& piece);
  size_t WriteBody(char* out, int64_t value) const;

  Piece get_prefix_;   // "GET <prefix>/"
  Piece get_suffix_;   // " HTTP/1.1\r\nHost: h\r\n[Authorization: ...\r\n]\r\n"
  Piece set_prefix_;   // "POST <prefix>/"
  Piece set_suffix_;   // " HTTP/1.1\r\nHost: h\r\nContent-Length: " (+ "N\r\n\r\n" if fixed)
  size_t value_bytes_ = 0;
  size_t max_bytes_ = 0;
};

}  // namespace kvbench
