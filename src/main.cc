// kvd: wires config, store, router and one reactor per core, then waits for SIGTERM/SIGINT and
// shuts down gracefully (see net/reactor.h).
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <atomic>
#include <memory>
#include <vector>

#include "config/config.h"
#include "net/listener.h"
#include "net/reactor.h"
#include "http/router.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

using namespace kvd;

namespace {

// Room for --max-connections plus listeners, epoll and eventfds.
void RaiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  std::string error;
  if (!LoadConfig(argc, argv, &config, &error)) {
    log::Error("{}", error);
    return 2;
  }
  RaiseFileLimit();

  // Signals are taken synchronously by this thread (sigwait); reactors inherit the blocked mask.
  // SIGPIPE is ignored so a client that vanishes mid-write only yields EPIPE.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::vector<int> listeners;
  uint16_t port = config.port;
  for (size_t i = 0; i < config.threads; ++i) {
    int fd = net::OpenListener(config.bind, port, &error);
    if (fd < 0) {
      log::Error("{}", error);
      return 1;
    }
    if (port == 0) port = net::BoundPort(fd);  // the others share the port the first one got
    listeners.push_back(fd);
  }

  // One reactor is the only thread that touches the store: it needs no locks.
  store::Store store(config.shards, config.max_memory, MonotonicMs(), config.threads > 1);
  std::vector<const metrics::ReactorMetrics*> reactor_metrics;
  uint32_t etag_run = 0;
  if (getrandom(&etag_run, sizeof etag_run, 0) != sizeof etag_run) etag_run = uint32_t(MonotonicNanos());
  http::Router router(&config, &store, &reactor_metrics, etag_run);
  std::atomic<size_t> open_connections{0};
  std::vector<std::unique_ptr<net::Reactor>> reactors;
  for (size_t i = 0; i < config.threads; ++i) {
    reactors.push_back(std::make_unique<net::Reactor>(i, config.threads, &config, &store, &router,
                                                      listeners[i], &open_connections));
    reactor_metrics.push_back(&reactors.back()->metrics());
  }

  log::Info("cache expire time: {}ms", config.ttl_ms);
  log::Debug("{} reactors, {} shards, max memory {} bytes", config.threads, config.shards, config.max_memory);
  for (auto& r : reactors) r->Start();
  log::Info("Starting server on {} ...", port);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& r : reactors) r->RequestStop();
  for (auto& r : reactors) r->Join();
  log::Info("bye");
  return 0;
}
