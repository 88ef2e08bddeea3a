#include "tests/sim/config_checker.h"

#include <algorithm>
#include <variant>

namespace cmcl::sim {

void ConfigChecker::OnCommitted(const node::ClusterState& before,
                                const raft::ApplyEntry& apply) {
  if (apply.entry.kind != raft::EntryKind::kCommand || apply.duplicate) {
    return;
  }
  const std::optional<node::OpBatch> ops = node::DecodeOps(apply.entry.command.payload);
  if (!ops) {
    return;
  }
  for (const node::Op& op : *ops) {
    const std::optional<node::PendingConfig>& pending = before.pending_config();
    if (const auto* abort = std::get_if<node::ConfigAbortOp>(&op)) {
      aborted_ += pending && pending->proposal.version == abort->version ? 1U : 0U;
      continue;
    }
    const auto* commit = std::get_if<node::ConfigApplyOp>(&op);
    if (commit == nullptr || !pending || pending->proposal.version != commit->version ||
        pending->proposal.bundle_hash != commit->bundle_hash) {
      continue;  // Not an apply, or a stale one (the state drops it).
    }
    ++applied_;
    CheckStranding(before, *pending);
    versions_[commit->version] = {pending->proposal.bundle_hash, pending->proposal.bundle};
  }
}

void ConfigChecker::CheckStranding(const node::ClusterState& before,
                                   const node::PendingConfig& pending) {
  for (const auto& [package, assignment] : before.assignments()) {
    const node::PackageStatus status = before.StatusOf(package);
    if (status == node::PackageStatus::kDown || status == node::PackageStatus::kFailed ||
        violation_) {
      continue;
    }
    const auto it = pending.proposal.packages.find(package);
    const bool listed = it != pending.proposal.packages.end() &&
                        std::find(it->second.begin(), it->second.end(), *assignment.owner) !=
                            it->second.end();
    if (!listed) {
      violation_ = "config apply stranded a package: version " +
                   std::to_string(pending.proposal.version) + " applied while " +
                   package.value() + " is " + std::string(node::PackageStatusName(status)) +
                   " on " + assignment.owner->value() + ", which it does not list for it";
    }
  }
}

void ConfigChecker::OnNodeState(const NodeName& node, const node::ClusterState& state) {
  if (state.config_version() <= 1 || violation_) {
    return;  // Version 1 is each node's bootstrap copy.
  }
  const auto it = versions_.find(state.config_version());
  if (it == versions_.end()) {
    violation_ = node.value() + " holds configuration version " +
                 std::to_string(state.config_version()) + ", which no committed apply made";
  } else if (it->second.first != state.bundle_hash() || it->second.second != state.bundle()) {
    violation_ = node.value() + " holds configuration version " +
                 std::to_string(state.config_version()) + " with hash " + state.bundle_hash() +
                 " (" + std::to_string(state.bundle().size()) + " bytes); the committed one: " +
                 it->second.first + " (" + std::to_string(it->second.second.size()) + " bytes)";
  }
}

}  // namespace cmcl::sim
