// SystemdNotifier (sd_notify.h) against a real datagram socket standing in for systemd:
// what it sends, to a path and to an abstract address, that it takes its variables out
// of the environment, and when it says there is a watchdog.
#include "cmcld/io/runtime/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace cmcl::io {
namespace {

// A bound AF_UNIX datagram socket: systemd's end of NOTIFY_SOCKET.
class FakeSystemd {
 public:
  // `address` a path, or "@name" for the abstract namespace.
  explicit FakeSystemd(std::string address) : address_(std::move(address)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un at{};
    at.sun_family = AF_UNIX;
    std::memcpy(at.sun_path, address_.data(), address_.size());
    if (address_[0] == '@') at.sun_path[0] = '\0';
    const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                    address_.size() + (address_[0] == '@' ? 0 : 1));
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&at), length) == 0;
    timeval wait{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  }
  ~FakeSystemd() {
    ::close(fd_);
    if (address_[0] == '/') ::unlink(address_.c_str());
  }
  bool bound() const { return bound_; }
  std::string Receive() const {
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }

 private:
  std::string address_;
  int fd_ = -1;
  bool bound_ = false;
};

class SdNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  std::string path_ = "/tmp/cmcl-sd-notify-" + std::to_string(::getpid()) + ".sock";
};

TEST_F(SdNotifyTest, SendsToThePathAndTakesItsVariablesOutOfTheEnvironment) {
  FakeSystemd systemd(path_);
  ASSERT_TRUE(systemd.bound());
  ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);

  const std::unique_ptr<SystemdNotifier> notifier = SystemdNotifier::FromEnvironment();

  ASSERT_NE(notifier, nullptr);
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr) << "children would inherit it";
  EXPECT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
  EXPECT_TRUE(notifier->Notify("READY=1\nSTATUS=node1 is up"));
  EXPECT_EQ(systemd.Receive(), "READY=1\nSTATUS=node1 is up");
  EXPECT_TRUE(notifier->Notify("WATCHDOG=1"));
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  ASSERT_TRUE(notifier->watchdog_interval().has_value());
  EXPECT_EQ(*notifier->watchdog_interval(), std::chrono::microseconds(1'500'000));
}

TEST_F(SdNotifyTest, SendsToAnAbstractAddress) {
  const std::string name = "@cmcl-sd-notify-" + std::to_string(::getpid());
  FakeSystemd systemd(name);
  ASSERT_TRUE(systemd.bound());
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);

  const std::unique_ptr<SystemdNotifier> notifier = SystemdNotifier::FromEnvironment();

  ASSERT_NE(notifier, nullptr);
  EXPECT_TRUE(notifier->Notify("STOPPING=1"));
  EXPECT_EQ(systemd.Receive(), "STOPPING=1");
  EXPECT_FALSE(notifier->watchdog_interval().has_value());
}

TEST_F(SdNotifyTest, NothingWithoutNotifySocketOrWithANonsenseOne) {
  EXPECT_EQ(SystemdNotifier::FromEnvironment(), nullptr);
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_EQ(SystemdNotifier::FromEnvironment(), nullptr);
}

TEST_F(SdNotifyTest, AWatchdogForAnotherPidOrNotANumberIsNone) {
  FakeSystemd systemd(path_);
  ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_FALSE(SystemdNotifier::FromEnvironment()->watchdog_interval().has_value());

  ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3s", 1);
  EXPECT_FALSE(SystemdNotifier::FromEnvironment()->watchdog_interval().has_value());
}

TEST_F(SdNotifyTest, ASystemdThatIsGoneIsAnErrorNotACrash) {
  ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);  // Nobody bound there.

  const std::unique_ptr<SystemdNotifier> notifier = SystemdNotifier::FromEnvironment();

  ASSERT_NE(notifier, nullptr);
  EXPECT_FALSE(notifier->Notify("READY=1"));
  EXPECT_FALSE(notifier->error().empty());
}

}  // namespace
}  // namespace cmcl::io
