// Daemon: one running cmcld (DESIGN.md section 2; INTERFACE.md "cmcld"). It owns the
// core::Node and every adapter, and is the only place where they meet.
//
// Threads. One Asio io_context thread owns the Node: every input — a peer message, the
// wakeup timer, a persist made durable, a guard ack, a guest report, a control request,
// a signal — arrives there as a posted handler, calls the Node, and the returned
// NodeActions are executed at once, in the order node.h prescribes: each raft batch
// (persist submitted to storage, sends, replies), then guard requests, then guest
// actions, then log lines. No locks around core state: the adapters' own threads
// (storage, gRPC, the guard socket) only ever post.
//
// Start order, each step's failure a one-line error and exit 2 before anything else is
// started: configuration (loaded and validated), state_dir (identity, lock), the raft
// log (recovered, torn tail truncated), the bootstrap bundle (state_dir/config/v1: the
// cluster file and every package folder, copied once; scripts run only from there), the
// guard (attached or started; with fence_action reboot it must hold the watchdog with a
// timeout that keeps the rule of core/node/watchdog.h, else "fence_action reboot: ..."),
// the peer servers, the control socket, the metrics listener (only with a
// metrics_address: "metrics_address 127.0.0.1:9650: cannot listen: ..." when it cannot
// bind); then the Node is built from the recovered state and attached to what the guard
// holds.
//
// Configuration versions (config apply, issue 9; config_versions.h). The node's own
// files give its identity, key, addresses and timing; the packages, nodes and access
// list come from the applied version: v1 (the bootstrap copy) until the replicated
// state names a later one, which is then written to STATE_DIR/config/vN from the
// state's bundle bytes and handed to the Node (SetConfig) and the control API — at
// start from a snapshot too, with a warning when the own files differ. While a proposal
// is pending, a member validates it (bundle_check.h JudgeProposal) and commits its
// verdict once per proposal and incarnation. Writing and loading a bundle (up to half a
// second on a slow disk) runs on a thread of its own and the result is posted back, so
// it never holds up heartbeats and grants; only at start is the applied version written
// before anything else. Each guest runs, halts and is
// killed with the scripts of the version that started it.
//
// Stop. SIGTERM or SIGINT: Node::Shutdown (DESIGN.md section 5: per shutdown_policy with
// quorum, halt scripts without), then the daemon exits 0 once ShutdownDone() — or after
// `stop_timeout`, leaving whatever still runs to the guard. A second signal exits at
// once (the guard still guards). Detaching from the guard lets it exit when nothing is
// registered.
#pragma once

#include <memory>
#include <string>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"

namespace cmcl::io {

struct DaemonOptions {
  std::string config_path;
  std::string node;
  std::string state_dir;    // Empty: the node's state_dir from the configuration.
  std::string socket_path;  // Empty: /run/cmcld/cmcld.sock.
  std::string guard_binary; // Empty: cmcl-guard next to cmcld (or in its guard/ folder).
  Duration stop_timeout = std::chrono::seconds(300);
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Everything of "Start order" above. An error is the one line to print before exit 2.
  Status Start();
  // Serves until stopped; returns the exit status.
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmcl::io
