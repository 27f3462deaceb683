// Config: every run-time setting, parsed from the command line (absl flags) and validated once at
// start-up. Read-only after that, so any thread may read it without locks.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace kvd {

struct Config {
  std::string bind = "0.0.0.0";
  uint16_t port = 8081;
  uint16_t resp_port = 0;        // also serve RESP2 (the Redis protocol) on this port; 0: off
  size_t threads = 1;            // reactors
  size_t shards = 1;             // store shards
  uint64_t ttl_ms = 10000;
  size_t max_key_bytes = 250;    // after the leading '/'
  size_t max_value_bytes = 1 << 20;
  uint64_t max_memory = 0;
  int miss_status = 200;
  size_t max_connections = 10000;
  size_t max_header_bytes = 8192;
  size_t max_output_bytes = 4 << 20;  // per connection, before kvd stops reading from it
  absl::Duration idle_timeout = absl::Seconds(60);
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration shutdown_timeout = absl::Seconds(5);
  std::string auth_token;     // empty: no access control
  bool auth_metrics = false;  // also protect /metrics and /healthz
};

// Parses flags (and KVD_<FLAG> environment variables, which the command line overrides) into
// *config. On a bad flag value returns false with a message in *error.
// Exits the process for --help and --version (as absl does).
bool LoadConfig(int argc, char** argv, Config* config, std::string* error);

// --shards=0's count: one shard for one reactor (it takes no locks); with several, 16 a reactor
// (so that two seldom want one shard at once) as far as each keeps at least 32 MiB of max_memory,
// and never fewer than the reactors or than max_memory needs (8 GiB a shard at most).
size_t DefaultShards(size_t threads, uint64_t max_memory);

// Parses "1048576", "512K", "64M", "2G" (powers of 1024). False on anything else.
bool ParseByteSize(std::string_view text, uint64_t* out);

}  // namespace kvd
