#include "cmcld/core/common/rng.h"

#include "cmcld/core/common/check.h"

namespace cmcl {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  x += 0x9e3779b97f4a7c15ULL;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t RotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// FNV-1a, 64 bit: a stable hash of a stream name.
uint64_t HashName(std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

Rng::Rng(uint64_t seed) : seed_(seed) {
  uint64_t x = seed;
  for (uint64_t& word : state_) word = SplitMix64(x);
}

uint64_t Rng::Next() {
  const uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = RotateLeft(state_[3], 45);
  return result;
}

uint64_t Rng::Uniform(uint64_t bound) {
  CMCL_CHECK(bound > 0) << "Uniform(0)";
  // Reject the top partial block so every value is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  uint64_t x = Next();
  while (x >= limit) x = Next();
  return x % bound;
}

int64_t Rng::Between(int64_t low, int64_t high) {
  CMCL_CHECK(low <= high) << "Between(" << low << ", " << high << ")";
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) + 1;
  if (span == 0) return static_cast<int64_t>(Next());  // The whole int64 range.
  return static_cast<int64_t>(static_cast<uint64_t>(low) + Uniform(span));
}

bool Rng::Chance(uint64_t numerator, uint64_t denominator) {
  CMCL_CHECK(denominator > 0) << "Chance(_, 0)";
  return Uniform(denominator) < numerator;
}

bool Rng::ChanceOf(double p) {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  const double x = static_cast<double>(Next() >> 11) * 0x1.0p-53;
  return x < p;
}

Rng Rng::Fork(std::string_view name) const {
  uint64_t x = seed_ ^ HashName(name);
  return Rng(SplitMix64(x));
}

}  // namespace cmcl
