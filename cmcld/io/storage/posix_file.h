// Small POSIX file helpers shared by StateDir and RaftStorage (internal to io/storage).
//
// Each returns 0 or the errno of the call that failed, so callers choose between a
// one-line Status (Open) and a retry (the storage thread on a full disk). EINTR is
// retried inside; a short write continues where it stopped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cmcld/core/common/status.h"

namespace cmcl::io::storage_internal {

// "state dir /x: cannot create: Permission denied" as a Status whose code fits `err`
// (EACCES and EPERM: kPermissionDenied; anything else: kFailedPrecondition, since the
// operator must fix the disk or the path before a retry can succeed).
Status ErrnoStatus(std::string_view what, int err);

// Writes all of `data` at `offset`.
int WriteAllAt(int fd, std::string_view data, uint64_t offset);
// Reads the whole file behind `fd` into `out`.
int ReadAll(int fd, std::string& out);
// fsync of the directory `dir`, so a rename or a new file in it survives a crash.
int FsyncDir(const std::string& dir);
// `dir`/`name` replaced by `content` atomically: `name`.tmp written and fsync'ed, renamed
// over `name`, then `dir` fsync'ed. On failure the tmp file is removed; the error names
// the step.
Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::string_view content);

}  // namespace cmcl::io::storage_internal
