#include "cmcld/guard/guard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <utility>

#include "cmcld/core/node/watchdog.h"
#include "cmcld/io/clock.h"

namespace cmcl::guard {
namespace proto = io::guard_protocol;
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string Name(const node::GuestRef& guest) {
  return guest.resource.value() + "@" + std::to_string(guest.epoch.value());
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Guard::Guard(Options options, const GuardLog& log, WatchdogDevice& watchdog)
    : options_(std::move(options)),
      log_(log),
      socket_path_(options_.state_dir + "/" + std::string(proto::kSocketName)),
      watchdog_(watchdog) {}

Guard::~Guard() {
  jobs_.clear();  // Kills and reaps any step still running.
  CloseFd(connection_.fd);
  if (listen_fd_ >= 0) ::unlink(socket_path_.c_str());
  CloseFd(listen_fd_);
  CloseFd(signal_fd_);
  CloseFd(timer_fd_);
  CloseFd(lock_fd_);  // Releases the lock last: no other guard may bind before we unlink.
}

Status Guard::Open() {
  if (socket_path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("socket path " + socket_path_ + " is longer than " +
                                   std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  }
  if (Status status = Lock(); !status.ok()) return status;
  if (Status status = Listen(); !status.ok()) return status;
  return OpenEvents();
}

// One guard per state dir: an flock held for the guard's lifetime decides, so two
// guards started at once cannot both unlink and bind the socket.
Status Guard::Lock() {
  const std::string path = options_.state_dir + "/" + std::string(proto::kLockName);
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Status::FailedPrecondition(Errno("cannot open " + path));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Status::FailedPrecondition(Errno("cannot lock " + path));
    char pid[32] = {};
    const ssize_t size = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    std::string holder = size > 0 ? std::string(pid, static_cast<size_t>(size)) : "?";
    holder.erase(std::remove(holder.begin(), holder.end(), '\n'), holder.end());
    return Status::AlreadyExists("another cmcl-guard (pid " + holder + ") already guards " +
                                 options_.state_dir);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 ||
      ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return Status::FailedPrecondition(Errno("cannot write " + path));
  }
  return Status::Ok();
}

Status Guard::Listen() {
  ::unlink(socket_path_.c_str());  // Stale: we hold the lock, so no guard serves it.
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::Internal(Errno("socket"));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  // Created 0600 from the start (umask), not chmod-ed after a window.
  const mode_t old_mask = ::umask(077);
  const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::umask(old_mask);
  if (bound != 0) return Status::FailedPrecondition(Errno("cannot bind " + socket_path_));
  if (::chmod(socket_path_.c_str(), 0600) != 0 || ::listen(listen_fd_, 4) != 0) {
    return Status::FailedPrecondition(Errno("cannot listen on " + socket_path_));
  }
  return Status::Ok();
}

Status Guard::OpenEvents() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  if (::sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    return Status::Internal(Errno("sigprocmask"));
  }
  ::signal(SIGPIPE, SIG_IGN);  // A vanished cmcld is an EPIPE, not our death.
  signal_fd_ = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Status::Internal(Errno("signalfd"));
  timer_fd_ = ::timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) return Status::Internal(Errno("timerfd_create(CLOCK_BOOTTIME)"));
  return Status::Ok();
}

int Guard::Run() {
  log_.Line("cmcl-guard " + std::to_string(::getpid()) + " guards " + options_.state_dir +
            " (fence_timeout " + std::to_string(options_.fence_timeout.count()) + " ms)");
  for (;;) {
    Step(io::BootNow());
    if (exit_ || MayExit()) break;
    ArmTimer();
    WaitAndDispatch();
  }
  Flush();
  if (watchdog_.is_open()) {
    watchdog_.Close();
    log_.Line("watchdog " + watchdog_device_ + " stopped (magic close)");
  }
  log_.Line("cmcl-guard exits: nothing is registered");
  return 0;
}

// Order matters: fences start before acks go out, so an ack never precedes a fence the
// state already called for (guard_protocol.h).
void Guard::Step(Time now) {
  for (const std::unique_ptr<FenceJob>& job : jobs_) job->Poll(now);
  for (auto job = jobs_.begin(); job != jobs_.end();) {
    if (!(*job)->done()) {
      ++job;
      continue;
    }
    FenceEnded(**job, now);
    job = jobs_.erase(job);
  }
  FenceIfDue(now);
  StepWatchdog(now);
  ReleaseAcks();
}

