#include "cmcld/io/control/control_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/io/control/access.h"
#include "cmcld/io/control/view_render.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

void Call::Finish(Answer answer) {
  {
    std::lock_guard lock(mutex_);
    if (answer_) return;
    answer_ = std::move(answer);
  }
  done_.notify_all();
}

ControlEngine::ControlEngine(boost::asio::io_context& io, CoreAccess& core,
                             Duration default_timeout)
    : io_(io), core_(core), default_timeout_(default_timeout) {}

ControlEngine::~ControlEngine() { Stop(); }

namespace {

// Where to look after an answer that is not the end: "pkgctl view hpvm1".
std::string SeeView(const ControlEngine::Subject& subject) {
  return subject.key == "cluster" ? "pkgctl view" : "pkgctl view " + subject.name;
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string match = ClosestMatch(word, candidates);
  return match.empty() ? "" : "; did you mean \"" + match + "\"?";
}

}  // namespace

std::optional<Answer> ControlEngine::UnknownPackage(const std::string& name) const {
  const config::ClusterConfig& config = core_.config();
  if (config.FindPackage(PackageName(name)) != nullptr) return std::nullopt;
  std::vector<std::string> names;
  for (const config::PackageSpec& spec : config.packages) names.push_back(spec.name.value());
  return ErrorAnswer("not_found", "unknown package \"" + name + "\"" + DidYouMean(name, names));
}

std::optional<Answer> ControlEngine::UnknownNode(const std::string& name) const {
  const config::ClusterConfig& config = core_.config();
  if (config.FindNode(NodeName(name)) != nullptr) return std::nullopt;
  std::vector<std::string> names;
  for (const config::NodeSpec& spec : config.nodes) names.push_back(spec.name.value());
  return ErrorAnswer("not_found", "unknown node \"" + name + "\"" + DidYouMean(name, names));
}

std::optional<Answer> ControlEngine::RefuseWrite(const Caller& caller) {
  return Refuse(caller, Permission::kPackageAdmin);
}

std::optional<Answer> ControlEngine::Refuse(const Caller& caller, Permission needed) {
  // DESIGN.md section 9: the caller's role from the cluster file's access list (root is
  // always full_admin; anyone not listed gets nothing, not even a read).
  const CallerIdentity identity = Resolve(caller.uid, caller.gid);
  const std::optional<config::AccessRole> role = RoleOf(identity, core_.config().access);
  if (Allows(role, needed)) return std::nullopt;
  const std::string who = identity.user.empty()
                              ? (caller.uid < 0 ? std::string("an unidentified caller")
                                                : "uid " + std::to_string(caller.uid))
                              : identity.user + " (uid " + std::to_string(caller.uid) + ")";
  const char* need = needed == Permission::kFullAdmin      ? "full_admin"
                     : needed == Permission::kPackageAdmin ? "package_admin"
                                                           : "monitor (or higher)";
  if (!role) {
    return ErrorAnswer("permission_denied",
                       "permission denied: " + who + " is not in the cluster's access list; "
                       "this command needs role " + need);
  }
  const char* has = *role == config::AccessRole::kMonitor ? "monitor" : "package_admin";
  return ErrorAnswer("permission_denied", "permission denied: " + who + " has role " + has +
                                              "; this command needs " + need);
}

std::string ControlEngine::By(const Caller& caller) const {
  return Describe(Resolve(caller.uid, caller.gid), core_.node().self());
}

Duration ControlEngine::TimeoutOf(int64_t timeout_ms) const {
  return timeout_ms > 0 ? Duration(timeout_ms) : default_timeout_;
}

