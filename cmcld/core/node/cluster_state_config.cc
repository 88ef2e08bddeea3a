// ClusterState: the apply of issue 9's config ops (cluster_state.h, ConfigProposeOp):
// propose, verdicts, and the coordinator's apply or abort. Each either changes the
// pending proposal and says so in the event ring, or is refused (an outcome pkgctl waits
// for) or stale (an event only); none can fail the batch.
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "cmcld/core/node/cluster_state.h"

namespace cmcl::node {
namespace {

std::string Version(uint64_t version) { return "configuration version " + std::to_string(version); }

}  // namespace

const std::string& ClusterState::bundle() const { return bundle_; }

const std::optional<PendingConfig>& ClusterState::pending_config() const { return pending_config_; }

const std::optional<ConfigOutcome>& ClusterState::config_outcome() const { return config_outcome_; }

std::optional<ConfigOutcome> ClusterState::ConfigOutcomeOf(LogIndex command) const {
  if (config_outcome_ && config_outcome_->command == command) {
    return config_outcome_;
  }
  for (const ConfigOutcome& earlier : config_earlier_) {
    if (earlier.command == command) {
      return earlier;
    }
  }
  return std::nullopt;
}

void ClusterState::EndConfig(LogIndex command, uint64_t version, bool ok, std::string message) {
  if (config_outcome_) {
    config_earlier_.push_back(std::move(*config_outcome_));
    if (config_earlier_.size() > kEarlierConfigOutcomes) {
      config_earlier_.erase(config_earlier_.begin());
    }
  }
  config_outcome_ = ConfigOutcome{
      .command = command, .version = version, .ok = ok, .message = std::move(message)};
}

// The log, not the proposer, says whether a bundle is applied already: a proposer that
// is behind (restarted and not yet caught up) would otherwise answer from an old version
// (CrashRounds: a retried apply answered "version 1 is applied already" after three
// applies, by a node whose applied state was still version 1). A replicated version is
// the same when the hashes are; version 1 (each node's own bootstrap copy, no hash in
// the state) only by the proposer's word, which it gives by proposing `version` equal
// to the applied one (ControlEngine::ConfigApplyChecked) — it holds only if version 1
// is still the applied one when the proposal commits.
bool ClusterState::SameAsApplied(const ConfigProposeOp& op) const {
  if (bundle_hash_.empty()) {
    return config_version_ == 1 && op.version == 1;
  }
  return op.bundle_hash == bundle_hash_;
}

void ClusterState::ApplyConfigPropose(LogIndex index, const ConfigProposeOp& op) {
  std::string refusal;
  if (pending_config_) {
    refusal = "another config apply is in progress (" + Version(pending_config_->proposal.version) +
              ", proposed by " + pending_config_->proposal.by + ")";
  } else if (SameAsApplied(op)) {
    Event(index, false,
          "config apply by " + op.by + ": " + Version(config_version_) + " already (same bundle)");
    EndConfig(index, config_version_, true,
              Version(config_version_) + " is applied already (same bundle); nothing to do");
    return;
  } else if (op.version != config_version_ + 1) {
    refusal = "version " + std::to_string(op.version) +
              " is not next (applied: " + std::to_string(config_version_) +
              ", next: " + std::to_string(config_version_ + 1) + ")";
  } else if (op.bundle.size() > kBundleBytesMax) {
    refusal = "the bundle has " + std::to_string(op.bundle.size()) + " bytes, more than " +
              std::to_string(kBundleBytesMax) + " (snapshots must hold it twice)";
  } else if (op.bundle_hash.empty()) {
    refusal = "the proposal has no bundle hash";
  }
  if (!refusal.empty()) {
    Event(index, false, "config apply by " + op.by + " refused: " + refusal);
    EndConfig(index, op.version, false, std::move(refusal));
    return;
  }
  pending_config_ = PendingConfig{.proposed_at = index, .proposal = op, .verdicts = {}};
  Event(index, false,
        Version(op.version) + " proposed by " + op.by + " (" + std::to_string(op.bundle.size()) +
            " bytes, " + std::to_string(op.packages.size()) +
            " packages): every member validates it");
}

bool ClusterState::IsPending(LogIndex index, std::string_view what, uint64_t version,
                             const std::string& hash) {
  if (pending_config_ && pending_config_->proposal.version == version &&
      pending_config_->proposal.bundle_hash == hash) {
    return true;
  }
  Event(index, false,
        "stale " + std::string(what) + " for " + Version(version) + " (" +
            (pending_config_
                 ? "pending: version " + std::to_string(pending_config_->proposal.version) +
                       (pending_config_->proposal.version == version ? " with another bundle hash"
                                                                     : "")
                 : std::string("nothing pending")) +
            "): dropped");
  return false;
}

void ClusterState::ApplyConfigVerdict(LogIndex index, const ConfigVerdictOp& op) {
  const std::string what = op.node.value() + "'s verdict";
  if (!IsPending(index, what, op.version, op.bundle_hash)) {
    return;
  }
  if (op.proposal != pending_config_->proposed_at) {
    Event(index, false,
          "stale " + what + " for " + Version(op.version) + ": on the proposal at " +
              std::to_string(op.proposal.value()) + ", pending is the one at " +
              std::to_string(pending_config_->proposed_at.value()) + ": dropped");
    return;
  }
  if (pending_config_->verdicts.contains(op.node)) {
    Event(index, false, "stale " + what + " for " + Version(op.version) + ": a repeat, dropped");
    return;
  }
  pending_config_->verdicts.emplace(op.node, op);
  Event(index, !op.ok,
        op.node.value() + (op.ok ? " validated " : " refused ") + Version(op.version) +
            (op.ok ? "" : ": " + op.reason));
}

void ClusterState::ApplyConfigApply(LogIndex index, const ConfigApplyOp& op) {
  if (!IsPending(index, "apply", op.version, op.bundle_hash)) {
    return;
  }
  PendingConfig pending = std::move(*pending_config_);
  pending_config_.reset();
  config_version_ = pending.proposal.version;
  bundle_hash_ = std::move(pending.proposal.bundle_hash);
  bundle_ = std::move(pending.proposal.bundle);
  DropRemovedPackages(index, pending.proposal);
  Event(index, false, Version(config_version_) + " applied (by " + op.by + ")");
  EndConfig(pending.proposed_at, config_version_, true, Version(config_version_) + " applied");
}

// cluster_state.h, "Core decisions": down and failed packages absent from the new version
// lose their records; one that still runs keeps them.
void ClusterState::DropRemovedPackages(LogIndex index, const ConfigProposeOp& proposal) {
  std::set<PackageName> removed;
  for (const auto& [package, assignment] : assignments_) {
    if (!proposal.packages.contains(package)) removed.insert(package);
  }
  for (const auto& [package, record] : packages_) {
    if (!proposal.packages.contains(package)) removed.insert(package);
  }
  for (const PackageName& package : removed) {
    const PackageStatus status = StatusOf(package);
    if (status == PackageStatus::kDown || status == PackageStatus::kFailed) {
      assignments_.erase(package);
      packages_.erase(package);
      Event(index, false,
            package.value() + ": not in " + Version(proposal.version) + "; its records dropped");
    } else {
      Event(index, true,
            package.value() + ": not in " + Version(proposal.version) + " but " +
                std::string(PackageStatusName(status)) + " on " +
                assignments_.at(package).owner->value() + "; its records stay");
    }
  }
}

void ClusterState::ApplyConfigAbort(LogIndex index, const ConfigAbortOp& op) {
  if (!IsPending(index, "abort", op.version, op.bundle_hash)) {
    return;
  }
  const LogIndex command = pending_config_->proposed_at;
  pending_config_.reset();
  Event(index, false, Version(op.version) + " aborted: " + op.reason);
  EndConfig(command, op.version, false, op.reason);
}

}  // namespace cmcl::node
