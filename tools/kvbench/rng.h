// Fast, non-cryptographic pseudo-random numbers for the load generator.
//
// Contract: SplitMix64 expands one 64-bit seed into a well-mixed stream (used only for seeding);
// Xoshiro256 (xoshiro256**) is the hot-path generator: a few ns per draw, no allocation, no
// shared state. Each client thread owns its own generator, seeded from (--seed, thread index),
// so no locks are taken and runs with the same seed draw the same key sequence per thread.
#pragma once

#include <cstdint>

namespace kvbench {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t s_;
};

class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    SplitMix64 sm(seed);
    for (auto& w : s_) w = sm.Next();
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; bias < n / 2^64, negligible here).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// A Bernoulli trial with fixed probability p, decided by one draw: true with probability p.
class Coin {
 public:
  explicit Coin(double p) {
    if (p <= 0) {
      threshold_ = 0;
      always_ = false;
    } else if (p >= 1) {
      threshold_ = 0;
      always_ = true;
    } else {
      threshold_ = static_cast<uint64_t>(p * 18446744073709551616.0);  // p * 2^64
      always_ = false;
    }
  }
  bool Flip(Xoshiro256& rng) const { return always_ || rng.Next() < threshold_; }

 private:
  uint64_t threshold_;
  bool always_;
};

}  // namespace kvbench
