#include "cmcld/io/runtime/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace cmcl::io {
namespace {

std::string TakeEnv(const char* name) {
  const char* value = std::getenv(name);
  std::string taken = value != nullptr ? value : "";
  ::unsetenv(name);
  return taken;
}

// "30000000" -> 30 s; nullopt when empty, not a positive number, or meant for another pid.
std::optional<std::chrono::microseconds> WatchdogInterval(const std::string& usec,
                                                          const std::string& pid) {
  if (usec.empty() || usec.find_first_not_of("0123456789") != std::string::npos ||
      usec.size() > 18) {
    return std::nullopt;
  }
  if (!pid.empty() && pid != std::to_string(::getpid())) return std::nullopt;
  const long long value = std::stoll(usec);
  if (value <= 0) return std::nullopt;
  return std::chrono::microseconds(value / 2);
}

}  // namespace

std::unique_ptr<SystemdNotifier> SystemdNotifier::FromEnvironment() {
  std::string address = TakeEnv("NOTIFY_SOCKET");
  const std::string usec = TakeEnv("WATCHDOG_USEC");
  const std::string pid = TakeEnv("WATCHDOG_PID");
  if (address.empty() || (address[0] != '/' && address[0] != '@') ||
      address.size() >= sizeof(sockaddr_un::sun_path)) {
    return nullptr;
  }
  if (address[0] == '@') address[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  return std::unique_ptr<SystemdNotifier>(
      new SystemdNotifier(fd, std::move(address), WatchdogInterval(usec, pid)));
}

SystemdNotifier::SystemdNotifier(int fd, std::string address,
                                 std::optional<std::chrono::microseconds> watchdog)
    : fd_(fd), address_(std::move(address)), watchdog_(watchdog) {}

SystemdNotifier::~SystemdNotifier() { ::close(fd_); }

bool SystemdNotifier::Notify(std::string_view state) {
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  // An abstract address counts its bytes exactly; a path is NUL-terminated.
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                  address_.size() + (address_[0] == '\0' ? 0 : 1));
  const ssize_t sent = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                                reinterpret_cast<const sockaddr*>(&to), length);
  if (sent == static_cast<ssize_t>(state.size())) return true;
  error_ = sent < 0 ? std::strerror(errno) : "short write";
  return false;
}

}  // namespace cmcl::io
