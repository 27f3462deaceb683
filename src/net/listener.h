// Listening sockets: one per reactor, all bound to the same address with SO_REUSEPORT so the
// kernel spreads new connections across reactors without a shared accept lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kvd::net {

// Opens a non-blocking listening socket on bind:port (port 0 picks a free port; bind the others
// to the port it got). Returns the fd, or -1 with a message in *error.
int OpenListener(const std::string& bind, uint16_t port, std::string* error);

// The port a bound socket got.
uint16_t BoundPort(int fd);

// How many sockets other than `ours` listen on bind:port, counting those on an overlapping address
// (the same one, or either the wildcard), from /proc/net/tcp and /proc/net/tcp6; *where gets the
// first one's address. SO_REUSEPORT lets any process of the same user bind a port kvd listens on,
// and the kernel would then split new connections between two caches without an error: kvd looks
// after binding and refuses to share. 0 when /proc cannot be read (nothing to go on).
size_t OthersListening(const std::string& bind, uint16_t port, const std::vector<int>& ours,
                       std::string* where);

}  // namespace kvd::net
