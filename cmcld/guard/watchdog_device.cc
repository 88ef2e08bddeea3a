#include "cmcld/guard/watchdog_device.h"

#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cmcld/io/clock.h"

namespace cmcl::guard {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

class LinuxWatchdog final : public WatchdogDevice {
 public:
  ~LinuxWatchdog() override {
    // Only a clean exit gets here; a dying guard never runs it, and the device fires.
    Close();
  }

  Result<Duration> Open(const std::string& path, int seconds) override {
    Close();
    path_ = path;
    // Refuse a path that is not a character device before open(2): a regular file given
    // by mistake is never written to.
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return Status::FailedPrecondition(Errno(path));
    if (!S_ISCHR(info.st_mode)) {
      return Status::FailedPrecondition(path +
                                        " is not a watchdog device (not a character device)");
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) return Status::FailedPrecondition(Errno("cannot open " + path));
    watchdog_info support{};
    if (::ioctl(fd_, WDIOC_GETSUPPORT, &support) != 0) {
      const std::string why = Errno(path + " is not a watchdog device (WDIOC_GETSUPPORT)");
      Close();
      return Status::FailedPrecondition(why);
    }
    Result<Duration> granted = SetTimeout(seconds);
    if (!granted.ok()) Close();
    return granted;
  }

  Result<Duration> SetTimeout(int seconds) override {
    if (fd_ < 0) return Status::FailedPrecondition("watchdog device is not open");
    int asked = seconds;
    // A driver that cannot set a timeout keeps its own; WDIOC_GETTIMEOUT says which.
    const bool set = ::ioctl(fd_, WDIOC_SETTIMEOUT, &asked) == 0;
    const int set_errno = errno;
    int timeout = 0;
    if (::ioctl(fd_, WDIOC_GETTIMEOUT, &timeout) != 0 || timeout <= 0) {
      errno = set ? errno : set_errno;
      return Status::FailedPrecondition(
          Errno("cannot read the timeout of " + path_ + " (WDIOC_GETTIMEOUT)"));
    }
    return Duration(std::chrono::seconds(timeout));
  }

  Status Pet() override {
    if (fd_ < 0) return Status::FailedPrecondition("watchdog device is not open");
    int dummy = 0;
    if (::ioctl(fd_, WDIOC_KEEPALIVE, &dummy) == 0) return Status::Ok();
    // Every watchdog driver also takes a write as a keepalive (not a 'V': that would
    // arm the magic close).
    if (::write(fd_, "\0", 1) == 1) return Status::Ok();
    return Status::Internal(Errno("cannot pet " + path_));
  }

  void Close() override {
    if (fd_ < 0) return;
    [[maybe_unused]] const ssize_t written = ::write(fd_, "V", 1);
    ::close(fd_);
    fd_ = -1;
  }

  bool is_open() const override { return fd_ >= 0; }

  void Reset(const std::string& /*why*/) override {
    // sysrq 'b': immediate reboot without syncing or unmounting; works whatever
    // kernel.sysrq says (that setting is for the keyboard).
    const int trigger = ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    if (trigger >= 0) {
      [[maybe_unused]] const ssize_t written = ::write(trigger, "b", 1);
      ::close(trigger);
    }
    ::reboot(RB_AUTOBOOT);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class RecordingWatchdog final : public WatchdogDevice {
 public:
  RecordingWatchdog(std::string record_path, std::optional<int> grant_seconds)
      : record_path_(std::move(record_path)), grant_seconds_(grant_seconds) {}
  ~RecordingWatchdog() override { Close(); }

  Result<Duration> Open(const std::string& path, int seconds) override {
    Record("open " + path + " " + std::to_string(seconds));
    open_ = true;
    return Duration(std::chrono::seconds(grant_seconds_.value_or(seconds)));
  }
  Result<Duration> SetTimeout(int seconds) override {
    Record("timeout " + std::to_string(seconds));
    return Duration(std::chrono::seconds(grant_seconds_.value_or(seconds)));
  }
  Status Pet() override {
    Record("pet");
    return Status::Ok();
  }
  void Close() override {
    if (!open_) return;
    Record("close");
    open_ = false;
  }
  bool is_open() const override { return open_; }
  void Reset(const std::string& why) override { Record("reset " + why); }

 private:
  void Record(const std::string& what) const {
    const std::string line = std::to_string(io::BootNow().milliseconds()) + " " + what + "\n";
    const int fd = ::open(record_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    [[maybe_unused]] const ssize_t written = ::write(fd, line.data(), line.size());
    ::close(fd);
  }

  std::string record_path_;
  std::optional<int> grant_seconds_;
  bool open_ = false;
};

}  // namespace

std::unique_ptr<WatchdogDevice> WatchdogDevice::Linux() {
  return std::make_unique<LinuxWatchdog>();
}

std::unique_ptr<WatchdogDevice> WatchdogDevice::Recording(std::string record_path,
                                                          std::optional<int> grant_seconds) {
  return std::make_unique<RecordingWatchdog>(std::move(record_path), grant_seconds);
}

}  // namespace cmcl::guard
