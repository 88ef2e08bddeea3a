// ControlService: the control API that pkgctl talks to (DESIGN.md sections 2 and 9;
// INTERFACE.md "pkgctl"), gRPC over a Unix socket (default /run/cmcld/cmcld.sock).
//
// The socket: its directory is created 0755, the socket itself 0666 (authorization is
// per caller, below); a path longer than 107 bytes, or one a live daemon answers on,
// is refused by Start() (the daemon exits 2); a stale socket file is replaced. Each
// accepted connection's caller is read with SO_PEERCRED at accept, the fd made
// non-blocking and handed to gRPC (grpc::AddInsecureChannelFromFd; TOOLCHAIN.md), so a
// handler knows the caller's uid/gid by ServerContext::peer() ("fd:N"). Every request,
// reads included, is authorized by the caller's role in the `access` list (root: always
// full_admin; not listed: refused everything; control_engine.h). A refused caller gets
// an answer with exit status 1 and error code "permission_denied" ("permission denied:
// alice (uid 1000) has role monitor; ...") and nothing changes; the gRPC status stays OK, as for
// every answer the daemon renders. Commands are recorded with who issued them (`by`:
// "root@node1", "uid 1000@node1").
//
// Requests (control.proto): view, run, halt, move, check, readiness, events; issue 9:
// enable, clear, node, cluster run/halt, config show, config apply (control_engine.h says
// which wait for what and what each needs). Each answer
// carries the exit status of INTERFACE.md and both renderings: `json` (INTERFACE.md
// "JSON output") and `text` (the table form); pkgctl prints one. run/halt/move propose
// their op through CoreAccess::Propose, and — unless no_wait — wait (bounded by the
// request's timeout; exit 4 when it expires) until ClusterState::OutcomeOf(package,
// command index) appears on this node; OnApplied() is called by the runtime after every
// input the core processed, so waiters complete as soon as the outcome is applied here.
// A move is validated here first (Node::Check, at its --vcpus/--memory size): refused,
// nothing is proposed and the answer lists the violations (INTERFACE.md error form,
// code validation_failed). Unknown package or node: exit 1 with "did you mean".
// Answers to run/halt/move: outcome ok → exit 0 and its message ("started on node2");
// not ok → exit 1; kRejected / kNotLeader (no quorum) / kStale → exit 1;
// kUnknownOutcome, or the timeout → exit 4 (the operation goes on); `no_wait` → exit 0
// once applied ("committed at index N").
//
// Messages: requests up to kControlMessageBytesMax (a config apply carries a bundle of up
// to 3 MiB, node::kBundleBytesMax); answers are not bounded here (a view of thousands of packages
// is megabytes).
//
// Threads: gRPC's handler threads post every request onto the io_context and wait for
// its answer; all CoreAccess calls and all state reads happen on the io thread.
//
// What the runtime must do: run the io_context; call Start() before it serves (an error
// is cmcld's exit 2); call OnApplied() on the io thread after every input the core
// processed (ticks included); answer every Propose's `done` at most once, on the io
// thread (a `done` that never comes is answered by the request's timer: exit 4); keep
// node() and config() valid for the service's life (config() is the applied one the
// node uses); destroy the service on the io thread or after the io_context stopped.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/node.h"
#include "cmcld/core/validation/violation.h"
#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io {

// The largest request the control socket takes (pkgctl's channel sends up to the same).
inline constexpr size_t kControlMessageBytesMax = 32U << 20;

// What the control API needs from the running daemon. Every call on the io thread.
class CoreAccess {
 public:
  virtual ~CoreAccess() = default;
  // Not const: Node::Readiness() recomputes (and caches) the readiness view. The control
  // API only reads through it (state, raft, Readiness, Check); it never feeds inputs.
  virtual node::Node& node() = 0;
  virtual const cmcl::config::ClusterConfig& config() const = 0;
  virtual Time Now() const = 0;
  // Proposes `ops` as one command of the daemon's control client; `done` gets the final
  // reply on the io thread: kApplied with the index the command took effect at, or a
  // refusal (kRejected with its reason). The runtime retries kNotLeader, kBusy and
  // kUnknownOutcome (same sequence, at most once) for a bound of its own (the daemon:
  // max(5s, 3 * node_timeout)), then answers the last reply it had (kNotLeader: "no
  // quorum"). `deadline` is the caller's wait; the daemon's attempt to commit outlives a
  // shorter one, because a timed-out command is answered "it goes on".
  virtual void Propose(node::OpBatch ops, Time deadline,
                       std::function<void(const raft::ClientReply&)> done) = 0;
  // The folder of the applied configuration bundle on this node (STATE_DIR/config/vN),
  // whose cluster.yaml `config show` prints.
  virtual std::string AppliedBundleDir() const = 0;
  // The heartbeat networks to every peer, for view.
  virtual std::map<NodeName, std::vector<NetworkStatus>> Networks() const = 0;
  // config apply (issue 9): the node's state_dir, under which a proposed bundle is
  // written for its checks (STATE_DIR/config/incoming-HASH), and the node's own key file,
  // with which it is loaded. Defaults: the folder two levels above AppliedBundleDir()
  // (STATE_DIR/config/vN) and config()'s key file.
  virtual std::string StateDirPath() const;
  virtual std::string KeyFile() const { return config().security.key_file; }
  // The settings in effect that a config apply may not change (bundle_check.h
  // FixedSettingChange): this node's own files, which its identity, addresses and timing
  // come from. Default: config().
  virtual const cmcl::config::ClusterConfig& SettingsInEffect() const { return config(); }
  // An operator's move that this node refused by migration validation before proposing
  // it (cmcl_validation_refusals_total, source="command"), with the codes of its
  // violations, each once. Default: nothing (no metrics).
  virtual void MoveRefused(const std::set<validation::ViolationCode>& codes) { (void)codes; }
};

class ControlService {
 public:
  struct Options {
    std::string socket_path = "/run/cmcld/cmcld.sock";
    Duration default_timeout = std::chrono::seconds(120);  // When pkgctl sends none.
  };

  ControlService(boost::asio::io_context& io, CoreAccess& core, Options options);
  // Stops accepting, answers outstanding requests "shutting down" (exit 1), stops the
  // gRPC server and removes the socket file. Call it on the io thread, or after the
  // io_context stopped: it destroys the timers of waiting requests.
  ~ControlService();

  // Binds the socket and starts serving. InvalidArgument for a path > 107 bytes,
  // Unavailable when another daemon answers there.
  Status Start();
  // After every input the core processed: completes the waiters whose outcome is
  // applied here, and those whose timeout passed.
  void OnApplied();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmcl::io
