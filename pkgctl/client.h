// The client side of the control API (cmcld/io/control/control.proto): one call to the
// local cmcld over its Unix socket, and the printing of its answer.
//
// The daemon renders every answer in both forms; pkgctl prints `json` with -o json,
// else `text` (on stderr, as "pkgctl: ...", when the answer is an error), and exits with
// the answer's status. When the daemon cannot be reached — no socket, nobody listening,
// no permission — the command fails fast (a plain connect() first, so an absent daemon
// costs microseconds, not gRPC's connection backoff) with exit 3 and
// "cannot reach cmcld at PATH: reason".
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cmcld/io/control/control.grpc.pb.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

// How long a call may take: reads answer at once; waiting commands get their timeout.
inline constexpr std::chrono::seconds kReadDeadline{10};
// Commands answered once committed (enable, disable): past the daemon's default timeout.
inline constexpr std::chrono::seconds kWriteDeadline{150};

using Rpc =
    std::function<grpc::Status(::cmcl::control::Control::Stub& stub, grpc::ClientContext& context,
                               ::cmcl::control::Reply& reply)>;

// For pkgctl's main only, which must then end with EndProcess: every call's gRPC channel
// is kept until the process ends instead of being destroyed after the call. When the last
// channel goes, gRPC shuts down and waits for its threads, about 10 ms of every command
// (a fifth of a `pkgctl move`; docs/BENCHMARKS.md). A test calling commands in its own
// process does not call it, and gets the orderly shutdown.
void KeepChannelsUntilExit();
// Flushes std::cout and std::cerr and ends the process with `exit_status` without
// running static destructors (gRPC's threads may still run: see KeepChannelsUntilExit).
[[noreturn]] void EndProcess(int exit_status);

// Calls cmcld at options.socket, prints the answer and returns the exit status.
// `waits`: a deadline that expires is exit 4 (the operation may go on), not exit 3.
int CallDaemon(const GlobalOptions& options, const Rpc& rpc, std::chrono::milliseconds deadline,
               bool waits, std::ostream& out, std::ostream& err);

// Prints a failure the way INTERFACE.md asks and returns `exit_status`.
int Fail(const GlobalOptions& options, const std::string& code, const std::string& message,
         int exit_status, std::ostream& out, std::ostream& err);

// --no-wait and --timeout DURATION, shared by run, halt and move.
struct WaitFlags {
  bool no_wait = false;
  std::optional<std::chrono::milliseconds> timeout;
};
// Takes --no-wait / --timeout D from args[i] (advancing i past a value). True when the
// argument was one of them; `error` is set for a bad or missing duration.
bool ParseWaitFlag(const std::vector<std::string>& args, size_t& i, WaitFlags& flags,
                   std::string& error);
// How long --no-wait waits for the commit when no --timeout is given.
inline constexpr std::chrono::seconds kNoWaitTimeout{30};
// The timeout_ms to send: --timeout, else kNoWaitTimeout with --no-wait, else 0 (the
// daemon's default).
int64_t TimeoutMs(const WaitFlags& flags);
// The client's deadline for a waiting command: its timeout plus a margin for the answer
// to come back (else an hour: the daemon's default bounds the wait).
std::chrono::milliseconds WaitDeadline(const WaitFlags& flags);

// -t/--preview (issue 10 item 3; pkgctl/preview.cc). TakePreview removes every -t and
// --preview before "--" from `args` and says whether there was one. CallPreview sends
// `request` (its command set) as a preview, the header naming "pkgctl COMMAND ARGS"
// (the args without -t); NoPreview is the usage error (exit 2) of a command or form
// that does not take -t.
bool TakePreview(std::vector<std::string>& args);
int CallPreview(const GlobalOptions& options, ::cmcl::control::PreviewRequest request,
                const std::string& command, const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err);
int NoPreview(const GlobalOptions& options, const std::string& what, std::ostream& out,
              std::ostream& err);

}  // namespace cmcl::pkgctl
