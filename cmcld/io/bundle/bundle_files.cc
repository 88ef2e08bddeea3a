#include "cmcld/io/bundle/bundle_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "cmcld/io/bundle/bundle.h"

namespace cmcl::io::bundle_internal {
namespace {

namespace fs = std::filesystem;

// Deeper than any sensible package folder; a loop of folders cannot get through stat
// without symlinks, but a bound keeps the recursion honest.
constexpr int kDepthMax = 32;

Status Refuse(const fs::path& path, const std::string& why) {
  return Status::FailedPrecondition("bundle: " + path.string() + " " + why);
}

std::string Describe(const struct stat& info) {
  if (S_ISLNK(info.st_mode)) return "is a symbolic link";
  if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode)) return "is a device file";
  if (S_ISFIFO(info.st_mode)) return "is a fifo";
  if (S_ISSOCK(info.st_mode)) return "is a socket";
  return "is not a regular file or folder";
}

Status ListRecursive(const fs::path& folder, const std::string& prefix, int depth,
                     std::vector<SourceFile>* out) {
  if (depth > kDepthMax) {
    return Refuse(folder, "is nested more than " + std::to_string(kDepthMax) + " folders deep");
  }
  std::error_code error;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    entries.push_back(it->path());
  }
  if (error) return Refuse(folder, "cannot be listed: " + error.message());
  std::sort(entries.begin(), entries.end());  // Deterministic errors, too.
  for (const fs::path& entry : entries) {
    const std::string name = entry.filename().string();
    if (!IsValidComponent(name)) {
      return Refuse(entry, "has a name a bundle cannot hold (not valid UTF-8, or a control "
                           "character)");
    }
    struct stat info {};
    if (::lstat(entry.c_str(), &info) != 0) {
      return Refuse(entry, std::string("cannot be read: ") + std::strerror(errno));
    }
    const std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (S_ISDIR(info.st_mode)) {
      if (Status listed = ListRecursive(entry, path, depth + 1, out); !listed.ok()) return listed;
      continue;
    }
    if (!S_ISREG(info.st_mode)) {
      return Refuse(entry, Describe(info) + "; a bundle holds only regular files and folders");
    }
    if (out->size() >= kBundleFilesMax) {
      return Status::FailedPrecondition("bundle has more than " +
                                        std::to_string(kBundleFilesMax) +
                                        " files; at most " + std::to_string(kBundleFilesMax) +
                                        " files in all (reached at " + entry.string() + ")");
    }
    out->push_back({path, entry, static_cast<uint32_t>(info.st_mode & 0777),
                    static_cast<uint64_t>(info.st_size)});
  }
  return Status::Ok();
}

// Whether `text` is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF) without
// control characters.
bool IsCleanUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if (byte < 0x20 || byte == 0x7f) return false;
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if ((byte & 0xe0) == 0xc0) {
      length = 2;
      code = byte & 0x1fU;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3;
      code = byte & 0x0fU;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4;
      code = byte & 0x07U;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3fU);
    }
    constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kShortest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    if (code >= 0x80 && code < 0xa0) return false;  // C1 control characters.
    i += length;
  }
  return true;
}

}  // namespace

Status ListFolder(const fs::path& folder, const std::string& prefix,
                  std::vector<SourceFile>* out) {
  return ListRecursive(folder, prefix, 0, out);
}

Result<std::string> ReadRegularFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Refuse(path, std::string("cannot be read: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Refuse(path, "is not a regular file");
  }
  std::string bytes;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int saved = errno;
      ::close(fd);
      return Refuse(path, std::string("cannot be read: ") + std::strerror(saved));
    }
    if (got == 0) break;
    bytes.append(buffer, static_cast<size_t>(got));
    if (bytes.size() > kBundleBytesMax) {  // It grew past any bundle while being read.
      ::close(fd);
      return Refuse(path, "is larger than a whole bundle may be (" +
                              FormatBytes(kBundleBytesMax) + ")");
    }
  }
  ::close(fd);
  return bytes;
}

bool IsValidComponent(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && IsCleanUtf8(name);
}

std::string FormatBytes(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = kKiB * 1024;
  if (bytes < kKiB) return std::to_string(bytes) + " bytes";
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  char text[32];
  const bool mebi = bytes >= kMiB;
  std::snprintf(text, sizeof(text), "%.1f %s",
                static_cast<double>(bytes) / static_cast<double>(mebi ? kMiB : kKiB),
                mebi ? "MiB" : "KiB");
  return text;
}

}  // namespace cmcl::io::bundle_internal
