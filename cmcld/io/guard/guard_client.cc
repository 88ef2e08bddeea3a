#include "cmcld/io/guard/guard_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

extern char** environ;

namespace cmcl::io {
namespace proto = guard_protocol;
namespace {

using Clock = std::chrono::steady_clock;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

int MillisecondsLeft(Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

// A connected blocking socket to `path`, or -1 with errno set.
int ConnectSocket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

// GUARD_BINARY detached: its own session (outside cmcld's process group, so a signal to
// cmcld's group or session never reaches it), default signals, nothing inherited but
// /dev/null on 0-2 (it logs to its own file).
Result<int> SpawnGuard(const GuardClient::Options& options) {
  const std::vector<std::string> args = {options.guard_binary,
                                         "--state-dir",
                                         options.state_dir,
                                         "--log-file",
                                         options.state_dir + "/" + std::string(proto::kLogName),
                                         "--fence-timeout",
                                         std::to_string(options.fence_timeout.count()) + "ms"};
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&actions);
  sigset_t none;
  sigset_t defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  const short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  int error = posix_spawnattr_setflags(&attr, flags);
  if (error == 0) error = posix_spawnattr_setsigmask(&attr, &none);
  if (error == 0) error = posix_spawnattr_setsigdefault(&attr, &defaults);
  for (int fd = 0; error == 0 && fd <= 2; ++fd) {
    error = posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  }
  if (error == 0) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  if (error == 0) {
    error = posix_spawn(&pid, options.guard_binary.c_str(), &actions, &attr, argv.data(), environ);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (error != 0) {
    return Status::FailedPrecondition("cannot start " + options.guard_binary + ": " +
                                      std::strerror(error));
  }
  return static_cast<int>(pid);
}

Status SendAll(int fd, const std::string& data, Clock::time_point until) {
  for (size_t at = 0; at < data.size();) {
    pollfd writable{fd, POLLOUT, 0};
    if (::poll(&writable, 1, MillisecondsLeft(until)) == 0) {
      return Status::DeadlineExceeded("the guard does not read");
    }
    const ssize_t sent =
        ::send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (sent < 0) return Status::Unavailable(Errno("write to the guard"));
    at += static_cast<size_t>(sent);
  }
  return Status::Ok();
}

Result<proto::Message> ReadMessage(int fd, Clock::time_point until) {
  proto::FrameReader reader;
  for (;;) {
    Result<std::optional<proto::Message>> next = reader.Next();
    if (!next.ok()) return next.status();
    if (next->has_value()) return std::move(**next);
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, MillisecondsLeft(until)) == 0) {
      return Status::DeadlineExceeded("the guard did not answer Attach");
    }
    char buffer[4096];
    const ssize_t size = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (size < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (size < 0) return Status::Unavailable(Errno("read from the guard"));
    if (size == 0) return Status::Unavailable("the guard closed the connection");
    reader.Append(std::string_view(buffer, static_cast<size_t>(size)));
  }
}

// Attach on a connected socket: the guard's State, kUnavailable (retry) when refused.
Result<proto::State> Handshake(int fd, const GuardClient::Options& options,
                               Clock::time_point until) {
  const proto::Attach attach{.version = proto::kVersion,
                             .fence_timeout = options.fence_timeout,
                             .watchdog_device = options.watchdog_device,
                             .watchdog_timeout = options.watchdog_timeout};
  const Status sent = SendAll(fd, proto::EncodeFrame(attach), until);
  // A guard that refuses may say so and close before our Attach is written (EPIPE): its
  // Refused is still there to read, and says more than the broken pipe.
  Result<proto::Message> answer = ReadMessage(fd, until);
  if (!answer.ok()) return sent.ok() ? answer.status() : sent;
  if (auto* state = std::get_if<proto::State>(&*answer)) return std::move(*state);
  if (auto* refused = std::get_if<proto::Refused>(&*answer)) {
    return Status::Unavailable("the guard refused: " + refused->reason);
  }
  return Status::Unavailable("the guard answered Attach with another message");
}

}  // namespace

struct GuardClient::Impl : std::enable_shared_from_this<GuardClient::Impl> {
  Impl(boost::asio::io_context& io, AckFn ack, LostFn lost_fn)
      : socket(io), on_ack(std::move(ack)), on_lost(std::move(lost_fn)) {}

  void StartRead();
  void OnRead(const boost::system::error_code& error, size_t size);
  void Send(std::string frame);
  void TryWrite();
  void Lost(const std::string& why);
  void FlushAndClose(Clock::time_point until);

