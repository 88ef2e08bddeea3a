// ControlService (control_service.h): the socket, the accept thread that reads each
// caller's SO_PEERCRED, and the gRPC handlers that hand every request to the io thread
// (ControlEngine) and wait for its answer.
#include "cmcld/io/control/control_service.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "cmcld/io/control/control.grpc.pb.h"
#include "cmcld/io/control/control_engine.h"

namespace cmcl::io {
namespace {

namespace pb = ::cmcl::control;
using control::Answer;
using control::Call;
using control::Caller;
using control::ControlEngine;
using CallPtr = std::shared_ptr<Call>;

constexpr size_t kSocketPathMax = sizeof(sockaddr_un::sun_path) - 1;  // 107 on Linux.

std::string Errno() { return std::strerror(errno); }

sockaddr_un AddressOf(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

// True when something accepts connections at `path` (a live daemon).
bool Answers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_un address = AddressOf(path);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

// mkdir -p with mode 0755 for the folders it creates.
Status MakeParents(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::filesystem::path partial;
  for (const std::filesystem::path& part : parent) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0755) == 0) {
      ::chmod(partial.c_str(), 0755);  // Whatever the umask.
    } else if (errno != EEXIST) {
      return Status::Unavailable("cannot create " + partial.string() + ": " + Errno());
    }
  }
  return Status::Ok();
}

// A stale socket (no daemon behind it) is removed; anything else is refused.
Status ClearPath(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return Status::Ok();
  if (!S_ISSOCK(info.st_mode)) {
    return Status::InvalidArgument("control socket path " + path + " exists and is not a socket");
  }
  if (Answers(path)) {
    return Status::Unavailable("another cmcld answers on the control socket " + path);
  }
  spdlog::info("control: removing the stale socket {}", path);
  ::unlink(path.c_str());
  return Status::Ok();
}

Result<int> Listen(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable("socket: " + Errno());
  const sockaddr_un address = AddressOf(path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
      ::chmod(path.c_str(), 0666) != 0 || ::listen(fd, 64) != 0) {
    const std::string error = Errno();
    ::close(fd);
    return Status::Unavailable("cannot listen on " + path + ": " + error);
  }
  return fd;
}

Caller PeerOf(int fd) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return Caller{};
  return Caller{.uid = credentials.uid, .gid = credentials.gid, .pid = credentials.pid};
}

void Fill(const Answer& answer, pb::Reply* reply) {
  reply->set_exit_status(answer.exit_status);
  reply->set_json(answer.json);
  reply->set_text(answer.text);
  reply->set_is_error(answer.is_error);
}

}  // namespace

struct ControlService::Impl final : public pb::Control::Service {
  Impl(boost::asio::io_context& io_context, CoreAccess& core_access, Options service_options)
      : io(io_context),
        options(std::move(service_options)),
        engine(std::make_shared<ControlEngine>(io_context, core_access, options.default_timeout)) {}