// A guest is protected until a fence saw it stopped: guarded, being fenced, or fenced
// without "stopped" (kFenced with a retry pending).
bool Guard::Protecting() const {
  return std::any_of(guests_.begin(), guests_.end(), [](const auto& entry) {
    return entry.second.fence != Fence::kFenced || entry.second.retry_at.has_value();
  });
}

void Guard::StepWatchdog(Time now) {
  watchdog_next_.reset();
  if (!watchdog_.is_open() || reset_called_) return;
  std::optional<Time> lease_end;
  if (deadline_.has_value()) lease_end = *deadline_ + options_.fence_timeout;
  const node::WatchdogDecision decision = node::DecideWatchdog({.now = now,
                                                                .timeout = watchdog_timeout_,
                                                                .lease_end = lease_end,
                                                                .protecting = Protecting()});
  watchdog_next_ = decision.next;
  switch (decision.step) {
    case node::WatchdogStep::kPet:
      if (Status petted = watchdog_.Pet(); !petted.ok()) {
        if (!pet_failed_) log_.Line("CRITICAL: watchdog: " + petted.message());
        pet_failed_ = true;
      } else {
        pet_failed_ = false;
      }
      if (watchdog_holding_) log_.Line("watchdog: petting again; " + Describe(now));
      watchdog_holding_ = false;
      return;
    case node::WatchdogStep::kHold:
      if (!watchdog_holding_) {
        log_.Line("watchdog: not petting (" +
                  std::string(lease_end ? "the lease ends within the watchdog timeout"
                                        : "no deadline yet") +
                  " and a guest is not seen stopped): the node resets " +
                  (lease_end ? "by lease_end" : "within the watchdog timeout") +
                  " unless the "
                  "lease is renewed or the fence sees it stopped; " +
                  Describe(now));
      }
      watchdog_holding_ = true;
      return;
    case node::WatchdogStep::kReset: {
      const std::string why = "a fence has not seen every guest stopped by lease_end";
      log_.Line("CRITICAL: " + why + "; resetting the node now (fence_action reboot); " +
                Describe(now));
      reset_called_ = true;
      watchdog_.Reset(why);
      log_.Line("CRITICAL: the reset returned; the watchdog is no longer petted and fires");
      return;
    }
  }
}

void Guard::AttachWatchdog(const proto::Attach& attach) {
  watchdog_error_.clear();
  if (attach.watchdog_device.empty()) {
    if (watchdog_.is_open()) {
      watchdog_.Close();
      watchdog_timeout_ = Duration(0);
      log_.Line("watchdog " + watchdog_device_ +
                " stopped (magic close): cmcld attached "
                "without a watchdog (fence_action kill)");
    }
    return;
  }
  const int seconds = node::WatchdogSecondsToAsk(attach.watchdog_timeout);
  const bool same = watchdog_.is_open() && attach.watchdog_device == watchdog_device_;
  if (watchdog_.is_open() && !same) {
    log_.Line("watchdog " + watchdog_device_ + " stopped (magic close): cmcld names " +
              attach.watchdog_device);
  }
  // Already running (a cmcld restart): a new timeout only; the device stays armed.
  Result<Duration> granted =
      same ? watchdog_.SetTimeout(seconds) : watchdog_.Open(attach.watchdog_device, seconds);
  watchdog_device_ = attach.watchdog_device;
  if (!granted.ok()) {
    watchdog_timeout_ = Duration(0);
    watchdog_error_ = granted.status().message();
    if (watchdog_.is_open()) watchdog_.Close();
    log_.Line("watchdog: " + watchdog_error_);
    return;
  }
  watchdog_timeout_ = *granted;
  log_.Line("watchdog " + watchdog_device_ + " running: timeout " +
            FormatDuration(watchdog_timeout_) + " (asked " + std::to_string(seconds) + "s)");
}

void Guard::FenceEnded(const FenceJob& job, Time now) {
  auto found = guests_.find(job.guest().guest.resource);
  if (found == guests_.end() || found->second.guest.guest != job.guest().guest ||
      found->second.fence != Fence::kFencing) {
    return;  // Unregistered or registered anew meanwhile.
  }
  Entry& entry = found->second;
  entry.retry_at.reset();
  if (!deadline_.has_value() || now < *deadline_) {
    entry.fence = Fence::kGuarded;  // Re-armed meanwhile: guarded again.
    entry.failed_fences = 0;
    return;
  }
  entry.fence = Fence::kFenced;
  if (job.stopped()) return;
  constexpr Duration kRetryMax = std::chrono::seconds(10);
  const int doublings = std::min(entry.failed_fences, 6);
  const Duration backoff = std::min(options_.fence_timeout * (1 << doublings), kRetryMax);
  ++entry.failed_fences;
  entry.retry_at = now + backoff;
  log_.Line("fence: " + Name(entry.guest.guest) + " fenced again in " +
            std::to_string(backoff.count()) +
            " ms (failed fences: " + std::to_string(entry.failed_fences) + ")");
}