  boost::asio::local::stream_protocol::socket socket;
  AckFn on_ack;
  LostFn on_lost;
  proto::FrameReader reader;
  std::array<char, 4096> buffer{};
  std::string out;
  bool waiting_write = false;
  bool closed = false;    // The GuardClient is gone: no callback may run.
  bool detached = false;  // Detach sent: the guard may close the connection.
  bool lost = false;
  bool dropping = false;  // Send() after the loss was logged.
  uint64_t last_ack = 0;
};

void GuardClient::Impl::StartRead() {
  socket.async_read_some(boost::asio::buffer(buffer),
                         [self = shared_from_this()](const boost::system::error_code& error,
                                                     size_t size) { self->OnRead(error, size); });
}

void GuardClient::Impl::OnRead(const boost::system::error_code& error, size_t size) {
  if (closed || lost) return;
  if (error) {
    Lost(error == boost::asio::error::eof ? "the guard closed the connection" : error.message());
    return;
  }
  reader.Append(std::string_view(buffer.data(), size));
  for (;;) {
    Result<std::optional<proto::Message>> next = reader.Next();
    if (!next.ok()) {
      Lost(next.status().message());
      return;
    }
    if (!next->has_value()) break;
    const auto* ack = std::get_if<proto::Ack>(&**next);
    if (ack == nullptr) {
      Lost("guard protocol: an unexpected message after Attach");
      return;
    }
    if (ack->id <= last_ack) spdlog::warn("guard: ack {} after ack {}", ack->id, last_ack);
    last_ack = std::max(last_ack, ack->id);
    if (on_ack) on_ack(ack->id);
    if (closed || lost) return;  // The callback may have destroyed the client.
  }
  StartRead();
}

void GuardClient::Impl::Send(std::string frame) {
  if (closed || lost) {
    // Once: the core keeps pushing deadlines until the runtime acts on on_lost.
    if (!dropping) spdlog::warn("guard: requests dropped, the connection to the guard is gone");
    dropping = true;
    return;
  }
  out += frame;
  TryWrite();
}

void GuardClient::Impl::TryWrite() {
  while (!out.empty() && !lost) {
    const ssize_t sent =
        ::send(socket.native_handle(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (waiting_write) return;
      waiting_write = true;
      socket.async_wait(boost::asio::socket_base::wait_write,
                        [self = shared_from_this()](const boost::system::error_code& error) {
                          self->waiting_write = false;
                          if (self->closed || self->lost) return;
                          if (error) {
                            self->Lost(error.message());
                            return;
                          }
                          self->TryWrite();
                        });
      return;
    }
    if (sent < 0) {
      Lost(Errno("write to the guard"));
      return;
    }
    out.erase(0, static_cast<size_t>(sent));
  }
}

void GuardClient::Impl::Lost(const std::string& why) {
  if (lost || closed) return;
  lost = true;
  boost::system::error_code ignored;
  socket.close(ignored);
  if (detached) {
    spdlog::info("guard: connection closed after detach ({})", why);
    return;
  }
  spdlog::error("guard: connection to cmcl-guard lost: {}", why);
  if (on_lost) on_lost(why);
}

// The destructor's last writes (a Detach, the last requests), bounded: cmcld is exiting.
void GuardClient::Impl::FlushAndClose(Clock::time_point until) {
  closed = true;
  if (!lost && socket.is_open()) {
    const int fd = socket.native_handle();
    while (!out.empty()) {
      pollfd writable{fd, POLLOUT, 0};
      if (::poll(&writable, 1, MillisecondsLeft(until)) <= 0) break;
      const ssize_t sent = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (sent < 0) break;
      out.erase(0, static_cast<size_t>(sent));
    }
  }
  if (!out.empty()) spdlog::warn("guard: {} bytes to the guard not sent at close", out.size());
  boost::system::error_code ignored;
  socket.close(ignored);
}

namespace {

// Connects to the guard of options.state_dir, starting one when none listens, until a
// State arrives or start_timeout passes.
Result<std::pair<int, proto::State>> ConnectOrStart(const GuardClient::Options& options) {
  // A guard that lost the lock to another (exit 2) is started again, a few times: the
  // other may have been on its way out.
  constexpr int kStartsMax = 3;
  const std::string path = options.state_dir + "/" + std::string(proto::kSocketName);
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("guard socket path " + path + " is too long");
  }
  const Clock::time_point until = Clock::now() + options.start_timeout;
  std::string last_error;
  std::string refusal;
  pid_t spawned = 0;  // The guard started here, until it listens or exits.
  int starts = 0;
  for (;;) {
    const int fd = ConnectSocket(path);
    if (fd >= 0) {
      Result<proto::State> state = Handshake(fd, options, until);
      if (state.ok()) return std::make_pair(fd, std::move(state).value());
      ::close(fd);
      last_error = state.status().message();
      // A refusal says more than the timeout of a later attempt: it is what we report.
      if (last_error.starts_with("the guard refused")) refusal = last_error;
    } else if (errno != ENOENT && errno != ECONNREFUSED) {
      return Status::FailedPrecondition(Errno("cannot connect to " + path));
    } else if (spawned == 0 && starts < kStartsMax) {
      Result<int> pid = SpawnGuard(options);
      if (!pid.ok()) return pid.status();
      spawned = *pid;
      ++starts;
      spdlog::info("guard: started {} (pid {}) for {}", options.guard_binary, spawned,
                   options.state_dir);
    } else {
      last_error = "nothing listens on " + path;
    }
    int status = 0;
    if (spawned > 0 && ::waitpid(spawned, &status, WNOHANG) == spawned) {
      // Exit 2 may be another guard holding the lock (one started at the same moment,
      // or one exiting): keep trying. Anything else is a guard that cannot run.
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 2) {
        return Status::FailedPrecondition("cmcl-guard exited before listening (see " +
                                          options.state_dir + "/guard.log)");
      }
      last_error = "cmcl-guard exited 2 (see " + options.state_dir + "/guard.log)";
      spawned = 0;
    }
    if (Clock::now() >= until) {
      return Status::FailedPrecondition("no guard answered on " + path + " within " +
                                        std::to_string(options.start_timeout.count()) +
                                        " ms: " + (refusal.empty() ? last_error : refusal));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

Result<std::unique_ptr<GuardClient>> GuardClient::Attach(boost::asio::io_context& io,
                                                         Options options, AckFn on_ack,
                                                         LostFn on_lost) {
  Result<std::pair<int, proto::State>> connected = ConnectOrStart(options);
  if (!connected.ok()) return connected.status();
  auto [fd, state] = std::move(connected).value();
  // Asio's own reads need no O_NONBLOCK, but TryWrite's ::send must never block the io
  // thread on a guard that stopped reading.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    const Status status = Status::Internal(Errno("fcntl O_NONBLOCK"));
    ::close(fd);
    return status;
  }
  std::unique_ptr<GuardClient> client(new GuardClient());
  client->impl_ = std::make_shared<Impl>(io, std::move(on_ack), std::move(on_lost));
  boost::system::error_code error;
  client->impl_->socket.assign(boost::asio::local::stream_protocol(), fd, error);
  if (error) {
    ::close(fd);
    return Status::Internal("guard socket: " + error.message());
  }
  for (size_t i = 0; i < state.state.registered.size() && i < state.work_dirs.size(); ++i) {
    client->attached_work_dirs_[state.state.registered[i].resource] = state.work_dirs[i];
  }
  client->attached_ = std::move(state.state);
  client->guard_pid_ = state.pid;
  client->watchdog_timeout_ = state.watchdog_timeout;
  client->watchdog_error_ = std::move(state.watchdog_error);
  spdlog::info("guard: attached to cmcl-guard pid {} ({} guest(s) registered, {}{})", state.pid,
               client->attached_.registered.size(),
               client->attached_.deadline.has_value() ? "armed" : "no deadline",
               client->attached_.fenced ? ", fenced" : "");
  client->impl_->StartRead();
  return client;
}

GuardClient::~GuardClient() {
  if (impl_) impl_->FlushAndClose(Clock::now() + std::chrono::milliseconds(500));
}

void GuardClient::Submit(const node::GuardRequest& request, const GuardGuest* guest) {
  impl_->Send(proto::EncodeFrame(proto::FromRequest(request, guest)));
}

void GuardClient::SetRunGroup(const PackageName& package, int pgid) {
  impl_->Send(proto::EncodeFrame(proto::SetRunGroup{.package = package, .pgid = pgid}));
}

bool GuardClient::Reset(const std::string& why) {
  if (impl_->closed || impl_->lost) return false;
  impl_->Send(proto::EncodeFrame(proto::Reset{.why = why}));
  return !impl_->lost;
}

void GuardClient::Detach() {
  impl_->Send(proto::EncodeFrame(proto::Detach{}));
  impl_->detached = true;
}

}  // namespace cmcl::io
