// StreamConnection: a client socket carrying requests and responses, the part every protocol
// shares — read what arrived (one read(2) per readiness), hand it to the protocol to parse and
// answer, and write every answer produced from one read with one write(2).
//
// Flow control: when pending output passes --max-output-bytes the protocol pauses, the bytes it
// did not parse wait in `pending_in_`, and the socket is no longer read until the client drains
// its responses, so a client that sends without reading costs bounded memory. After a protocol
// error, `Connection: close` or QUIT the rest of the input is discarded; the socket is shut for
// writing once the last response is out and kept open briefly to drain what the client still
// sends, so the client sees the response instead of a reset ("lingering close").
//
// A protocol implements Feed (parse and answer bytes), Resume (answer what it held while paused)
// and, if it has them, a stalled-request timeout, batch accounting and held memory.
//
// Thread safety: owned and used by one reactor thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "metrics/metrics.h"
#include "net/connection.h"
#include "util/buffer.h"

namespace kvd::net {

class Reactor;

class StreamConnection : public Connection {
 public:
  struct Limits {
    size_t max_output_bytes = 4 << 20;  // pending output above which reading stops
    absl::Duration idle_timeout = absl::Seconds(60);
  };

  StreamConnection(int fd, Reactor* reactor, const Limits* limits, metrics::Protocol speaks);
  ~StreamConnection() override;

  bool OnReadable() final;
  bool OnWritable() final;
  bool BeginShutdown() final;
  bool TimedOut(uint64_t now_ms) const final;

 protected:
  enum class Parsed : uint8_t {
    kAll,     // everything was parsed (a partial request is the protocol's to keep)
    kPaused,  // stopped for output backpressure after `consumed` bytes: feed the rest later
    kFailed,  // a protocol error was answered: nothing more is read or answered
  };
  struct FeedResult {
    Parsed state;
    size_t consumed;
  };
  // Parses and answers `data`, appending to out(). The bytes are the read buffer's (valid until
  // Feed returns) or, after a pause, pending input.
  virtual FeedResult Feed(const char* data, size_t n) = 0;
  // The output drained after a pause: answer what was held, and be ready to parse again. False
  // when the output is past its limit again (the pause goes on).
  virtual bool Resume() = 0;
  // The output is all written: whatever the protocol accounts per batch of answers.
  virtual void OnFlushed() {}
  // Whether a request has been coming in for too long (HTTP's --header-timeout).
  virtual bool RequestStalled(uint64_t now_ms) const { return false; }
  // Memory the protocol holds for the connection (its parser's), for kvd_connection_buffer_bytes.
  virtual size_t HeldBytes() const { return 0; }

  Reactor& reactor() { return *reactor_; }
  const Reactor& reactor() const { return *reactor_; }
  Buffer& out() { return out_; }
  // Whether more may be answered now: output under the limit, and not closing.
  bool MayAnswer() const { return !discard_input_ && out_.size() < limits_->max_output_bytes; }
  // The answer just appended is the last: discard what follows, close once it is written.
  void CloseAfterResponse();
  bool discarding() const { return discard_input_; }

 private:
  bool ReadOnce();      // one read(2), its requests and their answers
  bool ShutdownStep();  // after BeginShutdown: read what was received, then stop and close
  // Feeds bytes to the protocol; `from_pending` when they are pending_in_ itself.
  void Process(const char* data, size_t n, bool from_pending);
  bool Flush();
  void SetInterest();
  // Brings the reactor's connection_buffer_bytes up to date with this connection's buffers.
  void CountBuffers();
  bool reading() const { return !paused_ && !stop_reading_ && !lingering_; }

  Reactor* reactor_;
  const Limits* limits_;
  metrics::ConnectionMetrics* metrics_;
  Buffer out_;
  Buffer pending_in_;
  uint32_t events_ = 0;            // epoll interest currently registered
  bool paused_ = false;            // the protocol paused for output backpressure
  bool stop_reading_ = false;      // nothing more will be read (close after the output)
  bool close_after_flush_ = false;
  bool discard_input_ = false;     // after `Connection: close`, QUIT or a protocol error
  bool lingering_ = false;
  bool shutting_down_ = false;     // BeginShutdown was called
  uint64_t last_active_ms_;
  uint64_t linger_until_ms_ = 0;
  size_t counted_buffer_bytes_ = 0;  // this connection's share of connection_buffer_bytes
};

}  // namespace kvd::net
