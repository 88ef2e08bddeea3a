// NetnsLab: a private network for the nodes of a LocalCluster, so a test can cut links
// between real daemons (issue 11; DESIGN.md section 7, "partitions between nodes living
// in network namespaces the test creates").
//
// The lab creates, under one name prefix unique to this process and lab
// ("cmcl-it<pid>-<n>-"), one network namespace per node ("...nK") and one "switch"
// namespace ("...sw") holding a bridge per heartbeat network (br0, br1, ...). Node K's
// interface ethM is one end of a veth pair whose other end (nKeM) is a port of bridge
// brM in the switch namespace, and carries the address 10.201.M.(K+1)/24. These
// addresses and every interface exist only inside the lab's namespaces: the host's own
// interfaces, addresses and routes are never touched, and nothing in the root namespace
// is created. Ports need not be free on the host: every node has its own port space.
//
// Faults (no sch_netem and no tc classifiers on the target kernel, so none of loss or
// delay):
//   SetLink(k, m, up)   the switch-side end of node k's cable on network m down/up: its
//                       packets on that network vanish both ways (no RST, no ICMP) — a
//                       pulled cable.
//   Drop(from, to, on)  blackhole routes in `from`'s namespace for `to`'s addresses:
//                       what `from` sends to `to` is dropped at `from` (a local sender gets
//                       EINVAL on connect). One way at the IP level; TCP needs both ways,
//                       so new connections stall in the other direction too (the SYN-ACK
//                       is dropped) and established ones stall once their ACKs are lost.
//
// With `Switch::kLossyHub` the bridges are replaced by a userspace hub (tap_hub.h): node
// k's ethM is a TAP device the test process serves, and hub() sets per-direction loss
// and delay (what netem would do); SetLink pulls the cable in the hub.
//
// The destructor deletes exactly the namespaces this lab created (their veths and
// bridges go with them), on failure too; a process still inside keeps its namespace
// alive until it exits, which LocalCluster's destructor ensures. Not root, or no
// `ip netns`: ok() is false and error() says why (tests then skip).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/tap_hub.h"

namespace cmcl::testing {

class NetnsLab {
 public:
  enum class Switch { kBridge, kLossyHub };
  NetnsLab(int nodes, int networks, Switch kind = Switch::kBridge);
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // /run/netns/NAME of node k's namespace (for nsenter --net=).
  std::string NetnsPath(int node) const;
  // Node k's address on network m, without a port.
  static std::string Address(int node, int network);

  // Each returns false (and adds a test failure naming the command) if `ip` failed.
  bool SetLink(int node, int network, bool up);
  // Every network of `node` at once: the node isolated (or healed).
  bool SetNodeLinks(int node, bool up);
  bool Drop(int from, int to, bool drop);
  // The userspace hub (Switch::kLossyHub), else null.
  TapHub* hub() { return hub_.get(); }

 private:
  bool Ip(const std::vector<std::string>& args, bool report = true);
  std::string NodeNs(int node) const { return prefix_ + "n" + std::to_string(node + 1); }
  std::string SwitchNs() const { return prefix_ + "sw"; }
  bool Build(Switch kind);
  bool BuildHub();

  int nodes_;
  int networks_;
  std::string prefix_;
  std::string error_;
  std::vector<std::string> created_;  // Namespaces this lab made, deleted by the destructor.
  std::unique_ptr<TapHub> hub_;
};

}  // namespace cmcl::testing