void Guard::FenceIfDue(Time now) {
  if (!deadline_.has_value() || now < *deadline_) return;
  for (auto& [package, entry] : guests_) {
    const bool retry =
        entry.fence == Fence::kFenced && entry.retry_at.has_value() && now >= *entry.retry_at;
    if (entry.fence != Fence::kGuarded && !retry) continue;
    entry.fence = Fence::kFencing;
    auto job = std::make_unique<FenceJob>(entry.guest, options_.fence_timeout, log_);
    job->Start(now, *deadline_);
    jobs_.push_back(std::move(job));
  }
}

void Guard::ReleaseAcks() {
  if (!jobs_.empty() || held_acks_.empty()) return;
  std::vector<uint64_t> acks = std::exchange(held_acks_, {});
  for (const uint64_t id : acks) Send(proto::Ack{.id = id});
}

bool Guard::MayExit() const { return detached_ && guests_.empty() && jobs_.empty(); }

// The timer fires at the next instant the loop must act without any descriptor waking
// it: the deadline (while a guest is still guarded), a fence retry or a step's overrun.
void Guard::ArmTimer() {
  std::optional<Time> wake;
  const auto earliest = [&wake](Time t) { wake = wake.has_value() ? std::min(*wake, t) : t; };
  const bool any_guarded = std::any_of(guests_.begin(), guests_.end(), [](const auto& entry) {
    return entry.second.fence == Fence::kGuarded;
  });
  if (deadline_.has_value() && any_guarded) earliest(*deadline_);
  if (watchdog_next_.has_value()) earliest(*watchdog_next_);
  for (const auto& [package, entry] : guests_) {
    if (entry.fence == Fence::kFenced && entry.retry_at.has_value()) earliest(*entry.retry_at);
  }
  for (const std::unique_ptr<FenceJob>& job : jobs_) {
    if (const std::optional<Time> overrun = job->overrun_at()) earliest(*overrun);
  }
  itimerspec spec{};
  if (wake.has_value()) {
    // Zero disarms a timerfd: an instant at or before boot's first millisecond is due now.
    const int64_t ms = std::max<int64_t>(wake->milliseconds(), 1);
    spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
    spec.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1'000'000);
  }
  ::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void Guard::WaitAndDispatch() {
  std::vector<pollfd> fds = {
      {listen_fd_, POLLIN, 0}, {signal_fd_, POLLIN, 0}, {timer_fd_, POLLIN, 0}};
  if (connection_.fd >= 0) {
    const short events = connection_.out.empty() ? POLLIN : POLLIN | POLLOUT;
    fds.push_back({connection_.fd, events, 0});
  }
  for (const std::unique_ptr<FenceJob>& job : jobs_) {
    if (job->pidfd() >= 0) fds.push_back({job->pidfd(), POLLIN, 0});
  }
  if (::poll(fds.data(), fds.size(), -1) < 0) {
    if (errno != EINTR) log_.Line(Errno("poll"));
    return;
  }
  if (fds[2].revents != 0) {
    uint64_t expirations = 0;
    [[maybe_unused]] const ssize_t ignored = ::read(timer_fd_, &expirations, sizeof expirations);
  }
  if (fds[1].revents != 0) OnSignal();
  // The connection before the listener: a cmcld that closed and reconnected at once
  // must find its old connection gone, not be refused by it.
  if (fds.size() > 3 && fds[3].fd == connection_.fd && fds[3].revents != 0) {
    if ((fds[3].revents & POLLOUT) != 0) Write();
    if ((fds[3].revents & ~POLLOUT) != 0 && connection_.fd >= 0) Read(io::BootNow());
  }
  if (fds[0].revents != 0) Accept();
  // pidfds need no handling here: Step() polls every job.
}

void Guard::Accept() {
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) log_.Line(Errno("accept"));
    return;
  }
  if (connection_.fd >= 0 && ConnectionHungUp()) Read(io::BootNow());
  if (connection_.fd >= 0) {
    const std::string frame =
        proto::EncodeFrame(proto::Refused{.reason = "another cmcld is attached to this guard"});
    [[maybe_unused]] const ssize_t sent =
        ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    log_.Line("refused a second cmcld connection: one is attached");
    return;
  }
  connection_ = Connection();
  connection_.fd = fd;
}