  // --- gRPC threads ----------------------------------------------------------------
  grpc::Status View(grpc::ServerContext* context, const pb::ViewRequest* request,
                    pb::Reply* reply) override {
    return Answering(context, request, reply, &ControlEngine::View);
  }
  grpc::Status Check(grpc::ServerContext* context, const pb::CheckRequest* request,
                     pb::Reply* reply) override {
    return Answering(context, request, reply, &ControlEngine::Check);
  }
  grpc::Status Readiness(grpc::ServerContext* context, const pb::ReadinessRequest*,
                         pb::Reply* reply) override {
    return Serve(context, reply, [](ControlEngine& e, const Caller& who, const CallPtr& c) {
      c->Finish(e.Readiness(who));
    });
  }
  grpc::Status Events(grpc::ServerContext* context, const pb::EventsRequest* request,
                      pb::Reply* reply) override {
    return Answering(context, request, reply, &ControlEngine::Events);
  }
  grpc::Status Run(grpc::ServerContext* context, const pb::RunRequest* request,
                   pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Run);
  }
  grpc::Status Halt(grpc::ServerContext* context, const pb::HaltRequest* request,
                    pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Halt);
  }
  grpc::Status Move(grpc::ServerContext* context, const pb::MoveRequest* request,
                    pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Move);
  }

  grpc::Status Enable(grpc::ServerContext* context, const pb::EnableRequest* request,
                      pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Enable);
  }
  grpc::Status Clear(grpc::ServerContext* context, const pb::ClearRequest* request,
                     pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Clear);
  }
  grpc::Status Node(grpc::ServerContext* context, const pb::NodeRequest* request,
                    pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Node);
  }
  grpc::Status ClusterRun(grpc::ServerContext* context, const pb::ClusterRunRequest* request,
                          pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::ClusterRun);
  }
  grpc::Status ClusterHalt(grpc::ServerContext* context, const pb::ClusterHaltRequest* request,
                           pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::ClusterHalt);
  }
  grpc::Status Maintenance(grpc::ServerContext* context, const pb::MaintenanceRequest* request,
                           pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::Maintenance);
  }
  grpc::Status ConfigShow(grpc::ServerContext* context, const pb::ConfigShowRequest*,
                          pb::Reply* reply) override {
    return Serve(context, reply, [](ControlEngine& e, const Caller& who, const CallPtr& c) {
      c->Finish(e.ConfigShow(who));
    });
  }

  grpc::Status ConfigApply(grpc::ServerContext* context, const pb::ConfigApplyRequest* request,
                           pb::Reply* reply) override {
    // One copy of the bundle (up to 8 MiB) for the io thread, shared, not copied again.
    auto shared = std::make_shared<const pb::ConfigApplyRequest>(*request);
    return Serve(context, reply, [shared](ControlEngine& e, const Caller& who, const CallPtr& c) {
      e.ConfigApply(who, *shared, c);
    });
  }

  // Issue 10.
  grpc::Status ClusterMode(grpc::ServerContext* context, const pb::ClusterModeRequest* request,
                           pb::Reply* reply) override {
    return Waiting(context, request, reply, &ControlEngine::ClusterMode);
  }
  grpc::Status Explain(grpc::ServerContext* context, const pb::ExplainRequest* request,
                       pb::Reply* reply) override {
    return Answering(context, request, reply, &ControlEngine::Explain);
  }
  // Issue 10 item 3.
  grpc::Status Preview(grpc::ServerContext* context, const pb::PreviewRequest* request,
                       pb::Reply* reply) override {
    return Answering(context, request, reply, &ControlEngine::Preview);
  }

  using Handler = std::function<void(ControlEngine&, const Caller&, const CallPtr&)>;
  grpc::Status Serve(grpc::ServerContext* context, pb::Reply* reply, Handler handler);
  // A command the engine answers at once from a copy of its request.
  template <typename Request>
  grpc::Status Answering(grpc::ServerContext* context, const Request* request, pb::Reply* reply,
                         Answer (ControlEngine::*method)(const Caller&, const Request&)) {
    return Serve(
        context, reply,
        [request = *request, method](ControlEngine& e, const Caller& who, const CallPtr& c) {
          c->Finish((e.*method)(who, request));
        });
  }
  // A command that may wait: the engine answers through the Call, now or later.
  template <typename Request>
  grpc::Status Waiting(grpc::ServerContext* context, const Request* request, pb::Reply* reply,
                       void (ControlEngine::*method)(const Caller&, const Request&, CallPtr)) {
    return Serve(context, reply,
                 [request = *request, method](ControlEngine& e, const Caller& who,
                                              const CallPtr& c) { (e.*method)(who, request, c); });
  }
  Caller CallerOf(const grpc::ServerContext& context);

  // --- accept thread ---------------------------------------------------------------
  void AcceptLoop();

  boost::asio::io_context& io;
  Options options;
  std::shared_ptr<ControlEngine> engine;  // Used on the io thread only.
  std::unique_ptr<grpc::Server> server;
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // The destructor writes to wake[1] to stop the accept loop.
  std::thread acceptor;
  std::atomic<bool> stopping{false};
  std::mutex mutex;                       // Guards callers and calls.
  std::map<int, Caller> callers;          // By the fd gRPC names in peer() ("fd:N").
  std::set<std::shared_ptr<Call>> calls;  // Handed to the io thread, not answered yet.
};

