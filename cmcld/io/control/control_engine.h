// ControlEngine: the io-thread half of ControlService (control_service.h). It answers
// each request from the local core (CoreAccess), proposes operator ops and keeps the
// requests that wait for their outcome until ClusterState::OutcomeOf has it, their
// timeout passes, or the service stops.
//
// Every method runs on the io thread. A request's answer goes to its Call, which the
// gRPC thread that posted it waits on; a Call is finished exactly once (the first
// answer wins), so a late outcome after a timeout or a shutdown changes nothing.
//
// Authorization (DESIGN.md section 9, access.h): every command passes Refuse() with what
// it needs — kRead for view, check, readiness, events and config show (any role: monitor
// and up), kPackageAdmin for run, halt, move, enable, disable, clear, kFullAdmin for node
// and cluster commands and config apply — and Refuse() maps the caller (SO_PEERCRED) to
// its role in the cluster file's access list; root is always full_admin, and a caller
// the list does not name (or one whose credentials are unknown) is refused everything,
// reading included.
// Ops carry `by` = "root@NODE", "alice@NODE" or "uid N@NODE".
//
// Waiting (INTERFACE.md): run, halt, move, clear wait for the package's outcome
// (ClusterState::OutcomeOf); `node halt` until no package is up, starting or halting on
// the node (a halt_failed one there fails it, exit 1); `cluster halt` for the cluster
// outcome (refused while packages run: exit 1 naming them), then until no package is up,
// starting or halting anywhere; `config apply` for the config outcome of its proposal
// (every member validated it and it was applied, or it was refused). enable, disable,
// node run, node readmit and cluster run answer once committed (their effect is the
// commit).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/io/control/access.h"
#include "cmcld/io/control/control.pb.h"
#include "cmcld/io/control/control_render.h"
#include "cmcld/io/control/control_service.h"

namespace cmcl::io {
struct Candidate;  // io/bundle/bundle_check.h
}  // namespace cmcl::io

namespace cmcl::io::control {

// Who is calling, from SO_PEERCRED at accept. uid -1: unknown (refused everything).
struct Caller {
  int64_t uid = -1;
  int64_t gid = -1;
  int64_t pid = -1;
};

// One request, handed from a gRPC thread to the io thread and answered once.
class Call {
 public:
  // The first answer wins; later ones are dropped.
  void Finish(Answer answer);
  // Blocks until finished, or until `cancelled()` says the client went away (then
  // nullopt), checking every 100 ms.
  template <typename Cancelled>
  std::optional<Answer> Wait(Cancelled cancelled) {
    std::unique_lock lock(mutex_);
    while (!answer_) {
      if (cancelled()) return std::nullopt;
      done_.wait_for(lock, std::chrono::milliseconds(100));
    }
    return answer_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::optional<Answer> answer_;
};

class ControlEngine : public std::enable_shared_from_this<ControlEngine> {
 public:
  // The answer of a command applied at `index`, once it is known here (nullopt: it goes
  // on).
  using OutcomeCheck = std::function<std::optional<Answer>(raft::LogIndex index)>;
  // What a command is about: {"package", "hpvm1"}, {"node", "n2"}, {"cluster", "ivmcl"}.
  struct Subject {
    std::string key;
    std::string name;
  };
  ControlEngine(boost::asio::io_context& io, CoreAccess& core, Duration default_timeout);
  ~ControlEngine();

