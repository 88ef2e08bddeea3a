#include "pkgctl/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cmcld/core/common/json_writer.h"
#include "cmcld/core/common/time.h"

namespace cmcl::pkgctl {
namespace {

bool keep_channels = false;

// The channel of the last call, kept while keep_channels (never destroyed: EndProcess).
std::shared_ptr<grpc::Channel>& KeptChannel() {
  static auto* kept = new std::shared_ptr<grpc::Channel>();
  return *kept;
}

// Why a plain connect() to the socket fails, or "" when something accepts there.
std::string ConnectError(const std::string& path) {
  sockaddr_un address{};
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return "the socket path is longer than 107 bytes";
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  std::string error;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    error = std::strerror(errno);
  }
  ::close(fd);
  return error;
}

void Print(const GlobalOptions& options, const ::cmcl::control::Reply& reply, std::ostream& out,
           std::ostream& err) {
  if (options.output == OutputFormat::kJson) {
    out << reply.json() << "\n";
    return;
  }
  const std::string& text = reply.text();
  const bool newline = text.empty() || text.back() == '\n';
  if (reply.is_error()) {
    err << "pkgctl: " << text << (newline ? "" : "\n");
  } else {
    out << text << (newline ? "" : "\n");
  }
}

}  // namespace

int Fail(const GlobalOptions& options, const std::string& code, const std::string& message,
         int exit_status, std::ostream& out, std::ostream& err) {
  if (options.output == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("error").BeginObject().Key("code").String(code);
    json.Key("message").String(message).EndObject().EndObject();
    out << json.str() << "\n";
  } else {
    err << "pkgctl: " << message << "\n";
  }
  return exit_status;
}

void KeepChannelsUntilExit() { keep_channels = true; }

void EndProcess(int exit_status) {
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(exit_status);
}

int CallDaemon(const GlobalOptions& options, const Rpc& rpc, std::chrono::milliseconds deadline,
               bool waits, std::ostream& out, std::ostream& err) {
  const std::string unreachable = "cannot reach cmcld at " + options.socket + ": ";
  if (const std::string error = ConnectError(options.socket); !error.empty()) {
    return Fail(options, "unreachable", unreachable + error, kExitUnreachable, out, err);
  }
  // A view of thousands of packages is megabytes of JSON: past gRPC's 4 MiB default.
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(256 << 20);
  // A config apply sends its bundle (up to 8 MiB; the daemon takes up to 32 MiB).
  arguments.SetMaxSendMessageSize(32 << 20);
  const std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      "unix:" + options.socket, grpc::InsecureChannelCredentials(), arguments);
  if (keep_channels) KeptChannel() = channel;
  ::cmcl::control::Control::Stub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  ::cmcl::control::Reply reply;
  const grpc::Status status = rpc(stub, context, reply);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && waits) {
    return Fail(options, "timeout",
                "no answer from cmcld within " + FormatDuration(deadline) +
                    "; the operation may go on (see pkgctl view)",
                kExitTimeout, out, err);
  }
  if (!status.ok()) {
    return Fail(options, "unreachable", unreachable + status.error_message(), kExitUnreachable, out,
                err);
  }
  Print(options, reply, out, err);
  return reply.exit_status();
}

bool ParseWaitFlag(const std::vector<std::string>& args, size_t& i, WaitFlags& flags,
                   std::string& error) {
  const std::string& arg = args[i];
  if (arg == "--no-wait") {
    flags.no_wait = true;
    return true;
  }
  std::string value;
  if (arg == "--timeout") {
    if (i + 1 >= args.size()) {
      error = "--timeout needs a DURATION (e.g. 30s)";
      return true;
    }
    value = args[++i];
  } else if (arg.rfind("--timeout=", 0) == 0) {
    value = arg.substr(10);
  } else {
    return false;
  }
  const std::optional<Duration> timeout = ParseDuration(value);
  if (!timeout) {
    error = "--timeout: \"" + value + "\" is not a duration (e.g. 500ms, 30s, 2m)";
  } else {
    flags.timeout = *timeout;
  }
  return true;
}

int64_t TimeoutMs(const WaitFlags& flags) {
  if (flags.timeout) return flags.timeout->count();
  return flags.no_wait ? std::chrono::milliseconds(kNoWaitTimeout).count() : 0;
}

std::chrono::milliseconds WaitDeadline(const WaitFlags& flags) {
  if (flags.timeout) return *flags.timeout + std::chrono::seconds(5);
  if (flags.no_wait) return kNoWaitTimeout + std::chrono::seconds(5);
  return std::chrono::hours(1);
}

}  // namespace cmcl::pkgctl
