#include "util/flag_names.h"

namespace kvd {

std::vector<char*> NormalizeFlagNames(std::vector<std::string>* storage) {
  std::vector<char*> out;
  bool flags = true;
  for (size_t i = 0; i < storage->size(); ++i) {
    std::string& a = (*storage)[i];
    if (a == "--") flags = false;
    if (flags && i > 0 && a.size() > 1 && a[0] == '-') {
      size_t start = a[1] == '-' ? 2 : 1;
      for (size_t k = start; k < a.size() && a[k] != '='; ++k) {
        if (a[k] == '-') a[k] = '_';
      }
    }
    out.push_back(a.data());
  }
  return out;
}

}  // namespace kvd
