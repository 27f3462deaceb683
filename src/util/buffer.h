// Buffer: a growable byte buffer with a consumed prefix, for a connection's pending output (and
// input kept while parsing is paused). Appends are amortised O(1); Consume() is O(1) and the
// storage is compacted only when it empties, so a partially written response costs no copy.
//
// Thread safety: none (owned by one connection).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace kvd {

class Buffer {
 public:
  const char* data() const { return buf_.data() + start_; }
  size_t size() const { return buf_.size() - start_; }
  bool empty() const { return size() == 0; }
  std::string_view view() const { return {data(), size()}; }

  void Append(std::string_view s) {
    if (!s.empty()) buf_.append(s.data(), s.size());
  }
  void Append(const char* p, size_t n) { buf_.append(p, n); }
  void Append(char c) { buf_.push_back(c); }
  // Room to write n bytes directly; call Commit(m) with how many (m <= n) were written.
  char* Reserve(size_t n) {
    used_ = buf_.size();
    buf_.resize(used_ + n);
    return buf_.data() + used_;
  }
  void Commit(size_t m) { buf_.resize(used_ + m); }

  void Consume(size_t n) {
    start_ += n;
    if (start_ == buf_.size()) Clear();
  }
  void Clear() {
    buf_.clear();
    start_ = 0;
  }
  // Gives memory back after a burst (a large value, a deep pipeline) so idle connections stay small.
  void ShrinkIfIdle(size_t keep) {
    if (empty() && buf_.capacity() > keep) std::string().swap(buf_);
  }
  size_t capacity() const { return buf_.capacity(); }

 private:
  std::string buf_;
  size_t start_ = 0;
  size_t used_ = 0;
};

}  // namespace kvd
