// Rng: the only source of randomness in the core and the simulator (STYLE.md rules 10
// and 31).
//
// xoshiro256** seeded through SplitMix64, with our own Uniform and Chance, so a seed
// gives the same stream on every compiler and standard library (never use
// std::*_distribution). There is no global generator: every user is handed one.
// Fork(name) derives an independent stream from the seed and a name, without drawing
// from the parent, so adding a component never changes another component's draws.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace cmcl {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t seed() const { return seed_; }
  uint64_t Next();
  // Uniform in [0, bound). REQUIRES: bound > 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t bound);
  // Uniform in [low, high]. REQUIRES: low <= high.
  int64_t Between(int64_t low, int64_t high);
  // True with probability numerator/denominator. REQUIRES: denominator > 0.
  bool Chance(uint64_t numerator, uint64_t denominator);
  // True with probability p in [0, 1], using 53 bits (exact in IEEE double).
  bool ChanceOf(double p);
  // An independent stream named `name`, a function of (seed, name) only.
  Rng Fork(std::string_view name) const;

 private:
  uint64_t seed_;
  std::array<uint64_t, 4> state_;
};

}  // namespace cmcl
