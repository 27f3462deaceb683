// Listening sockets: one per reactor, all bound to the same address with SO_REUSEPORT so the
// kernel spreads new connections across reactors without a shared accept lock.
#pragma once

#include <cstdint>
#include <string>

namespace kvd::net {

// Opens a non-blocking listening socket on bind:port (port 0 picks a free port; bind the others
// to the port it got). Returns the fd, or -1 with a message in *error.
int OpenListener(const std::string& bind, uint16_t port, std::string* error);

// The port a bound socket got.
uint16_t BoundPort(int fd);

}  // namespace kvd::net
