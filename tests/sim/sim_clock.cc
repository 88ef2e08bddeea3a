#include "tests/sim/sim_clock.h"

#include <algorithm>

#include "cmcld/core/common/check.h"

namespace cmcl::sim {
namespace {

constexpr int64_t kNanosPerMs = 1'000'000;

int64_t FloorDiv(int64_t a, int64_t b) {  // b > 0
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t CeilDiv(int64_t a, int64_t b) {  // b > 0
  const int64_t q = a / b;
  return (a % b != 0 && a > 0) ? q + 1 : q;
}

}  // namespace

SimClock::SimClock(Time start, Time offset, int64_t drift_ppm)
    : anchor_true_ms_(start.milliseconds()),
      anchor_local_ns_(offset.milliseconds() * kNanosPerMs),
      drift_ppm_(drift_ppm) {
  CMCL_CHECK(drift_ppm > -kNanosPerMs / 2 && drift_ppm < kNanosPerMs / 2)
      << "clock drift " << drift_ppm << "ppm is not a clock";
}

int64_t SimClock::LocalNanos(Time real) const {
  // One true millisecond is 10^6 + drift_ppm local nanoseconds.
  return anchor_local_ns_ + (real.milliseconds() - anchor_true_ms_) * (kNanosPerMs + drift_ppm_);
}

Time SimClock::Peek(Time real) const {
  return Time::FromMilliseconds(FloorDiv(LocalNanos(real), kNanosPerMs));
}

Time SimClock::Read(Time real) {
  const Time local = Peek(real);
  CMCL_CHECK(local.milliseconds() >= last_read_ms_)
      << "simulated clock went backwards: " << local << " after " << last_read_ms_ << "ms";
  last_read_ms_ = local.milliseconds();
  return local;
}

Time SimClock::TrueTimeFor(Time local, Time real_now) const {
  const int64_t wanted_ns = local.milliseconds() * kNanosPerMs;
  const int64_t t =
      anchor_true_ms_ + CeilDiv(wanted_ns - anchor_local_ns_, kNanosPerMs + drift_ppm_);
  return Time::FromMilliseconds(std::max(t, real_now.milliseconds()));
}

void SimClock::SetDrift(Time real, int64_t drift_ppm) {
  CMCL_CHECK(drift_ppm > -kNanosPerMs / 2 && drift_ppm < kNanosPerMs / 2);
  anchor_local_ns_ = LocalNanos(real);
  anchor_true_ms_ = real.milliseconds();
  drift_ppm_ = drift_ppm;
}

}  // namespace cmcl::sim
