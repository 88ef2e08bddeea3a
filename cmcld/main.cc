// cmcld: the cluster daemon (INTERFACE.md "cmcld"; DESIGN.md section 2).
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cmcld/io/realtime.h"
#include "cmcld/io/runtime/daemon.h"

namespace {

constexpr const char* kHelp = R"(NAME
    cmcld - the cmcl cluster daemon: membership, leases and the node's guest packages

SYNOPSIS
    cmcld --config CLUSTER_YAML --node NAME [--state-dir DIR] [--socket PATH]
          [--log-level trace|debug|info|warn|error] [--log-file PATH] [--guard PATH]

DESCRIPTION
    Runs node NAME of the cluster described in CLUSTER_YAML. Peer traffic goes over the
    node's addresses (several addresses = several heartbeat networks); pkgctl talks to it
    on a Unix socket (default /run/cmcld/cmcld.sock). State - the identity, the raft log,
    the applied configuration bundle and the package logs - lives in --state-dir (default:
    the node's state_dir, else /var/lib/cmcld).

    cmcld starts cmcl-guard when none is attached to the state dir and re-attaches to a
    running one after a restart: when the node's lease runs out (cmcld killed, hung or
    cut off), the guard kills the node's guests on time. With fence_action: reboot the
    guard also holds watchdog_device and pets it only while the lease lasts; cmcld
    refuses to start (exit 2) when the device cannot be opened or its timeout breaks
    the rule watchdog_timeout + 2 x heartbeat_interval + 300ms <= node_timeout.

    SIGTERM or SIGINT: the node leaves cleanly (its packages move or halt per
    shutdown_policy; without quorum their halt scripts run), then cmcld exits 0. A
    second signal exits at once; cmcl-guard keeps guarding what still runs.

OPTIONS
    --guard PATH   the cmcl-guard executable (default: next to cmcld)

EXIT STATUS
    0 stopped cleanly; 2 it could not start: a bad configuration, an unknown node, a
    busy address, a socket path over 107 bytes, a locked or unusable state dir - said in
    one line before anything starts; 3 with fence_action: reboot, a reset was needed (a
    stray guest that will not die, a fail-fast) and cmcl-guard could not be asked.
)";

int Usage(const std::string& message) {
  std::cerr << "cmcld: " << message << " (try cmcld --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  cmcl::io::DaemonOptions options;
  std::string log_level = "info";
  std::string log_file;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kHelp;
      return 0;
    }
    std::string* target = nullptr;
    if (arg == "--config") target = &options.config_path;
    else if (arg == "--node") target = &options.node;
    else if (arg == "--state-dir") target = &options.state_dir;
    else if (arg == "--socket") target = &options.socket_path;
    else if (arg == "--log-level") target = &log_level;
    else if (arg == "--log-file") target = &log_file;
    else if (arg == "--guard") target = &options.guard_binary;
    else return Usage("unknown argument '" + arg + "'");
    if (i + 1 >= args.size()) {
      return Usage(arg + " needs a value");
    }
    *target = args[++i];
  }
  if (options.config_path.empty() || options.node.empty()) {
    return Usage("--config and --node are required");
  }
  const spdlog::level::level_enum level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    return Usage("unknown --log-level '" + log_level + "'");
  }
  try {
    auto logger = log_file.empty()
                      ? spdlog::stderr_logger_mt("cmcld")
                      : spdlog::basic_logger_mt("cmcld", log_file);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + options.node + ": %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  } catch (const spdlog::spdlog_ex& error) {
    return Usage(std::string("cannot open the log file: ") + error.what());
  }
  spdlog::set_level(level);

  // A peer or the guard that goes away must be an error on that socket, not the end of
  // the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  // Before any thread exists, so that every thread runs real-time (realtime.h).
  if (const std::optional<std::string> refused =
          cmcl::io::EnterRealtime(cmcl::io::kCmcldRealtimePriority)) {
    spdlog::warn("{}", *refused);
  }
  cmcl::io::Daemon daemon(options);
  if (const cmcl::Status started = daemon.Start(); !started.ok()) {
    std::cerr << "cmcld: " << started.message() << "\n";
    if (!log_file.empty()) {
      spdlog::error("cannot start: {}", started.message());
    }
    return 2;
  }
  return daemon.Run();
}
