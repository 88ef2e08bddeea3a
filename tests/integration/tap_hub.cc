#include "tests/integration/tap_hub.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <queue>

namespace cmcl::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Opens a TAP named `name` inside the namespace at `netns_path`: a thread of its own
// enters the namespace (setns changes only the calling thread), so the device is made
// there; the descriptor stays valid in this process. -1 and `*error` on failure.
int OpenTapIn(const std::string& netns_path, const std::string& name, std::string* error) {
  int fd = -1;
  std::thread maker([&] {
    const int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      *error = "cannot enter " + netns_path + ": " + std::strerror(errno);
      if (ns >= 0) close(ns);
      return;
    }
    close(ns);
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      *error = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
      return;
    }
    ifreq request{};
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &request) != 0) {
      *error = "TUNSETIFF " + name + " in " + netns_path + ": " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  });
  maker.join();
  return fd;
}

}  // namespace

struct TapHub::Pending {
  Clock::time_point due;
  uint64_t order = 0;  // Ties keep the order frames arrived in.
  int fd = -1;
  std::string frame;
  bool operator>(const Pending& other) const {
    return due != other.due ? due > other.due : order > other.order;
  }
};

TapHub::TapHub(const std::vector<std::string>& netns, int networks)
    : nodes_(static_cast<int>(netns.size())),
      networks_(networks),
      impairments_(netns.size() * netns.size() * static_cast<size_t>(networks)),
      cables_(netns.size() * static_cast<size_t>(networks), true) {
  for (int k = 0; k < nodes_ && error_.empty(); ++k) {
    for (int m = 0; m < networks_ && error_.empty(); ++m) {
      const int fd = OpenTapIn(netns[static_cast<size_t>(k)], Device(m), &error_);
      if (fd >= 0) fds_.push_back(fd);
    }
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0 && error_.empty()) error_ = "eventfd failed";
  if (error_.empty()) thread_ = std::thread([this] { Run(); });
}

TapHub::~TapHub() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  for (int fd : fds_) close(fd);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void TapHub::Set(int from, int to, Impairment impairment, int network) {
  std::lock_guard lock(mu_);
  for (int m = 0; m < networks_; ++m) {
    if (network < 0 || network == m) impairments_[Link(m, from, to)] = impairment;
  }
}

void TapHub::SetCable(int node, int network, bool up) {
  std::lock_guard lock(mu_);
  cables_[static_cast<size_t>(node * networks_ + network)] = up;
}

void TapHub::Run() {
  std::vector<pollfd> polled;
  for (int fd : fds_) polled.push_back(pollfd{.fd = fd, .events = POLLIN, .revents = 0});
  polled.push_back(pollfd{.fd = stop_fd_, .events = POLLIN, .revents = 0});
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending;
  uint64_t order = 0;
  std::string buffer(65536, '\0');
  for (;;) {
    int timeout_ms = -1;
    if (!pending.empty()) {
      const auto wait =
          std::chrono::ceil<std::chrono::milliseconds>(pending.top().due - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, wait.count()));
    }
    poll(polled.data(), polled.size(), timeout_ms);
    if (polled.back().revents != 0) return;
    for (size_t i = 0; i + 1 < polled.size(); ++i) {
      if ((polled[i].revents & POLLIN) == 0) continue;
      const int from = static_cast<int>(i) / networks_;
      const int network = static_cast<int>(i) % networks_;
      for (;;) {
        const ssize_t got = read(polled[i].fd, buffer.data(), buffer.size());
        if (got <= 0) break;
        std::lock_guard lock(mu_);
        for (int to = 0; to < nodes_; ++to) {
          if (to == from) continue;
          const Impairment& impairment = impairments_[Link(network, from, to)];
          const bool cable = cables_[static_cast<size_t>(from * networks_ + network)] &&
                             cables_[static_cast<size_t>(to * networks_ + network)];
          if (!cable || std::uniform_real_distribution<double>(0, 1)(random_) < impairment.loss) {
            ++dropped_;
            continue;
          }
          pending.push(Pending{.due = Clock::now() + std::chrono::milliseconds(impairment.delay_ms),
                               .order = ++order,
                               .fd = Fd(to, network),
                               .frame = buffer.substr(0, static_cast<size_t>(got))});
        }
      }
    }
    while (!pending.empty() && pending.top().due <= Clock::now()) {
      const Pending& next = pending.top();
      // A full TAP queue drops the frame, as a congested link would.
      if (write(next.fd, next.frame.data(), next.frame.size()) > 0) ++passed_;
      pending.pop();
    }
  }
}

}  // namespace cmcl::testing
