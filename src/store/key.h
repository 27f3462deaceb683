// The store's key: its bytes and their hash, computed once per request (Store picks the shard from
// the hash and the shard's table probes with it). A key is 1..kMaxKeyLen bytes, any bytes; HTTP's
// is the path without its '/', RESP's the key itself, so both name the same entries.
//
// Thread safety: values.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "absl/hash/hash.h"

namespace kvd::store {

// The table's hash of a key: absl's own string hash. Debian's Abseil has its own string_view type,
// and absl::Hash of a std::string_view falls back to std::hash (an out-of-line murmur hash, then
// absl's mix on top), which costs about twice as much for short keys.
inline size_t HashKey(std::string_view k) {
  return absl::Hash<absl::string_view>{}(absl::string_view(k.data(), k.size()));
}

// A key with its hash, computed once per request: Store picks the shard from it and the table
// probes with it. Converts implicitly from a string_view (hashing it) for callers that have no
// hash yet.
struct HashedKey {
  HashedKey() = default;  // the empty key, for "none"
  template <class S, class = std::enable_if_t<std::is_convertible_v<const S&, std::string_view>>>
  HashedKey(const S& k)  // NOLINT: implicit on purpose
      : key(k), hash(HashKey(key)) {}
  HashedKey(std::string_view k, size_t h) : key(k), hash(h) {}
  std::string_view key;
  size_t hash = 0;
};

}  // namespace kvd::store
