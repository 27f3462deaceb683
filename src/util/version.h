// kvd's version: one string, set by the build (the Makefile's VERSION), for --version, /metrics'
// kvd_build_info and RESP's INFO.
#pragma once

#ifndef KVD_VERSION
#error "KVD_VERSION is set by the build: see VERSION in the Makefile"
#endif

namespace kvd {
inline constexpr const char kVersion[] = KVD_VERSION;
}  // namespace kvd
