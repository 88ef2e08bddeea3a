// The daemon's clock: CLOCK_BOOTTIME in milliseconds (DESIGN.md section 2: it keeps
// counting through suspend), the core's Time. cmcld, cmcl-guard and the drivers' records
// all use it, so a deadline cmcld computes means the same instant to the guard.
#pragma once

#include <ctime>

#include "cmcld/core/common/time.h"

namespace cmcl::io {

inline Time BootNow() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return Time::FromMilliseconds(static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000);
}

}  // namespace cmcl::io
