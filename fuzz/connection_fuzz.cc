// libFuzzer target: arbitrary bytes, split at arbitrary points, through the real net::Connection
// and the whole request path. The checks are in connection_harness.h; built only by mk/fuzz.mk
// (`make fuzz`, clang).
#include <cstdio>
#include <cstdlib>

#include "connection_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string failure = kvd::fuzz::RunConnectionCase(data, size);
  if (!failure.empty()) {
    std::fprintf(stderr, "connection_fuzz: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
