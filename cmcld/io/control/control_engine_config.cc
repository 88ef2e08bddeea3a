// ControlEngine's `config apply` (control_engine.h; DESIGN.md section 8; the protocol is
// the comment above ConfigProposeOp in core/node/cluster_state.h). pkgctl built the
// bundle from the caller's files; this node checks it before proposing, so that what
// can be refused here is refused at once, with the reason, and nothing is committed:
// bytes that are not a bundle or a configuration that does not load with this node's
// key (exit 2, a configuration error), a fixed setting changed (the voters, the cluster
// name, the timing), a driver missing here, or a package that would be stranded (exit
// 1). The same bundle as the applied version is proposed without its bytes, and the log
// says whether it is still the applied one (exit 0, "applied already"). Then the
// proposal goes through the log, every member validates it, and the coordinator applies
// or aborts it; the answer is the config outcome of that proposal.
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <thread>
#include <string>
#include <utility>

#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_check.h"
#include "cmcld/io/control/control_engine.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

std::string ControlEngine::AppliedBundleHash() const {
  const node::ClusterState& state = core_.node().state();
  if (!state.bundle_hash().empty()) return state.bundle_hash();
  // Version 1 is each node's own bootstrap copy until the first apply: its own folder,
  // never the applied folder, which on a node restarted after later applies is already
  // a later version while its state is still catching up.
  if (state.config_version() != 1) return {};
  Result<Bundle> bundle = ReadBundleDir(core_.StateDirPath() + "/config/v1");
  return bundle.ok() ? BundleHash(EncodeBundle(*bundle)) : std::string();
}

void ControlEngine::ConfigApply(const Caller& caller, const pb::ConfigApplyRequest& request,
                                std::shared_ptr<Call> call) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kFullAdmin)) {
    return call->Finish(*std::move(refused));
  }
  const std::string from = request.source().empty() ? "" : " (from " + request.source() + ")";
  spdlog::info("control: config apply of a {}-byte bundle{} by {}", request.bundle().size(), from,
               By(caller));
  if (request.bundle().size() > node::kBundleBytesMax) {
    return call->Finish(ErrorAnswer(
        "invalid_config",
        "config apply refused: the bundle has " + std::to_string(request.bundle().size()) +
            " bytes; the replicated state holds at most " +
            std::to_string(node::kBundleBytesMax) + " per version (scripts and package files "
            "only: keep images and data out of package folders)",
        kExitUsage));
  }
  // Writing and loading the bundle takes up to half a second on a slow disk: on a thread
  // of its own, not the io thread that keeps the heartbeats going.
  const std::weak_ptr<ControlEngine> weak = weak_from_this();
  std::erase_if(checks_, [](const BundleCheck& check) { return check.done->load(); });
  auto done = std::make_shared<std::atomic<bool>>(false);
  checks_.push_back(BundleCheck{
      .done = done,
      .thread = std::jthread([this, weak, done, caller, request, call, dir = core_.StateDirPath(),
                              key = core_.KeyFile()] {
        auto candidate =
            std::make_shared<Result<Candidate>>(OpenCandidate(request.bundle(), dir, key));
        boost::asio::post(io_, [weak, caller, request, call, candidate] {
          if (const std::shared_ptr<ControlEngine> self = weak.lock()) {
            self->ConfigApplyChecked(caller, request, std::move(*candidate), call);
          }
        });
        done->store(true);
      })});
}

void ControlEngine::ConfigApplyChecked(const Caller& caller,
                                       const pb::ConfigApplyRequest& request,
                                       Result<Candidate> candidate, std::shared_ptr<Call> call) {
  if (!candidate.ok()) {
    const bool invalid = candidate.status().code() == StatusCode::kInvalidArgument;
    return call->Finish(ErrorAnswer(invalid ? "invalid_config" : "unavailable",
                                    "config apply refused: " + candidate.status().message(),
                                    invalid ? kExitUsage : kExitRefused));
  }
  const uint64_t applied = core_.node().state().config_version();
  node::ConfigProposeOp op{
      .version = applied + 1, .bundle_hash = candidate->hash, .by = By(caller)};
  std::string what = "config apply of version " + std::to_string(op.version);
  if (candidate->hash == AppliedBundleHash()) {
    // The same bundle as the version this node has applied. This node may be behind,
    // so the log answers (ClusterState::SameAsApplied): the proposal names the applied
    // version, carries no bytes, and is "applied already" or "not next" when it commits.
    op.version = applied;
    what = "config apply (the same bundle as version " + std::to_string(applied) + ")";
  } else if (std::optional<Answer> answer = CheckCandidate(*candidate)) {
    return call->Finish(*std::move(answer));
  } else {
    op.bundle = request.bundle();
    op.packages = PackageNodes(candidate->config);
  }
  OutcomeCheck outcome = [this](raft::LogIndex index) { return ConfigOutcome(index); };
  Operate(what, Subject{"cluster", core_.config().cluster_name.value()}, {std::move(op)},
          request.no_wait(), TimeoutOf(request.timeout_ms()), std::move(outcome),
          std::move(call));
}

std::optional<Answer> ControlEngine::CheckCandidate(const Candidate& candidate) const {
  const node::ClusterState& state = core_.node().state();
  const uint64_t applied = state.config_version();
  const config::ClusterConfig& in_effect = core_.SettingsInEffect();
  std::optional<std::string> refusal = FixedSettingChange(in_effect, candidate.config);
  if (!refusal) {
    // Only the drivers are left to check: this node's, as its own verdict will.
    const NodeName& self = core_.node().self();
    std::optional<std::string> local = VerdictRefusal(in_effect, candidate.config, self);
    if (local) refusal = self.value() + ": " + *local;
  }
  if (!refusal) refusal = StrandedPackage(state, candidate.config);
  if (refusal) {
    return ErrorAnswer("refused", "config apply refused: " + *refusal +
                                      "; configuration version " + std::to_string(applied) +
                                      " stays applied");
  }
  if (const std::optional<node::PendingConfig>& pending = state.pending_config()) {
    return ErrorAnswer("in_progress", "config apply refused: version " +
                                          std::to_string(pending->proposal.version) + " (by " +
                                          pending->proposal.by + ") is being validated; try " +
                                          "again once it has ended (pkgctl events)");
  }
  return std::nullopt;
}

std::optional<Answer> ControlEngine::ConfigOutcome(raft::LogIndex index) const {
  const node::ClusterState& state = core_.node().state();
  const std::optional<node::ConfigOutcome> end = state.ConfigOutcomeOf(index);
  if (!end) return std::nullopt;  // Members are still validating it.
  if (!end->ok) {
    return ErrorAnswer("refused", "config apply refused: " + end->message +
                                      "; configuration version " +
                                      std::to_string(state.config_version()) + " stays applied");
  }
  const std::string hash = end->version == state.config_version() ? AppliedBundleHash() : "";
  return ConfigApplyAnswer(end->version, hash, end->message, index.value());
}

}  // namespace cmcl::io::control
