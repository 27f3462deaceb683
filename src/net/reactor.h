// Reactor: one thread, one epoll instance, one SO_REUSEPORT listening socket, and the connections
// it accepted; in the style of Redis's ae.c, but with nothing shared between reactors except the
// store and the read-only router and config.
//
// Each loop iteration: epoll_wait (level-triggered), then per ready connection one read, all the
// requests it completes, and one write; then housekeeping (expiry, evicting ahead) for the shards this reactor
// drives (bounded work, see store/expiry_wheel.h), and once a second a sweep for timeouts.
//
// Thread safety: everything runs on the reactor's thread except RequestStop() and metrics(),
// which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "http/parser.h"
#include "http/response.h"
#include "metrics/metrics.h"
#include "http/router.h"
#include "store/store.h"

namespace kvd::net {

class Connection;

class Reactor {
 public:
  Reactor(size_t id, size_t reactors, const Config* config, store::Store* store,
          const http::Router* router, int listen_fd, std::atomic<size_t>* open_connections);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  void Start();
  void Join();
  void RequestStop();  // async-signal-safe: writes to an eventfd

  const metrics::ReactorMetrics& metrics() const { return metrics_; }

  // For connections on this reactor's thread.
  metrics::ReactorMetrics& m() { return metrics_; }
  const Config& config() const { return *config_; }
  const http::Router& router() const { return *router_; }
  const http::Limits* limits() const { return &limits_; }
  const http::DateCache& date() const { return date_; }
  uint64_t now_ms() const { return now_ms_; }
  uint64_t now_ns() const { return now_ns_; }
  bool stopping() const { return stopping_; }
  std::string* key_scratch() { return &key_scratch_; }
  char* read_buffer() { return read_buffer_.data(); }
  size_t read_buffer_size() const { return read_buffer_.size(); }
  void SetEvents(Connection* c, uint32_t events);

 private:
  void Run();
  void Accept();
  void Close(Connection* c, bool timed_out);
  void BeginStop();
  void Sweep();
  bool Housekeep();
  void Tick();

  size_t id_, reactors_;
  const Config* config_;
  store::Store* store_;
  const http::Router* router_;
  int listen_fd_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<size_t>* open_connections_;
  http::Limits limits_;
  http::DateCache date_;
  metrics::ReactorMetrics metrics_;
  std::vector<Connection*> conns_;
  std::vector<Connection*> dead_;
  std::vector<char> read_buffer_;
  std::string key_scratch_;
  std::thread thread_;
  uint64_t now_ms_ = 0, now_ns_ = 0;
  uint64_t next_sweep_ms_ = 0;
  uint64_t accept_resume_ms_ = 0;  // listener paused after EMFILE until then
  bool listening_ = false;
  bool stopping_ = false;
  uint64_t stop_deadline_ms_ = 0;
};

}  // namespace kvd::net
