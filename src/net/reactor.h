// Reactor: one thread, one epoll instance, its listening sockets (each with the factory that makes
// its connections) and the connections they accepted; in the style of Redis's ae.c: the loop
// knows file descriptors, readiness and callbacks (net::Connection), nothing of protocols or the
// store.
//
// Each loop iteration: epoll_wait (level-triggered); the clock is read once; the tasks registered
// to run at every wake-up (a protocol's cached Date) run; then per ready connection its
// callbacks; then the periodic tasks that are due (the store's housekeeping), and once a second a
// sweep asking every connection whether a timeout ran out. A task that has work left makes the
// next wait return at once, so I/O is served between its slices.
//
// Thread safety: everything runs on the reactor's thread except RequestStop() and metrics(),
// which any thread may call. AddListener and AddTask are for before Start().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "metrics/metrics.h"
#include "net/connection.h"

namespace kvd::net {

class Reactor {
 public:
  struct Options {
    size_t max_connections = 10000;                  // across every reactor: see open_connections
    std::atomic<size_t>* open_connections = nullptr;  // shared by all reactors
    absl::Duration shutdown_timeout = absl::Seconds(5);
  };

  Reactor(size_t id, const Options& options);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Serves a listening socket (which the reactor then owns), its connections made by factory
  // (which must outlive the reactor).
  void AddListener(int fd, ConnectionFactory* factory);
  // A task run on the reactor's thread with the loop's clock: every `period_ms` (0: at every
  // wake-up, before any connection is served), and again at once while it returns false (work
  // left).
  void AddTask(uint64_t period_ms, std::function<bool(uint64_t now_ms)> run);

  void Start();
  void Join();
  void RequestStop();  // async-signal-safe: writes to an eventfd

  size_t id() const { return id_; }
  const metrics::ReactorMetrics& metrics() const { return metrics_; }

  // For connections, on the reactor's thread.
  metrics::ReactorMetrics& m() { return metrics_; }
  uint64_t now_ms() const { return now_ms_; }
  uint64_t now_ns() const { return now_ns_; }
  bool stopping() const { return stopping_; }
  char* read_buffer() { return read_buffer_.data(); }
  size_t read_buffer_size() const { return read_buffer_.size(); }
  void SetEvents(Connection* c, uint32_t events);

 private:
  struct Listening {
    int fd;
    ConnectionFactory* factory;
    bool watched;  // in the epoll set (not while paused after EMFILE, nor once stopping)
  };
  struct Task {
    uint64_t period_ms;
    std::function<bool(uint64_t)> run;
    uint64_t next_ms = 0;
  };

  void Run();
  void Accept(Listening* l);
  void Close(Connection* c, bool timed_out);
  void BeginStop();
  void Sweep();
  void Tick();
  // Runs the periodic tasks that are due; returns the time of the next one.
  uint64_t RunTasks();
  void WatchListeners(bool on);

  size_t id_;
  Options options_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<Listening> listeners_;
  std::vector<Task> wake_tasks_, periodic_tasks_;
  metrics::ReactorMetrics metrics_;
  std::vector<Connection*> conns_;
  std::vector<Connection*> dead_;
  std::vector<char> read_buffer_;
  std::thread thread_;
  uint64_t now_ms_ = 0, now_ns_ = 0;
  uint64_t next_sweep_ms_ = 0;
  uint64_t accept_resume_ms_ = 0;  // listeners paused after EMFILE until then
  bool accept_paused_ = false;
  bool stopping_ = false;
  uint64_t stop_deadline_ms_ = 0;
};

}  // namespace kvd::net