Answer ControlEngine::View(const Caller& caller, const pb::ViewRequest& request) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kRead)) return *refused;
  const std::map<NodeName, std::vector<NetworkStatus>> networks = core_.Networks();
  ViewModel model = BuildViewModel(ViewInputs{
      .config = core_.config(), .node = core_.node(), .now = core_.Now(), .networks = networks});
  const std::vector<NodeView> all_nodes = model.nodes;  // For -v PKG's switching statuses.
  if (!request.target().empty() && !FilterView(model, request.target())) {
    std::vector<std::string> names;
    for (const PackageView& p : model.packages) names.push_back(p.name);
    for (const NodeView& n : model.nodes) names.push_back(n.name);
    return ErrorAnswer("not_found", "\"" + request.target() + "\" is neither a package nor a " +
                                        "node" + DidYouMean(request.target(), names));
  }
  std::string text;
  if (request.format() == "line") {
    text = ViewLines(model);
  } else if (request.format() == "hpvmstatus") {
    text = HpvmStatus(model);
  } else if (request.verbose()) {
    text = ViewTree(model, all_nodes);
  } else {
    text = ViewTable(model, false);
  }
  return Answer{.exit_status = kExitOk, .json = ViewJson(model), .text = text, .is_error = false};
}

Answer ControlEngine::Check(const Caller& caller, const pb::CheckRequest& request) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kRead)) return *refused;
  std::optional<NodeName> target;
  if (!request.node().empty()) target = NodeName(request.node());
  const Result<validation::CheckReport> report =
      core_.node().Check(PackageName(request.package()), target);
  if (!report.ok()) return ErrorAnswer("not_found", report.status().message());
  return CheckAnswer(*report);
}

Answer ControlEngine::Readiness(const Caller& caller) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kRead)) return *refused;
  return ReadinessAnswer(core_.node().Readiness());
}

Answer ControlEngine::Events(const Caller& caller, const pb::EventsRequest& request) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kRead)) return *refused;
  return EventsAnswer(core_.node().state().events(), request.limit());
}

void ControlEngine::Run(const Caller& caller, const pb::RunRequest& request,
                        std::shared_ptr<Call> call) {
  std::optional<Answer> refused = RefuseWrite(caller);
  if (!refused) refused = UnknownPackage(request.package());
  if (!refused && !request.node().empty()) refused = UnknownNode(request.node());
  if (refused) return call->Finish(*std::move(refused));
  node::RunOp op{.package = PackageName(request.package()),
                 .node = std::nullopt,
                 .enable_switching = !request.keep_switching(),
                 .by = By(caller)};
  if (!request.node().empty()) op.node = NodeName(request.node());
  Operate("run " + request.package(), op.package, {op}, request.no_wait(),
          TimeoutOf(request.timeout_ms()), std::move(call));
}

void ControlEngine::Halt(const Caller& caller, const pb::HaltRequest& request,
                         std::shared_ptr<Call> call) {
  std::optional<Answer> refused = RefuseWrite(caller);
  if (!refused) refused = UnknownPackage(request.package());
  if (refused) return call->Finish(*std::move(refused));
  node::HaltOp op{.package = PackageName(request.package()), .by = By(caller)};
  Operate("halt " + request.package(), op.package, {op}, request.no_wait(),
          TimeoutOf(request.timeout_ms()), std::move(call));
}

void ControlEngine::Move(const Caller& caller, const pb::MoveRequest& request,
                         std::shared_ptr<Call> call) {
  std::optional<Answer> refused = RefuseWrite(caller);
  if (!refused) refused = UnknownPackage(request.package());
  if (!refused) refused = UnknownNode(request.node());
  if (refused) return call->Finish(*std::move(refused));
  const PackageName package(request.package());
  const NodeName target(request.node());
  // Validate here first, as `check` does, so a refused move halts nothing and answers at
  // once; the coordinator validates again against the state it decides from.
  std::set<validation::ViolationCode> codes;
  if (std::optional<Answer> refusal = RefuseMove(request, &codes)) {
    spdlog::info("control: move of {} to {} refused by migration validation (by {})",
                 request.package(), request.node(), By(caller));
    if (!codes.empty()) core_.MoveRefused(codes);
    return call->Finish(*std::move(refusal));
  }
  node::MoveOp op{.package = package,
                  .target = target,
                  .kind = node::IntentKind::kMove,
                  .vcpus = std::nullopt,
                  .memory_mb = std::nullopt,
                  .by = By(caller)};
  if (request.has_vcpus()) op.vcpus = request.vcpus();
  if (request.has_memory_mb()) op.memory_mb = request.memory_mb();
  Operate("move " + request.package() + " to " + request.node(), package, {op}, request.no_wait(),
          TimeoutOf(request.timeout_ms()), std::move(call));
}

