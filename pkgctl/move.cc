// `pkgctl move PKG -n NODE [--vcpus N] [--memory SIZE] [--no-wait] [--timeout D]` (HPVM:
// hpvmmigrate -P guest -h host [-c] [-r]): validate, halt on its node, start on NODE.
// Refused by validation, nothing is halted and the violations are printed.
#include <cstdlib>
#include <string>
#include <vector>

#include "cmcld/core/common/units.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {
namespace {

// Takes the value of option args[i] into `value`; false when it is missing.
bool Value(const std::vector<std::string>& args, size_t& i, std::string& value) {
  if (i + 1 >= args.size()) return false;
  value = args[++i];
  return true;
}

std::string SizeOption(const std::string& value, ::cmcl::control::MoveRequest& request) {
  const std::optional<ByteSize> memory = ParseByteSize(value);
  if (!memory || memory->mebibytes() == 0) {
    return "--memory: \"" + value + "\" is not a size (e.g. 4GiB, 512MiB)";
  }
  request.set_memory_mb(memory->mebibytes());
  return "";
}

std::string VcpuOption(const std::string& value, ::cmcl::control::MoveRequest& request) {
  if (value.empty() || value.size() > 4 ||
      value.find_first_not_of("0123456789") != std::string::npos || std::atoi(value.c_str()) == 0) {
    return "--vcpus: \"" + value + "\" is not a positive count";
  }
  request.set_vcpus(static_cast<uint32_t>(std::atoi(value.c_str())));
  return "";
}

}  // namespace

int RunMove(const GlobalOptions& options, const std::vector<std::string>& command_args,
            std::ostream& out, std::ostream& err) {
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  ::cmcl::control::MoveRequest request;
  WaitFlags wait;
  std::string error;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    std::string value;
    if (arg == "-h" || arg == "--help") {
      out << kMoveHelp;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    const bool takes_value =
        arg == "-n" || arg == "--node" || arg == "--vcpus" || arg == "--memory";
    if (takes_value && !Value(args, i, value)) {
      error = arg + " needs a value";
    } else if (arg == "-n" || arg == "--node") {
      request.set_node(value);
    } else if (arg == "--vcpus") {
      error = VcpuOption(value, request);
    } else if (arg == "--memory") {
      error = SizeOption(value, request);
    } else if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl move --help)";
    } else if (request.package().empty()) {
      request.set_package(arg);
    } else {
      error = "expected one PKG";
    }
  }
  if (error.empty() && request.package().empty()) error = "missing PKG (see pkgctl move --help)";
  if (error.empty() && request.node().empty()) error = "missing -n NODE (the target)";
  if (!error.empty()) return UsageError(options, "move: " + error, out, err);
  if (preview) {
    ::cmcl::control::PreviewRequest preview_request;
    *preview_request.mutable_move() = request;
    return CallPreview(options, preview_request, "move", args, out, err);
  }
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Move(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

}  // namespace cmcl::pkgctl
