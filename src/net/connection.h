// Connection and ConnectionFactory: what a reactor knows of the sockets it serves. In the spirit of
// Redis's ae.c file events, the reactor holds a descriptor, the events it waits for, and these
// callbacks; what the bytes mean (HTTP, RESP) is the implementation's.
//
// Thread safety: a connection is created, driven and destroyed on its reactor's thread only. A
// factory belongs to one reactor too.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "metrics/metrics.h"

namespace kvd::net {

class Reactor;

class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  virtual ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Readiness. Each returns false when the connection is finished: the reactor then destroys it.
  virtual bool OnReadable() = 0;
  virtual bool OnWritable() = 0;
  // Graceful shutdown: answer what was received, read nothing more, then close. False: close now.
  virtual bool BeginShutdown() = 0;
  // Whether a timeout has run out at now_ms (idle, a stalled request, lingering close). The
  // reactor asks once a second.
  virtual bool TimedOut(uint64_t now_ms) const = 0;

  int fd() const { return fd_; }
  // The reactor's: position in its connection list; its factory's protocol (for the open gauge);
  // destroyed at the end of the current loop iteration.
  size_t index = 0;
  metrics::Protocol protocol = metrics::Protocol::kHttp;
  bool closed = false;

 protected:
  const int fd_;
};

// Makes the connections of one listening socket, on one reactor.
class ConnectionFactory {
 public:
  virtual ~ConnectionFactory() = default;
  // A connection for an accepted socket, which it then owns.
  virtual Connection* Accept(int fd, Reactor* reactor) = 0;
  // The protocol, for the metrics the reactor keeps (accepted and open connections).
  virtual metrics::Protocol protocol() const = 0;
};

}  // namespace kvd::net
