// ControlEngine's `config apply` (control_engine.h; DESIGN.md section 8; the protocol is
// the comment above ConfigProposeOp in core/node/cluster_state.h). pkgctl built the
// bundle from the caller's files; this node checks it before proposing, so that what
// can be refused here is refused at once, with the reason, and nothing is committed:
// bytes that are not a bundle or a configuration that does not load with this node's
// key (exit 2, a configuration error), a fixed setting changed (the voters, the cluster
// name, the timing), a driver missing here, or a package that would be stranded (exit
// 1). The same bundle as the applied version answers exit 0 without proposing. Then the
// proposal goes through the log, every member validates it, and the coordinator applies
// or aborts it; the answer is the config outcome of that proposal.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>
#include <utility>

#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_check.h"
#include "cmcld/io/control/control_engine.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

std::string ControlEngine::AppliedBundleHash() const {
  const std::string& hash = core_.node().state().bundle_hash();
  if (!hash.empty()) return hash;
  // Version 1 is each node's own bootstrap copy until the first apply.
  const std::string dir = core_.AppliedBundleDir();
  if (dir.empty()) return {};
  Result<Bundle> bundle = ReadBundleDir(dir);
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
  Result<Candidate> candidate =
      OpenCandidate(request.bundle(), core_.StateDirPath(), core_.KeyFile());
  if (!candidate.ok()) {
    const bool invalid = candidate.status().code() == StatusCode::kInvalidArgument;
    return call->Finish(ErrorAnswer(invalid ? "invalid_config" : "unavailable",
                                    "config apply refused: " + candidate.status().message(),
                                    invalid ? kExitUsage : kExitRefused));
  }
  const node::ClusterState& state = core_.node().state();
  const uint64_t applied = state.config_version();
  if (candidate->hash == AppliedBundleHash()) {
    return call->Finish(ConfigApplyAnswer(
        applied, candidate->hash,
        "configuration version " + std::to_string(applied) +
            " is applied already (same bundle); nothing to do",
        0));
  }
  std::optional<std::string> refusal = FixedSettingChange(core_.config(), candidate->config);
  if (!refusal) {
    // Only the drivers are left to check: this node's, as its own verdict will.
    const NodeName& self = core_.node().self();
    std::optional<std::string> local = VerdictRefusal(core_.config(), candidate->config, self);
    if (local) refusal = self.value() + ": " + *local;
  }
  if (!refusal) refusal = StrandedPackage(state, candidate->config);
  if (refusal) {
    return call->Finish(ErrorAnswer("refused", "config apply refused: " + *refusal +
                                                   "; configuration version " +
                                                   std::to_string(applied) + " stays applied"));
  }
  return call->Finish(ErrorAnswer(
      "unavailable", "config apply: the proposal needs the core half of issue 9 (not merged)"));
}

}  // namespace cmcl::io::control