Caller ControlService::Impl::CallerOf(const grpc::ServerContext& context) {
  const std::string peer = context.peer();
  if (peer.rfind("fd:", 0) == 0) {
    const int fd = std::atoi(peer.c_str() + 3);
    std::lock_guard lock(mutex);
    const auto it = callers.find(fd);
    if (it != callers.end()) return it->second;
  }
  spdlog::warn("control: caller {} not known from SO_PEERCRED; it is refused", peer);
  return Caller{};
}

grpc::Status ControlService::Impl::Serve(grpc::ServerContext* context, pb::Reply* reply,
                                         Handler handler) {
  const Caller caller = CallerOf(*context);
  auto call = std::make_shared<Call>();
  {
    std::lock_guard lock(mutex);
    if (stopping) {
      Fill(control::ErrorAnswer("shutting_down", "cmcld is shutting down"), reply);
      return grpc::Status::OK;
    }
    calls.insert(call);
  }
  const std::weak_ptr<ControlEngine> weak = engine;
  boost::asio::post(io, [weak, call, caller, handler = std::move(handler)] {
    if (const std::shared_ptr<ControlEngine> e = weak.lock()) handler(*e, caller, call);
  });
  const std::optional<Answer> answer = call->Wait([context] { return context->IsCancelled(); });
  {
    std::lock_guard lock(mutex);
    calls.erase(call);
  }
  if (!answer) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  Fill(*answer, reply);
  return grpc::Status::OK;
}

void ControlService::Impl::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{.fd = listen_fd, .events = POLLIN, .revents = 0},
                     {.fd = wake[0], .events = POLLIN, .revents = 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control: poll failed ({}); no more connections accepted", Errno());
      return;
    }
    if (fds[1].revents != 0) return;
    // Non-blocking, or gRPC hangs on the fd (TOOLCHAIN.md).
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    {
      std::lock_guard lock(mutex);
      callers[fd] = PeerOf(fd);
    }
    grpc::AddInsecureChannelFromFd(server.get(), fd);
  }
}

std::string CoreAccess::StateDirPath() const {
  return std::filesystem::path(AppliedBundleDir()).parent_path().parent_path().string();
}

ControlService::ControlService(boost::asio::io_context& io, CoreAccess& core, Options options)
    : impl_(std::make_unique<Impl>(io, core, std::move(options))) {}

Status ControlService::Start() {
  const std::string& path = impl_->options.socket_path;
  if (path.empty() || path.size() > kSocketPathMax) {
    return Status::InvalidArgument("control socket path " + path + " is " +
                                   std::to_string(path.size()) +
                                   " bytes; a Unix socket path holds 1 to 107");
  }
  if (Status made = MakeParents(path); !made.ok()) return made;
  if (Status cleared = ClearPath(path); !cleared.ok()) return cleared;
  Result<int> fd = Listen(path);
  if (!fd.ok()) return fd.status();
  impl_->listen_fd = *fd;
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) return Status::Unavailable("pipe: " + Errno());
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(kControlMessageBytesMax));
  builder.RegisterService(impl_.get());
  impl_->server = builder.BuildAndStart();
  if (impl_->server == nullptr) return Status::Internal("the control gRPC server did not start");
  impl_->acceptor = std::thread([impl = impl_.get()] { impl->AcceptLoop(); });
  spdlog::info("control: listening on {}", path);
  return Status::Ok();
}

void ControlService::OnApplied() { impl_->engine->OnApplied(); }

ControlService::~ControlService() {
  Impl& impl = *impl_;
  impl.stopping = true;
  if (impl.acceptor.joinable()) {
    const char byte = 1;
    if (::write(impl.wake[1], &byte, 1) != 1) spdlog::warn("control: wake write: {}", Errno());
    impl.acceptor.join();
  }
  // Waiters first (their calls answered "shutting down"), then whatever the io thread
  // has not picked up yet, so that every handler returns and the server can stop.
  impl.engine->Stop();
  {
    std::lock_guard lock(impl.mutex);
    for (const std::shared_ptr<Call>& call : impl.calls) {
      call->Finish(control::ErrorAnswer("shutting_down", "cmcld is shutting down"));
    }
  }
  if (impl.server)
    impl.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (int fd : {impl.listen_fd, impl.wake[0], impl.wake[1]}) {
    if (fd >= 0) ::close(fd);
  }
  if (impl.listen_fd >= 0) ::unlink(impl.options.socket_path.c_str());
}

}  // namespace cmcl::io
