// Flag spelling: users write --max-key-bytes, absl names flags max_key_bytes. Shared by kvd and
// kvbench so both accept either spelling.
#pragma once

#include <string>
#include <vector>

namespace kvd {

// Rewrites '-' to '_' in the name part of each "-flag[=value]" / "--flag[=value]" argument
// (not in values, not in argv[0], and nothing after a lone "--"). Returns argv-style pointers
// into `storage`, which must outlive them.
std::vector<char*> NormalizeFlagNames(std::vector<std::string>* storage);

}  // namespace kvd
