// SystemdNotifier: systemd's notify protocol (sd_notify(3)) without libsystemd — one
// datagram of "KEY=VALUE" lines to the socket named by $NOTIFY_SOCKET (a path, or "@"
// for Linux's abstract namespace). cmcld says READY=1 once it serves its control socket
// and has its guard, STOPPING=1 when it starts to leave, STATUS= lines as it goes, and
// WATCHDOG=1 from its io thread every half of $WATCHDOG_USEC: a cmcld whose io thread
// stalls is then killed and restarted by systemd (its guard keeps the fence deadline
// meanwhile). Type=notify in systemd/cmcld.service.
//
// FromEnvironment() takes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID out of the
// environment (as sd_notify's unset_environment): package scripts and the guard, which
// cmcld starts, must never talk to systemd in cmcld's name. Not thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cmcl::io {

class SystemdNotifier {
 public:
  // Null when $NOTIFY_SOCKET is unset or empty (not started by systemd with
  // Type=notify): then nothing is sent.
  static std::unique_ptr<SystemdNotifier> FromEnvironment();
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // Sends `state` ("READY=1\nSTATUS=..."). False (and errno-style text in error()) if the
  // datagram could not be sent; the daemon logs it and goes on.
  bool Notify(std::string_view state);
  const std::string& error() const { return error_; }
  // Half of $WATCHDOG_USEC when it is set for this process (WATCHDOG_PID unset or ours).
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  SystemdNotifier(int fd, std::string address, std::optional<std::chrono::microseconds> watchdog);

  int fd_;
  std::string address_;  // As in NOTIFY_SOCKET; '@' already replaced by '\0'.
  std::optional<std::chrono::microseconds> watchdog_;
  std::string error_;
};

}  // namespace cmcl::io
