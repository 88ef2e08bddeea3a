#include "tests/integration/netns_lab.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

std::atomic<int> labs_made{0};

}  // namespace

NetnsLab::NetnsLab(int nodes, int networks, Switch kind)
    : nodes_(nodes),
      networks_(networks),
      prefix_("cmcl-it" + std::to_string(getpid()) + "-" + std::to_string(++labs_made) + "-") {
  if (geteuid() != 0) {
    error_ = "network namespaces need root (ip netns add); run as root as CI does";
    return;
  }
  if (!Build(kind) && error_.empty()) {
    error_ = "could not build the lab's namespaces";
  }
}

NetnsLab::~NetnsLab() {
  hub_.reset();  // Its TAPs first.
  // Only what this lab created, newest first; the veths and bridges go with them.
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    Ip({"netns", "delete", *it}, false);
  }
}

bool NetnsLab::Ip(const std::vector<std::string>& args, bool report) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = RunCommand(argv, std::chrono::seconds(20));
  if (result.exit_status != 0) {
    std::string line;
    for (const std::string& arg : argv) line += arg + " ";
    if (report) ADD_FAILURE() << "`" << line << "` failed: " << result.err;
    if (error_.empty()) error_ = "`" + line + "` failed: " + result.err;
    return false;
  }
  return true;
}

bool NetnsLab::Build(Switch kind) {
  // The first `ip netns add` tells whether namespaces are possible here at all: its
  // failure is a reason to skip, not a test failure.
  if (!Ip({"netns", "add", SwitchNs()}, false)) return false;
  created_.push_back(SwitchNs());
  for (int k = 0; k < nodes_; ++k) {
    if (!Ip({"netns", "add", NodeNs(k)})) return false;
    created_.push_back(NodeNs(k));
    if (!Ip({"-n", NodeNs(k), "link", "set", "lo", "up"})) return false;
  }
  if (kind == Switch::kLossyHub) return BuildHub();
  for (int m = 0; m < networks_; ++m) {
    const std::string bridge = "br" + std::to_string(m);
    if (!Ip({"-n", SwitchNs(), "link", "add", bridge, "type", "bridge"}) ||
        !Ip({"-n", SwitchNs(), "link", "set", bridge, "up"})) {
      return false;
    }
    for (int k = 0; k < nodes_; ++k) {
      const std::string port = "n" + std::to_string(k + 1) + "e" + std::to_string(m);
      const std::string inside = "eth" + std::to_string(m);
      if (!Ip({"-n", SwitchNs(), "link", "add", port, "type", "veth", "peer", "name", inside,
               "netns", NodeNs(k)}) ||
          !Ip({"-n", SwitchNs(), "link", "set", port, "master", bridge, "up"}) ||
          !Ip({"-n", NodeNs(k), "addr", "add", Address(k, m) + "/24", "dev", inside}) ||
          !Ip({"-n", NodeNs(k), "link", "set", inside, "up"})) {
        return false;
      }
    }
  }
  return true;
}

bool NetnsLab::BuildHub() {
  std::vector<std::string> paths;
  for (int k = 0; k < nodes_; ++k) paths.push_back(NetnsPath(k));
  hub_ = std::make_unique<TapHub>(paths, networks_);
  if (!hub_->ok()) {
    error_ = "userspace hub: " + hub_->error();  // No TUN/TAP here: a reason to skip.
    return false;
  }
  for (int k = 0; k < nodes_; ++k) {
    for (int m = 0; m < networks_; ++m) {
      if (!Ip({"-n", NodeNs(k), "addr", "add", Address(k, m) + "/24", "dev", TapHub::Device(m)}) ||
          !Ip({"-n", NodeNs(k), "link", "set", TapHub::Device(m), "up"})) {
        return false;
      }
    }
  }
  return true;
}

std::string NetnsLab::NetnsPath(int node) const { return "/run/netns/" + NodeNs(node); }

std::string NetnsLab::Address(int node, int network) {
  return "10.201." + std::to_string(network) + "." + std::to_string(node + 1);
}

bool NetnsLab::SetLink(int node, int network, bool up) {
  if (hub_) {
    hub_->SetCable(node, network, up);
    return true;
  }
  const std::string port = "n" + std::to_string(node + 1) + "e" + std::to_string(network);
  return Ip({"-n", SwitchNs(), "link", "set", port, up ? "up" : "down"});
}

bool NetnsLab::SetNodeLinks(int node, bool up) {
  bool all = true;
  for (int m = 0; m < networks_; ++m) all = SetLink(node, m, up) && all;
  return all;
}

bool NetnsLab::Drop(int from, int to, bool drop) {
  bool all = true;
  for (int m = 0; m < networks_; ++m) {
    all = Ip({"-n", NodeNs(from), "route", drop ? "add" : "del", "blackhole",
              Address(to, m) + "/32"}) &&
          all;
  }
  return all;
}

}  // namespace cmcl::testing
