// kvd: wires config, store, the protocols (HTTP, and RESP with --resp-port) and one reactor per
// core, then waits for SIGTERM/SIGINT and shuts down gracefully (see net/reactor.h).
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "fmt/format.h"
#include "net/listener.h"
#include "net/reactor.h"
#include "http/connection.h"
#include "http/router.h"
#include "resp/commands.h"
#include "resp/connection.h"
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

  // One listening socket per reactor and protocol, bound with SO_REUSEPORT: the kernel spreads
  // connections over the reactors.
  // SO_REUSEPORT would as gladly let this kvd share its port with another process of the same
  // user, the kernel splitting connections between two caches: a port someone else listens on is
  // refused (a port kvd was to pick itself is picked again).
  auto open_listeners = [&](uint16_t* port, std::vector<int>* fds) {
    const uint16_t asked = *port;
    for (int attempt = 0; attempt < 8; ++attempt) {
      for (size_t i = 0; i < config.threads; ++i) {
        int fd = net::OpenListener(config.bind, *port, &error);
        if (fd < 0) return false;
        if (*port == 0) *port = net::BoundPort(fd);  // the others share the port the first one got
        fds->push_back(fd);
      }
      std::string where;
      if (net::OthersListening(config.bind, *port, *fds, &where) == 0) return true;
      error = fmt::format(
          "listen on {}:{}: Address already in use (another process listens on {}; kvd will not "
          "share a port, which would split connections between two caches)",
          config.bind, *port, where);
      for (int fd : *fds) close(fd);
      fds->clear();
      if (asked != 0) return false;
      *port = 0;
    }
    return false;
  };
  std::vector<int> http_fds, resp_fds;
  uint16_t port = config.port, resp_port = config.resp_port;
  if (!open_listeners(&port, &http_fds) || (resp_port != 0 && !open_listeners(&resp_port, &resp_fds))) {
    log::Error("{}", error);
    return 1;
  }

  // One reactor is the only thread that touches the store: it needs no locks.
  const uint64_t start_ms = MonotonicMs();
  store::Store store(config.shards, config.max_memory, start_ms, config.threads > 1);
  std::vector<const metrics::ReactorMetrics*> reactor_metrics;
  std::vector<const http::RequestStats*> http_stats;
  std::vector<const resp::CommandStats*> resp_stats;
  uint32_t etag_run = 0;
  if (getrandom(&etag_run, sizeof etag_run, 0) != sizeof etag_run) etag_run = uint32_t(MonotonicNanos());
  http::Router router(&config, &store, &reactor_metrics, &http_stats, etag_run,
                      [&resp_stats](std::string* out) { resp::AppendMetrics(resp_stats, out); });
  resp::Commands commands(&config, &store, &reactor_metrics, &resp_stats, {resp_port, start_ms});
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> resp_sessions{0};
  net::Reactor::Options options;
  options.max_connections = config.max_connections;
  options.open_connections = &open_connections;
  options.shutdown_timeout = config.shutdown_timeout;
  std::vector<std::unique_ptr<net::Reactor>> reactors;
  std::vector<std::unique_ptr<net::ConnectionFactory>> factories;
  for (size_t i = 0; i < config.threads; ++i) {
    auto r = std::make_unique<net::Reactor>(i, options);
    auto http = std::make_unique<http::ConnectionFactory>(&config, &router, r.get());
    r->AddListener(http_fds[i], http.get());
    http_stats.push_back(&http->stats());
    factories.push_back(std::move(http));
    if (resp_port != 0) {
      auto resp = std::make_unique<resp::ConnectionFactory>(&config, &commands, &resp_sessions);
      r->AddListener(resp_fds[i], resp.get());
      resp_stats.push_back(&resp->stats());
      factories.push_back(std::move(resp));
    }
    // Shard s's expiry and eviction run on reactor s % threads.
    r->AddTask(store::Store::kHousekeepPeriodMs, [&store, i, n = config.threads](uint64_t now_ms) {
      return store.HousekeepEvery(i, n, now_ms);
    });
    reactor_metrics.push_back(&r->metrics());
    reactors.push_back(std::move(r));
  }

  log::Info("cache expire time: {}ms", config.ttl_ms);
  log::Debug("{} reactors, {} shards, max memory {} bytes", config.threads, config.shards, config.max_memory);
  for (auto& r : reactors) r->Start();
  if (resp_port != 0) log::Info("Serving RESP on {} ...", resp_port);
  log::Info("Starting server on {} ...", port);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& r : reactors) r->RequestStop();
  for (auto& r : reactors) r->Join();
  log::Info("bye");
  return 0;
}