std::optional<Answer> ControlEngine::RefuseMove(const pb::MoveRequest& request,
                                                std::set<validation::ViolationCode>* codes) const {
  const PackageName package(request.package());
  std::optional<uint32_t> vcpus;
  std::optional<uint64_t> memory_mb;
  if (request.has_vcpus()) vcpus = request.vcpus();
  if (request.has_memory_mb()) memory_mb = request.memory_mb();
  const Result<validation::CheckReport> report =
      core_.node().Check(package, NodeName(request.node()), vcpus, memory_mb);
  if (!report.ok()) return ErrorAnswer("not_found", report.status().message());
  if (report->ok()) return std::nullopt;
  if (codes != nullptr) {
    for (const validation::NodeResult& result : report->results) {
      for (const validation::ViolationCode code : result.result.Codes()) codes->insert(code);
    }
  }
  const node::Assignment* assignment = core_.node().state().Find(package);
  std::string message = "move of " + request.package() + " to " + request.node() +
                        " refused by migration validation; it keeps running";
  if (assignment != nullptr && assignment->owner) message += " on " + assignment->owner->value();
  return ValidationFailedAnswer(message, *report);
}

void ControlEngine::Operate(const std::string& what, const PackageName& package, node::OpBatch ops,
                            bool no_wait, Duration timeout, std::shared_ptr<Call> call) {
  OutcomeCheck outcome = [this, what, package](raft::LogIndex index) -> std::optional<Answer> {
    const std::optional<node::Outcome> end = core_.node().state().OutcomeOf(package, index);
    if (!end) return std::nullopt;
    if (end->ok) return DoneAnswer(package.value(), end->message, index.value());
    return ErrorAnswer("failed", what + " failed: " + end->message);
  };
  Operate(what, Subject{"package", package.value()}, std::move(ops), no_wait, timeout,
          std::move(outcome), std::move(call));
}

void ControlEngine::Operate(const std::string& what, Subject subject, node::OpBatch ops,
                            bool no_wait, Duration timeout, OutcomeCheck outcome,
                            std::shared_ptr<Call> call) {
  auto waiter = std::make_shared<Waiter>();
  waiter->call = std::move(call);
  waiter->subject = std::move(subject);
  waiter->outcome = std::move(outcome);
  waiter->what = what;
  waiter->deadline = core_.Now() + timeout;
  waiter->timeout = timeout;
  waiter->no_wait = no_wait;
  waiter->timer = std::make_unique<boost::asio::steady_timer>(io_, timeout);
  const std::weak_ptr<ControlEngine> weak = weak_from_this();
  waiter->timer->async_wait([weak, waiter](const boost::system::error_code& error) {
    const std::shared_ptr<ControlEngine> self = weak.lock();
    if (!error && self) self->Expire(waiter);
  });
  waiters_.push_back(waiter);
  spdlog::info("control: {} ({})", what, node::DescribeOps(ops));
  core_.Propose(std::move(ops), waiter->deadline, [weak, waiter](const raft::ClientReply& reply) {
    if (const std::shared_ptr<ControlEngine> self = weak.lock()) {
      self->OnReply(waiter, reply);
    }
  });
}

