#include "cmcld/guard/guard_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmcld/io/clock.h"

namespace cmcl::guard {

GuardLog::~GuardLog() {
  if (fd_ > 2) ::close(fd_);
}

bool GuardLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
  return true;
}

void GuardLog::Line(std::string_view text) const {
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  tm utc{};
  gmtime_r(&wall.tv_sec, &utc);
  char stamp[64];
  const int stamp_size =
      std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ boot=%lldms ",
                    utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                    utc.tm_sec, static_cast<int>(wall.tv_nsec / 1'000'000),
                    static_cast<long long>(io::BootNow().milliseconds()));
  std::string line(stamp, static_cast<size_t>(stamp_size > 0 ? stamp_size : 0));
  line.append(text);
  line.push_back('\n');
  // A log that cannot be written must not stop a fence: the result is ignored.
  [[maybe_unused]] const ssize_t written = ::write(fd_, line.data(), line.size());
}

}  // namespace cmcl::guard