  // Reads: answered at once from the local state, for a caller with any role.
  Answer View(const Caller& caller, const ::cmcl::control::ViewRequest& request);
  Answer Check(const Caller& caller, const ::cmcl::control::CheckRequest& request);
  Answer Readiness(const Caller& caller);
  Answer Events(const Caller& caller, const ::cmcl::control::EventsRequest& request);
  // Waiting commands answer through `call` (now or later).
  void Run(const Caller& caller, const ::cmcl::control::RunRequest& request,
           std::shared_ptr<Call> call);
  void Halt(const Caller& caller, const ::cmcl::control::HaltRequest& request,
            std::shared_ptr<Call> call);
  void Move(const Caller& caller, const ::cmcl::control::MoveRequest& request,
            std::shared_ptr<Call> call);
  // Issue 9 (control_engine_admin.cc).
  void Enable(const Caller& caller, const ::cmcl::control::EnableRequest& request,
              std::shared_ptr<Call> call);
  void Clear(const Caller& caller, const ::cmcl::control::ClearRequest& request,
             std::shared_ptr<Call> call);
  void Node(const Caller& caller, const ::cmcl::control::NodeRequest& request,
            std::shared_ptr<Call> call);
  void ClusterRun(const Caller& caller, const ::cmcl::control::ClusterRunRequest& request,
                  std::shared_ptr<Call> call);
  void ClusterHalt(const Caller& caller, const ::cmcl::control::ClusterHaltRequest& request,
                   std::shared_ptr<Call> call);
  // The applied cluster.yaml (CoreAccess::AppliedBundleDir) and its version; no quorum
  // needed.
  Answer ConfigShow(const Caller& caller);
  // config apply (control_engine_config.cc): kFullAdmin; the bundle checked here
  // (io/bundle/bundle_check.h: decoded, hashed and loaded with this node's key on a
  // thread of its own, then on the io thread: no fixed
  // setting changed; drivers present when this node is a member; no package stranded),
  // then proposed as the next version, waiting for ClusterState::config_outcome of the
  // proposal. The same hash as the applied version: exit 0, nothing proposed.
  void ConfigApply(const Caller& caller, const ::cmcl::control::ConfigApplyRequest& request,
                   std::shared_ptr<Call> call);
  // Issue 10 (control_engine_maintenance.cc): node or package maintenance on/off.
  void Maintenance(const Caller& caller, const ::cmcl::control::MaintenanceRequest& request,
                   std::shared_ptr<Call> call);

  // Issue 10 (control_engine_issue10.cc). cluster disarm --for D / cluster arm:
  // kFullAdmin; refused at once (exit 1) without quorum (Node::HasQuorum) and for a D
  // above disarm_max (Node::Propose's check); answered once committed: the disarm with
  // its D and time left, the arm with the nodes whose armed(F) is not committed yet and
  // how long a failover from them still waits. Arming an armed cluster: exit 0, nothing
  // proposed.
  void ClusterMode(const Caller& caller, const ::cmcl::control::ClusterModeRequest& request,
                   std::shared_ptr<Call> call);
  // explain PKG: kRead; Node::Explain from the local state, at once, quorum or not.
  Answer Explain(const Caller& caller, const ::cmcl::control::ExplainRequest& request);
  // Issue 10 item 3 (control_engine_preview.cc): `-t/--preview`. The inner request is
  // authorized and its names checked as the command itself (same Permission, did you
  // mean), a move validated as Move does, an arm refused without quorum as ClusterMode
  // does; then Node::Preview answers at once from the local state. Nothing is proposed,
  // nothing logged as an operator action (one debug line).
  Answer Preview(const Caller& caller, const ::cmcl::control::PreviewRequest& request);

  // Completes the waiters whose outcome is applied, and those whose timeout passed.
  void OnApplied();
  // Answers every waiter "shutting down".
  void Stop();

  // The authorization of every command: nullopt when `caller` may do what `needed`
  // says, else "permission denied: uid 1000 may only read (monitor); ...".
  std::optional<Answer> Refuse(const Caller& caller, Permission needed);
  // Refuse(caller, kPackageAdmin).
  std::optional<Answer> RefuseWrite(const Caller& caller);

 private:
  struct Waiter {
    std::shared_ptr<Call> call;
    Subject subject;
    std::string what;  // "run hpvm1", for messages and logs.
    OutcomeCheck outcome;
    Time deadline;
    Duration timeout = Duration(0);
    bool no_wait = false;
    std::optional<raft::LogIndex> index;  // Set once the command is applied.
    std::unique_ptr<boost::asio::steady_timer> timer;
    bool done = false;
  };

