// What the connection fuzz harnesses (connection_harness.h for HTTP, resp_harness.h for RESP)
// share: the PRNG that cuts an input into pieces, and how they find the reactor's epoll instance
// to drive a connection by hand.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace kvd::fuzz {

// splitmix64: small, deterministic, good enough to cut inputs.
struct SplitRng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t Range(size_t lo, size_t hi) { return lo + size_t(Next() % (hi - lo + 1)); }  // [lo, hi]
};

// The fd number the next descriptor will get (the lowest free one).
inline int NextFd() {
  int fd = ::dup(0);
  if (fd < 0) fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) ::close(fd);
  return fd;
}

inline bool IsEpollFd(int fd) {
  char path[64], link[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(path, link, sizeof link - 1);
  if (n <= 0) return false;
  link[n] = 0;
  return std::strcmp(link, "anon_inode:[eventpoll]") == 0;
}

}  // namespace kvd::fuzz
