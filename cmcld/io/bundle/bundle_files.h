// The file-system side shared by building a bundle and reading a materialized one back
// (internal to io/bundle): list a folder's regular files without following anything,
// refusing what a bundle cannot hold, and read one file whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/status.h"

namespace cmcl::io::bundle_internal {

// A regular file found on disk, not read yet.
struct SourceFile {
  std::string path;  // In the bundle: "packages/hpvm1/run.sh".
  std::filesystem::path source;
  uint32_t mode = 0;  // Permission bits.
  uint64_t size = 0;
};

// Appends every regular file under `folder` as PREFIX/RELATIVE (PREFIX empty: RELATIVE).
// Refuses, naming the path, symbolic links, devices, sockets, fifos, names that are not
// valid path components and more than kBundleFilesMax files in `out`.
Status ListFolder(const std::filesystem::path& folder, const std::string& prefix,
                  std::vector<SourceFile>* out);

// The whole of a regular file (not following a symbolic link).
Result<std::string> ReadRegularFile(const std::filesystem::path& path);

// Whether `name` may be one component of a bundle path: valid UTF-8 without control
// characters or '/', not empty, "." or "..", at most 255 bytes.
bool IsValidComponent(std::string_view name);

// "9.1 MiB", "12.0 KiB", "300 bytes".
std::string FormatBytes(uint64_t bytes);

}  // namespace cmcl::io::bundle_internal