  // Unknown package → a did-you-mean answer.
  std::optional<Answer> UnknownPackage(const std::string& name) const;
  std::optional<Answer> UnknownNode(const std::string& name) const;
  std::string By(const Caller& caller) const;
  Duration TimeoutOf(int64_t timeout_ms) const;
  // A package command that ends with ClusterState::OutcomeOf.
  void Operate(const std::string& what, const PackageName& package, node::OpBatch ops, bool no_wait,
               Duration timeout, std::shared_ptr<Call> call);
  void Operate(const std::string& what, Subject subject, node::OpBatch ops, bool no_wait,
               Duration timeout, OutcomeCheck outcome, std::shared_ptr<Call> call);
  // The checks of node halt and cluster halt (control_engine_admin.cc).
  std::optional<Answer> NodeHaltOutcome(const NodeName& node, const std::string& what,
                                        raft::LogIndex index) const;
  std::optional<Answer> ClusterHaltOutcome(const std::string& what, raft::LogIndex index) const;
  std::optional<Answer> NodeMaintenanceOutcome(const NodeName& node, const std::string& what,
                                               raft::LogIndex index) const;
  // The hash of the applied version: the state's, or for the bootstrap version 1 (whose
  // bytes are each node's own) the hash of this node's STATE_DIR/config/v1.
  std::string AppliedBundleHash() const;
  // config apply once the bundle was decoded and loaded (on a thread of its own).
  void ConfigApplyChecked(const Caller& caller, const ::cmcl::control::ConfigApplyRequest& request,
                          Result<Candidate> candidate, std::shared_ptr<Call> call);
  // config apply's checks before it proposes a new version: a refusal, or nullopt.
  std::optional<Answer> CheckCandidate(const Candidate& candidate) const;
  // cluster disarm / arm's answers once committed at `index` (control_engine_issue10.cc).
  std::optional<Answer> DisarmOutcome(raft::LogIndex index) const;
  // `waited`: the wait for the armed reports of the nodes heard from is over.
  std::optional<Answer> ArmOutcome(raft::LogIndex index, bool waited) const;
  // Move's validation before it proposes (Node::Check at the --vcpus/--memory size): the
  // refusal, or nullopt. Move and its preview both use it; `codes` (if given) gets the
  // codes of the refusal's violations (Move counts them, a preview does not).
  std::optional<Answer> RefuseMove(const ::cmcl::control::MoveRequest& request,
                                   std::set<validation::ViolationCode>* codes = nullptr) const;
  // The ops of a preview's inner request, or the answer that ends it before (refused,
  // usage, nothing to do) (control_engine_preview.cc).
  std::variant<node::OpBatch, Answer> PreviewOps(const Caller& caller,
                                                 const ::cmcl::control::PreviewRequest& request);
  std::variant<node::OpBatch, Answer> PackagePreviewOps(
      const Caller& caller, const ::cmcl::control::PreviewRequest& request);
  std::variant<node::OpBatch, Answer> MaintenanceOffOps(
      const Caller& caller, const ::cmcl::control::MaintenanceRequest& request);
  // config apply's answer once its proposal (committed at `index`) ended.
  std::optional<Answer> ConfigOutcome(raft::LogIndex index) const;
  // Answered once committed.
  OutcomeCheck AtCommit(const Subject& subject, const std::string& message) const;
  void OnReply(const std::shared_ptr<Waiter>& waiter, const raft::ClientReply& reply);
  // Finishes `waiter` if its outcome is applied here.
  void CheckOutcome(const std::shared_ptr<Waiter>& waiter);
  void Expire(const std::shared_ptr<Waiter>& waiter);
  void Complete(const std::shared_ptr<Waiter>& waiter, Answer answer);

  boost::asio::io_context& io_;
  CoreAccess& core_;
  Duration default_timeout_;
  std::list<std::shared_ptr<Waiter>> waiters_;
  // config apply's bundle checks in progress, last: joined first when the engine goes.
  struct BundleCheck {
    std::shared_ptr<std::atomic<bool>> done;
    std::jthread thread;
  };
  std::vector<BundleCheck> checks_;
};

}  // namespace cmcl::io::control
