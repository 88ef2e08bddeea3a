#include "cmcld/io/guest/package_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;

void RotateIfDue(const PackageLogOptions& options, const std::string& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error || size < options.max_bytes) return;
  if (options.keep <= 0) {
    fs::remove(path, error);
    return;
  }
  fs::remove(path + "." + std::to_string(options.keep), error);
  for (int i = options.keep - 1; i >= 1; --i) {
    fs::rename(path + "." + std::to_string(i), path + "." + std::to_string(i + 1), error);
  }
  fs::rename(path, path + ".1", error);
}

}  // namespace

std::string PackageLogPath(const std::string& state_dir, const std::string& package) {
  return state_dir + "/log/" + package + ".log";
}

Result<int> OpenPackageLog(const PackageLogOptions& options, const std::string& package,
                           const std::string& header) {
  std::error_code error;
  fs::create_directories(options.state_dir + "/log", error);
  if (error) return Status::Unavailable("cannot create the log folder: " + error.message());
  const std::string path = PackageLogPath(options.state_dir, package);
  RotateIfDue(options, path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Status::Unavailable(path + ": " + std::strerror(errno));
  const std::string line = header + "\n";
  // A short write of the header is not worth failing the action for.
  [[maybe_unused]] const ssize_t written = ::write(fd, line.data(), line.size());
  return fd;
}

std::string UtcTimestampNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace cmcl::io
