#include "net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "fmt/format.h"

namespace kvd::net {

int OpenListener(const std::string& bind, uint16_t port, std::string* error) {
  sockaddr_storage addr{};
  socklen_t len;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, bind.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, bind.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    *error = fmt::format("--bind: '{}' is not an IPv4 or IPv6 address", bind);
    return -1;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = fmt::format("socket: {}", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 4096) != 0) {
    *error = fmt::format("listen on {}:{}: {}", bind, port, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

namespace {

// An address as /proc/net/tcp{,6} prints it: 32-bit words in the host's byte order, as they lie in
// the in_addr / in6_addr. Four words for IPv6, one for IPv4.
struct ProcAddr {
  bool v6 = false;
  std::array<uint32_t, 4> w{};
  bool wildcard() const { return w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0; }
  bool operator==(const ProcAddr& o) const { return v6 == o.v6 && w == o.w; }
};

bool ParseBind(const std::string& bind, ProcAddr* out) {
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, bind.c_str(), &a4) == 1) {
    out->v6 = false;
    std::memcpy(&out->w[0], &a4, 4);
    return true;
  }
  if (inet_pton(AF_INET6, bind.c_str(), &a6) == 1) {
    out->v6 = true;
    std::memcpy(out->w.data(), &a6, 16);
    return true;
  }
  return false;
}

// "0100007F:1F90" (or 32 hex digits before the colon for IPv6).
bool ParseProcEndpoint(const std::string& s, bool v6, ProcAddr* addr, uint16_t* port) {
  const size_t hex = v6 ? 32 : 8;
  if (s.size() != hex + 5 || s[hex] != ':') return false;
  addr->v6 = v6;
  addr->w = {};
  const absl::string_view v(s);
  for (size_t i = 0; i < hex / 8; ++i) {
    if (!absl::SimpleHexAtoi(v.substr(8 * i, 8), &addr->w[i])) return false;
  }
  uint32_t p = 0;
  if (!absl::SimpleHexAtoi(v.substr(hex + 1), &p) || p > 0xffff) return false;
  *port = uint16_t(p);
  return true;
}

// Whether connections to one address could reach a socket bound to the other: the same address,
// or a wildcard of the same family, or the IPv6 wildcard (which takes IPv4 too, unless V6ONLY).
bool Overlap(const ProcAddr& a, const ProcAddr& b) {
  if (a.v6 == b.v6) return a == b || a.wildcard() || b.wildcard();
  const ProcAddr& six = a.v6 ? a : b;
  return six.wildcard();
}

std::string Show(const ProcAddr& a, uint16_t port) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.w.data(), text, sizeof text);
  return a.v6 ? fmt::format("[{}]:{}", text, port) : fmt::format("{}:{}", text, port);
}

}  // namespace

size_t OthersListening(const std::string& bind, uint16_t port, const std::vector<int>& ours,
                       std::string* where) {
  ProcAddr mine;
  if (!ParseBind(bind, &mine)) return 0;
  std::vector<unsigned long> inodes;
  for (int fd : ours) {
    struct stat st;
    if (fstat(fd, &st) == 0) inodes.push_back(st.st_ino);
  }
  size_t others = 0;
  for (bool v6 : {false, true}) {
    std::ifstream table(v6 ? "/proc/net/tcp6" : "/proc/net/tcp");
    std::string line;
    std::getline(table, line);  // the column names
    while (std::getline(table, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long inode = 0;
      if (!(fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode)) {
        continue;
      }
      ProcAddr addr;
      uint16_t p = 0;
      if (state != "0A" || !ParseProcEndpoint(local, v6, &addr, &p) || p != port) continue;  // 0A: LISTEN
      if (!Overlap(addr, mine) || std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) continue;
      if (others++ == 0) *where = Show(addr, p);
    }
  }
  return others;
}

}  // namespace kvd::net
