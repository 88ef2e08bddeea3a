// PackageLog: STATE_DIR/log/PACKAGE.log, where every script and driver call of a package
// writes its stdout and stderr (DESIGN.md section 5), one header line per action.
//
// Rotation happens only between actions, when a new one opens the log: once the file
// has reached `max_bytes` it becomes PACKAGE.log.1, .1 becomes .2 and so on, and files
// past `.keep` are removed. A script writing more than max_bytes in one action is not
// cut off (its descriptor is already open); the next action rotates.
#pragma once

#include <cstdint>
#include <string>

#include "cmcld/core/common/status.h"

namespace cmcl::io {

struct PackageLogOptions {
  std::string state_dir;
  uint64_t max_bytes = 1U << 20;
  int keep = 3;  // Rotated files kept (PACKAGE.log.1 ... .keep); 0 = none.
};

// The path of `package`'s log.
std::string PackageLogPath(const std::string& state_dir, const std::string& package);

// Rotates if due, opens the log for appending (O_CLOEXEC), writes `header` plus a newline
// and returns the descriptor; the caller closes it.
Result<int> OpenPackageLog(const PackageLogOptions& options, const std::string& package,
                           const std::string& header);

// "2026-11-26T07:00:00Z": the wall clock, for header lines only.
std::string UtcTimestampNow();

}  // namespace cmcl::io