void ControlEngine::OnReply(const std::shared_ptr<Waiter>& waiter, const raft::ClientReply& reply) {
  if (waiter->done) return;
  switch (reply.code) {
    case raft::ReplyCode::kApplied:
      waiter->index = reply.applied_index;
      return CheckOutcome(waiter);
    case raft::ReplyCode::kRejected:
      return Complete(waiter, ErrorAnswer("rejected", waiter->what + " refused: " + reply.detail));
    case raft::ReplyCode::kNotLeader:
    case raft::ReplyCode::kBusy:
      return Complete(waiter, ErrorAnswer("no_quorum", waiter->what + " was not committed: no " +
                                                           "quorum (no leader accepted it)"));
    case raft::ReplyCode::kStale:
      return Complete(waiter, ErrorAnswer("stale", waiter->what + " took effect before; see " +
                                                       SeeView(waiter->subject)));
    case raft::ReplyCode::kUnknownOutcome:
      return Complete(waiter, ErrorAnswer("unknown_outcome",
                                          waiter->what + ": leadership changed while it was in " +
                                              "flight; it may have taken effect (see " +
                                              SeeView(waiter->subject) + ")",
                                          kExitTimeout));
  }
}

void ControlEngine::CheckOutcome(const std::shared_ptr<Waiter>& waiter) {
  if (waiter->done || !waiter->index) return;
  // The leader answers once it applied the command; a follower (whose state every
  // outcome check reads) may apply it a heartbeat later. Until then nothing here is
  // about that command yet: a node halt would read as superseded, a cluster halt as
  // undone.
  if (core_.node().state().applied() < *waiter->index) return;
  std::optional<Answer> answer = waiter->outcome(*waiter->index);
  if (waiter->no_wait) {
    // A refusal at apply (cluster halt while packages run, a move of a down package)
    // is the answer even without waiting: "committed" would read as done.
    if (answer && answer->exit_status != kExitOk) return Complete(waiter, *std::move(answer));
    return Complete(waiter, DoneAnswer(waiter->subject.key, waiter->subject.name,
                                       waiter->what + ": committed at index " +
                                           std::to_string(waiter->index->value()),
                                       waiter->index->value()));
  }
  if (answer) Complete(waiter, *std::move(answer));
}

void ControlEngine::Expire(const std::shared_ptr<Waiter>& waiter) {
  if (waiter->done) return;
  const std::string state =
      waiter->index ? "it was committed and goes on" : "it may still be committed and go on";
  Complete(waiter,
           ErrorAnswer("timeout",
                       waiter->what + ": no outcome within " + FormatDuration(waiter->timeout) +
                           "; " + state + " (see " + SeeView(waiter->subject) + ")",
                       kExitTimeout));
}

void ControlEngine::Complete(const std::shared_ptr<Waiter>& waiter, Answer answer) {
  waiter->done = true;
  if (waiter->timer) waiter->timer->cancel();
  if (answer.exit_status == kExitOk) {
    spdlog::info("control: {}: {}", waiter->what, answer.text);
  } else {
    spdlog::warn("control: {}: {}", waiter->what, answer.text);
  }
  waiter->call->Finish(std::move(answer));
  waiters_.remove(waiter);
}

void ControlEngine::OnApplied() {
  const Time now = core_.Now();
  // Complete() edits the list: walk a copy.
  const std::vector<std::shared_ptr<Waiter>> waiting(waiters_.begin(), waiters_.end());
  for (const std::shared_ptr<Waiter>& waiter : waiting) {
    CheckOutcome(waiter);
    if (!waiter->done && now >= waiter->deadline) Expire(waiter);
  }
}

void ControlEngine::Stop() {
  const std::vector<std::shared_ptr<Waiter>> waiting(waiters_.begin(), waiters_.end());
  for (const std::shared_ptr<Waiter>& waiter : waiting) {
    Complete(waiter, ErrorAnswer("shutting_down", waiter->what + ": cmcld is shutting down; " +
                                                      "the operation may go on"));
  }
}

}  // namespace cmcl::io::control