bool Guard::ConnectionHungUp() {
  pollfd probe{connection_.fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&probe, 1, 0) > 0 && (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void Guard::Read(Time now) {
  char buffer[1 << 14];
  for (;;) {
    const ssize_t size = ::recv(connection_.fd, buffer, sizeof buffer, 0);
    if (size > 0) {
      connection_.reader.Append(std::string_view(buffer, static_cast<size_t>(size)));
      continue;
    }
    if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (size < 0 && errno == EINTR) continue;
    // Handle what arrived before the end: a Detach may be the last thing cmcld sent.
    for (Result<std::optional<proto::Message>> next = connection_.reader.Next();
         next.ok() && next->has_value(); next = connection_.reader.Next()) {
      Handle(std::move(**next), now);
    }
    Drop(size == 0 ? "cmcld closed the connection" : Errno("read"));
    return;
  }
  while (connection_.fd >= 0) {
    Result<std::optional<proto::Message>> next = connection_.reader.Next();
    if (!next.ok()) {
      Drop(next.status().message());
      return;
    }
    if (!next->has_value()) return;
    Handle(std::move(**next), now);
  }
}

void Guard::Write() {
  while (connection_.fd >= 0 && !connection_.out.empty()) {
    const ssize_t sent = ::send(connection_.fd, connection_.out.data(), connection_.out.size(),
                                MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (sent < 0) {
      Drop(Errno("write"));
      return;
    }
    connection_.out.erase(0, static_cast<size_t>(sent));
  }
}

void Guard::Drop(const std::string& why) {
  if (connection_.fd < 0) return;
  CloseFd(connection_.fd);
  const bool was_attached = connection_.attached;
  connection_ = Connection();
  held_acks_.clear();  // Their requests are applied; a re-attaching cmcld reads State.
  if (was_attached) log_.Line("connection lost (" + why + "); " + Describe(io::BootNow()));
}

void Guard::Send(const proto::Message& message) {
  if (connection_.fd < 0) return;
  connection_.out += proto::EncodeFrame(message);
  Write();
}

void Guard::Handle(proto::Message message, Time now) {
  if (connection_.fd < 0) return;
  const bool is_attach = std::holds_alternative<proto::Attach>(message);
  if (is_attach == connection_.attached) {
    Drop(is_attach ? "protocol error: a second Attach" : "protocol error: no Attach first");
    return;
  }
  std::visit(
      [this, now](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, proto::Attach>) {
          OnAttach(m, now);
        } else if constexpr (std::is_same_v<T, proto::SetDeadline>) {
          OnSetDeadline(m, now);
        } else if constexpr (std::is_same_v<T, proto::Register>) {
          OnRegister(std::move(m));
        } else if constexpr (std::is_same_v<T, proto::Unregister>) {
          OnUnregister(m);
        } else if constexpr (std::is_same_v<T, proto::SetRunGroup>) {
          OnSetRunGroup(m);
        } else if constexpr (std::is_same_v<T, proto::Reset>) {
          OnReset(m, now);
        } else if constexpr (std::is_same_v<T, proto::Detach>) {
          detached_ = true;
          log_.Line("cmcld detached; " + Describe(io::BootNow()));
        } else {
          Drop("protocol error: a guard-to-cmcld message from cmcld");
        }
      },
      message);
}

void Guard::OnAttach(const proto::Attach& attach, Time now) {
  if (attach.version != proto::kVersion) {
    Send(proto::Refused{.reason = "guard protocol version " + std::to_string(proto::kVersion) +
                                  ", cmcld speaks " + std::to_string(attach.version)});
    Flush();
    Drop("protocol version " + std::to_string(attach.version));
    return;
  }
  if (attach.fence_timeout.count() > 0) options_.fence_timeout = attach.fence_timeout;
  connection_.attached = true;
  detached_ = false;
  AttachWatchdog(attach);
  proto::State state{.pid = ::getpid(),
                     .state = Snapshot(),
                     .work_dirs = {},
                     .watchdog_timeout = watchdog_timeout_,
                     .watchdog_error = watchdog_error_};
  for (const auto& [package, entry] : guests_) state.work_dirs.push_back(entry.guest.work_dir);
  Send(state);
  log_.Line("cmcld attached (fence_timeout " + std::to_string(options_.fence_timeout.count()) +
            " ms); " + Describe(now));
}

void Guard::OnSetDeadline(const proto::SetDeadline& request, Time now) {
  held_acks_.push_back(request.id);
  const Time deadline = request.deadline;
  if (deadline_.has_value() && deadline <= *deadline_ && !request.allow_earlier) {
    if (deadline < *deadline_) {
      log_.Line("ignored an earlier deadline (" + std::to_string((deadline - now).count()) +
                " ms from now) without allow_earlier");
    }
    return;
  }
  const std::string in = std::to_string((deadline - now).count()) + " ms";
  if (!deadline_.has_value()) log_.Line("armed: deadline in " + in);
  if (deadline_.has_value() && deadline < *deadline_) log_.Line("deadline moved back: in " + in);
  deadline_ = deadline;
  if (now >= deadline) return;
  for (auto& [package, entry] : guests_) {
    if (entry.fence != Fence::kFenced) continue;
    entry.fence = Fence::kGuarded;
    entry.failed_fences = 0;
    entry.retry_at.reset();
    log_.Line("re-armed: " + Name(entry.guest.guest) + " guarded again, deadline in " + in);
  }
}

void Guard::OnRegister(proto::Register request) {
  held_acks_.push_back(request.id);
  io::GuardGuest& guest = request.guest;
  const std::string how =
      guest.driver.empty() ? "halt script " + guest.halt_script : "driver " + guest.driver;
  log_.Line("registered " + Name(guest.guest) + " (" + how + ")");
  auto [entry, added] = guests_.try_emplace(guest.guest.resource);
  if (!added && entry->second.guest.guest == guest.guest) {
    // The same assignment again (a re-attached cmcld): new details, same fence state.
    if (guest.run_pgid == 0) guest.run_pgid = entry->second.guest.run_pgid;
    entry->second.guest = std::move(guest);
    return;
  }
  entry->second = Entry{.guest = std::move(guest), .fence = Fence::kGuarded};
}

void Guard::OnUnregister(const proto::Unregister& request) {
  held_acks_.push_back(request.id);
  auto entry = guests_.find(request.package);
  if (entry == guests_.end()) {
    log_.Line("unregister of " + request.package.value() + ": not registered");
    return;
  }
  log_.Line("unregistered " + Name(entry->second.guest.guest));
  guests_.erase(entry);
}

void Guard::OnSetRunGroup(const proto::SetRunGroup& request) {
  auto entry = guests_.find(request.package);
  if (entry == guests_.end()) {
    log_.Line("run group of " + request.package.value() + ": not registered");
    return;
  }
  entry->second.guest.run_pgid = request.pgid;
  log_.Line("run group of " + Name(entry->second.guest.guest) + ": " +
            std::to_string(request.pgid));
}

// cmcld asks (fence_action reboot): it found a guest it could not stop and wants the
// node reset now. The guard does not judge the reason; it resets, as it would at
// lease_end.
void Guard::OnReset(const proto::Reset& request, Time now) {
  log_.Line("CRITICAL: cmcld asks for a reset: " + request.why + "; resetting the node now" +
            (watchdog_.is_open() ? "" : " (no watchdog is open)") + "; " + Describe(now));
  reset_called_ = true;
  watchdog_.Reset("cmcld: " + request.why);
  log_.Line("CRITICAL: the reset returned; the watchdog is no longer petted and fires");
}

void Guard::OnSignal() {
  signalfd_siginfo info{};
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const std::string name = strsignal(static_cast<int>(info.ssi_signo));
    if (info.ssi_signo != SIGHUP && guests_.empty() && jobs_.empty()) {
      log_.Line("signal " + name + ": nothing is registered");
      exit_ = true;
      continue;
    }
    log_.Line("signal " + name + " ignored: " + Describe(io::BootNow()));
  }
}

// Best effort, bounded: the last acks to a detaching cmcld before the guard exits.
void Guard::Flush() {
  for (int round = 0; round < 20 && connection_.fd >= 0 && !connection_.out.empty(); ++round) {
    pollfd writable{connection_.fd, POLLOUT, 0};
    if (::poll(&writable, 1, 10) < 0 && errno != EINTR) return;
    Write();
  }
}

node::GuardState Guard::Snapshot() const {
  node::GuardState state;
  state.deadline = deadline_;
  for (const auto& [package, entry] : guests_) {
    state.registered.push_back(entry.guest.guest);
    state.fenced = state.fenced || entry.fence != Fence::kGuarded;
  }
  return state;
}

std::string Guard::Describe(Time now) const {
  std::string text = std::to_string(guests_.size()) + " guest(s) registered, ";
  if (!deadline_.has_value()) {
    text += "no deadline";
  } else if (now < *deadline_) {
    text += "deadline in " + std::to_string((*deadline_ - now).count()) + " ms";
  } else {
    text += "deadline passed " + std::to_string((now - *deadline_).count()) + " ms ago";
  }
  const node::GuardState state = Snapshot();
  if (state.fenced) text += ", fenced";
  return text;
}

}  // namespace cmcl::guard
