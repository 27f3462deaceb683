// libFuzzer target: arbitrary bytes, split at arbitrary points, through the real
// resp::Connection and the whole command path. The checks are in resp_harness.h; built only by
// mk/fuzz.mk (`make fuzz`, clang).
#include <cstdio>
#include <cstdlib>

#include "resp_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string failure = kvd::fuzz::RunRespCase(data, size);
  if (!failure.empty()) {
    std::fprintf(stderr, "resp_fuzz: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
