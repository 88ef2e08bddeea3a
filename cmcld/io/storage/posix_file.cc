#include "cmcld/io/storage/posix_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cmcl::io::storage_internal {

Status ErrnoStatus(std::string_view what, int err) {
  std::string message = std::string(what) + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) {
    return Status::PermissionDenied(std::move(message));
  }
  return Status::FailedPrecondition(std::move(message));
}

int WriteAllAt(int fd, std::string_view data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // No progress and no error: do not spin.
    done += static_cast<size_t>(n);
  }
  return 0;
}

int ReadAll(int fd, std::string& out) {
  out.clear();
  char buffer[1 << 16];
  uint64_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return 0;
    out.append(buffer, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

int FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::string_view content) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;  // Before the message allocates.
    return ErrnoStatus("cannot create " + tmp, err);
  }
  int err = WriteAllAt(fd, content, 0);
  std::string step = "cannot write " + tmp;
  if (err == 0 && ::fsync(fd) != 0) {
    err = errno;
    step = "cannot fsync " + tmp;
  }
  ::close(fd);
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    step = "cannot rename " + tmp + " to " + path;
  }
  if (err != 0) {
    ::unlink(tmp.c_str());
    return ErrnoStatus(step, err);
  }
  err = FsyncDir(dir);
  if (err != 0) return ErrnoStatus("cannot fsync directory " + dir, err);
  return Status::Ok();
}

}  // namespace cmcl::io::storage_internal
