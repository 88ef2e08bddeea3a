#include "cmcld/io/runtime/daemon.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/config/diagnostic.h"
#include "cmcld/core/node/node.h"
#include "cmcld/core/node/node_options.h"
#include "cmcld/core/node/watchdog.h"
#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_check.h"
#include "cmcld/io/clock.h"
#include "cmcld/io/config/load.h"
#include "cmcld/io/control/control_service.h"
#include "cmcld/io/guard/guard_client.h"
#include "cmcld/io/guest/guest_runner.h"
#include "cmcld/io/inventory/linux_probe.h"
#include "cmcld/io/metrics/dashboard_page.h"
#include "cmcld/io/metrics/metrics_page.h"
#include "cmcld/io/metrics/metrics_server.h"
#include "cmcld/io/peer/peer_transport.h"
#include "cmcld/io/runtime/aside.h"
#include "cmcld/io/runtime/config_versions.h"
#include "cmcld/io/runtime/sd_notify.h"
#include "cmcld/io/storage/raft_storage.h"
#include "cmcld/io/storage/state_dir.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;

// Compact once this many entries were applied since the last snapshot: bounds the log
// file and recovery time; a snapshot of a few thousand packages is a few hundred KiB.
constexpr uint64_t kCompactEvery = 2000;
// cmcld's exit status when the core asked for a reset (fence_action reboot) and the guard
// could not be asked (cmcld.8, EXIT STATUS).
constexpr int kExitResetNotDelivered = 3;
// A control command that got no answer is resent (same sequence: applied at most once)
// after this long; the leader may have changed or the forward may have been lost.
constexpr Duration kProposalResend = std::chrono::milliseconds(500);
// After kNotLeader or kBusy, the next try waits this long (an election is under way).
constexpr Duration kProposalRetry = std::chrono::milliseconds(100);
constexpr auto kTrimEvery = std::chrono::seconds(30);  // TrimHeap.

uint64_t RandomSeed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
    seed =
        static_cast<uint64_t>(BootNow().milliseconds()) ^ (static_cast<uint64_t>(getpid()) << 32);
  }
  return seed;
}

std::string ReadKey(const std::string& path, Status& status) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) {
    status = Status::FailedPrecondition("cannot read the cluster key " + path);
  }
  return bytes.str();
}

std::string DefaultGuardBinary() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  for (const fs::path& candidate :
       {self.parent_path() / "cmcl-guard", self.parent_path() / "guard" / "cmcl-guard"}) {
    if (fs::exists(candidate, error)) {
      return candidate.string();
    }
  }
  return "cmcl-guard";
}

}  // namespace

struct Daemon::Impl final : CoreAccess {
  explicit Impl(DaemonOptions daemon_options) : options(std::move(daemon_options)) {}

  // --- CoreAccess ---------------------------------------------------------------
  node::Node& node() override { return *core; }
  const cmcl::config::ClusterConfig& config() const override { return *cluster; }
  Time Now() const override { return BootNow(); }
  void Propose(node::OpBatch ops, Time deadline,
               std::function<void(const raft::ClientReply&)> done) override;
  std::string AppliedBundleDir() const override { return versions->current().dir; }
  std::string StateDirPath() const override { return state_dir; }
  std::string KeyFile() const override { return own->security.key_file; }
  const cmcl::config::ClusterConfig& SettingsInEffect() const override { return *own; }
  std::map<NodeName, std::vector<NetworkStatus>> Networks() const override {
    return peers->Networks();
  }
  void MoveRefused(const std::set<validation::ViolationCode>& codes) override {
    for (const validation::ViolationCode code : codes) ++command_refusals[code];
  }

  Status Start();
  Status LoadConfiguration();
  void ProbeInventory(const cmcl::config::NodeSpec& spec);
  std::optional<cmcl::inventory::NodeInventory> probed_inventory;  // inventory: probe.
  // NodeActions::probe_inventory: the re-probe, on a thread of its own, answered with
  // Node::InventoryProbed. Its notes are logged when they differ from the last probe's.
  void Reprobe(uint64_t id);
  std::vector<std::string> probe_notes;
  Status OpenStorage();
  Status StartAdapters();
  void StartCore();

  // Every input ends here: the core's answer is executed, then the waiters, the
  // shutdown and the timer are looked at.
  void Execute(node::NodeActions actions);
  // Config apply (issue 9): follows the applied version — writes and loads it (in the
  // background, or at once with `now`: at start, before any input), then hands it to the
  // core and the control API (InstallVersion).
  void FollowAppliedVersion(bool now);
  void InstallVersion(uint64_t applied, Result<ConfigVersions::Version> version, bool tick);
  // A member's verdict on the pending proposal, once per proposal and incarnation: the
  // bundle is checked in the background, the verdict committed when that ends.
  void GiveVerdict();
  // Runs `job` on a thread of its own and posts the closure it returns to the io thread:
  // writing and loading a bundle of up to 3 MiB takes up to half a second on a slow disk
  // (hundreds of files, an fsync each), which must not hold up heartbeats and grants.
  void InBackground(std::function<std::function<void()>()> job);
  void WarnIfOwnFilesDiffer();
  void ForgetOwnPackages();
  void ExecuteGuard(const node::GuardRequest& request);
  void ExecuteGuest(const node::GuestAction& action);
  // fence_action reboot: the core asked for a reset (node.h NodeActions::reset).
  void ExecuteReset(const node::ResetNode& reset);
  // The reset could not be handed to the guard: cmcld exits (kExitResetNotDelivered).
  void ExitResetNotDelivered(const std::string& why);
  void AfterInput();
  void LogNewEvents();
  // cmcl_failovers_total (failover_metrics.h): after each input, with metrics only.
  void ObserveFailovers();
  void ArmTimer();
  void OnReply(const raft::ClientReply& reply);
  void SendProposal();
  void ArmProposalTimer(Duration after);
  void OnSignal(int signal);
  void Finish(int status);
  // GET /metrics (metrics_server.h), on the io thread: the text from the applied state.
  std::string RenderMetrics();
  // GET /dashboard.json (dashboard_model.h), on the io thread: the dashboard's data.
  std::string RenderDashboard();
  // cmcl_script_duration_seconds (metrics_model.h): a guest action's result arrived.
  void TimeGuestAction(const PackageName& package, node::GuestVerb verb);
  static std::string PackageDir(const ConfigVersions::Version& version,
                                const PackageName& package) {
    return version.dir + "/packages/" + package.value();
  }

  DaemonOptions options;
  // First: it takes NOTIFY_SOCKET out of the environment before anything is spawned.
  std::unique_ptr<SystemdNotifier> systemd = SystemdNotifier::FromEnvironment();
  boost::asio::io_context io;
  // This node's own files: identity, key, addresses (first contact), timing. Without
  // their packages once started (ForgetOwnPackages); not changed otherwise.
  std::shared_ptr<cmcl::config::ClusterConfig> own;
  // The applied configuration version: packages, nodes, access (versions->current()).
  std::shared_ptr<const cmcl::config::ClusterConfig> cluster;
  NodeName self;
  std::string state_dir;
  std::unique_ptr<ConfigVersions> versions;
  uint64_t unusable_version = 0;            // An applied version this node could not write or load.
  std::set<uint64_t> preparing;             // Applied versions being written and loaded.
  std::set<raft::LogIndex> verdicts_given;  // Proposals (their index) judged here.
  // The newest cluster event (`pkgctl events`) written to this node's log: every node logs
  // each event when it applies it, so the journal holds the cluster's history with the
  // times this node saw it. A restarted node logs again those it applies again.
  raft::LogIndex events_logged{0};
  Rng rng{RandomSeed()};
  std::unique_ptr<StateDir> dir;
  std::unique_ptr<RaftStorage> storage;
  std::unique_ptr<PeerTransport> peers;
  std::unique_ptr<ControlService> control;
  std::unique_ptr<GuardClient> guard;
  std::unique_ptr<GuestRunner> runner;
  std::unique_ptr<node::Node> core;
  std::unique_ptr<metrics::MetricsServer> metrics_server;  // Only with a metrics_address.
  // With metrics only: when each guest action (run, halt, kill) was handed to the runner,
  // and the durations observed so far, by verb.
  std::map<std::pair<PackageName, node::GuestVerb>, Time> guest_action_started;
  std::map<std::string, metrics::Histogram> script_durations;
  // With metrics: cmcl_failovers_total and its durations (made in StartCore, horizon the
  // recovered log), and the moves refused here by validation, by code.
  std::optional<metrics::FailoverMetrics> failovers;
  std::map<validation::ViolationCode, uint64_t> command_refusals;
  boost::asio::steady_timer wakeup{io};
  boost::asio::signal_set signals{io, SIGTERM, SIGINT};
  boost::asio::steady_timer stop_timer{io};
  bool executing = false;
  std::optional<std::string> reset_asked;  // Why the core asked for the reset, once it did.
  bool stopping = false;
  int exit_status = 0;
  // `cluster halt --force` (DESIGN.md section 5): once it is applied, this node's guests
  // are gone and every package is down in the applied state (so its own `halted` reports
  // are committed, and a `cluster halt` waiting here is answered), the daemon exits 0 —
  // after kClusterExitGrace heartbeats, so that the leader's next heartbeats carry the
  // last commits to the others before it leaves. A node that lost its lease meanwhile
  // (the leader left first) cannot learn more and exits once its own guests are gone.
  // Only a halt committed after this incarnation's recovered log counts: a restarted
  // daemon replaying an old halt stays up (the cluster then waits for `cluster run`, as
  // after Serviceguard's cmhaltcl).
  raft::LogIndex recovered_last;
  bool ClusterHaltDone() const;
  void ExitAfterClusterHalt();
  static constexpr int kClusterExitGrace = 3;
  std::optional<Time> cluster_halt_done_since;
  boost::asio::steady_timer cluster_exit_timer{io};
  // systemd (sd_notify.h): READY=1 once started, STOPPING=1 on the first signal, and
  // WATCHDOG=1 from this io thread every half WatchdogSec.
  void Notify(const std::string& state);
  void PetSystemdWatchdog();
  void TrimHeap();
  boost::asio::steady_timer systemd_watchdog{io};
  // glibc keeps the pages of freed heap memory (the YAML trees of the configuration at
  // start, a catch-up's entries) until asked: TrimHeap hands them back now and then.
  boost::asio::steady_timer trim_timer{io};
  bool systemd_failed = false;

  // Control commands: one in flight at a time, so that a retry with the same sequence is
  // always the latest of this client (raft's at-most-once table keeps one per client).
  struct Proposal {
    node::OpBatch ops;
    Time deadline;
    std::function<void(const raft::ClientReply&)> done;
  };
  std::deque<Proposal> proposals;
  raft::ClientId control_client;
  uint64_t control_sequence = 0;
  bool proposal_in_flight = false;
  std::optional<raft::ClientReply> last_reply;
  boost::asio::steady_timer proposal_timer{io};

  // InBackground's threads, last: joined first when the daemon goes, while `io` (which
  // they post to) still exists; what they post then never runs.
  struct Worker {
    std::shared_ptr<std::atomic<bool>> done;
    std::jthread thread;
  };
  std::vector<Worker> workers;
};

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Daemon::~Daemon() = default;
Status Daemon::Start() { return impl_->Start(); }

int Daemon::Run() {
  impl_->io.run();
  return impl_->exit_status;
}

Status Daemon::Impl::Start() {
  // In order: each step needs the one before it, and nothing starts after a failure.
  for (Status (Impl::*step)() :
       {&Impl::LoadConfiguration, &Impl::OpenStorage, &Impl::StartAdapters}) {
    if (Status status = (this->*step)(); !status.ok()) {
      return status;
    }
  }
  StartCore();
  Notify("READY=1\nSTATUS=cmcld " + self.value() + " of cluster " +
         cluster->cluster_name.value() + " is running");
  PetSystemdWatchdog();
  TrimHeap();
  return Status::Ok();
}

// Every kTrimEvery, malloc_trim(0): with 1,000 packages an idle cmcld held about 8 MiB of
// freed pages (docs/BENCHMARKS.md, "Idle cost"). It takes well under a millisecond.
void Daemon::Impl::TrimHeap() {
  malloc_trim(0);
  trim_timer.expires_after(kTrimEvery);
  trim_timer.async_wait([this](const boost::system::error_code& error) {
    if (!error) TrimHeap();
  });
}

void Daemon::Impl::Notify(const std::string& state) {
  if (systemd && !systemd->Notify(state) && !systemd_failed) {
    systemd_failed = true;  // Said once: a systemd that went away says nothing new.
    spdlog::warn("systemd notify socket: {} (readiness and watchdog not sent)", systemd->error());
  }
}

void Daemon::Impl::PetSystemdWatchdog() {
  if (!systemd || !systemd->watchdog_interval()) return;
  Notify("WATCHDOG=1");
  systemd_watchdog.expires_after(*systemd->watchdog_interval());
  systemd_watchdog.async_wait([this](const boost::system::error_code& error) {
    if (!error) PetSystemdWatchdog();
  });
}

Status Daemon::Impl::LoadConfiguration() {
  io::config::LoadedConfig loaded =
      RunAside([this] { return io::config::LoadCluster(options.config_path); });
  if (!loaded.ok()) {
    // One line (INTERFACE.md): the first error, and where to see them all.
    const size_t errors = cmcl::config::CountErrors(loaded.diagnostics);
    for (const cmcl::config::Diagnostic& diagnostic : loaded.diagnostics) {
      if (diagnostic.severity == cmcl::config::Severity::kError) {
        return Status::InvalidArgument(cmcl::config::FormatDiagnostic(diagnostic) +
                                       (errors > 1
                                            ? " (and " + std::to_string(errors - 1) +
                                                  " more; pkgctl config check lists them all)"
                                            : ""));
      }
    }
  }
  // Its errors were told above; nothing reads where its keys were written from now on.
  io::config::DropKeyLocations(loaded.config);
  // A copy, made on this thread (runtime/aside.h).
  own = std::make_shared<cmcl::config::ClusterConfig>(loaded.config);
  cluster = own;
  self = NodeName(options.node);
  const cmcl::config::NodeSpec* spec = cluster->FindNode(self);
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const cmcl::config::NodeSpec& node : cluster->nodes) {
      names.push_back(node.name.value());
    }
    const std::string close = ClosestMatch(options.node, names);
    return Status::InvalidArgument("node '" + options.node + "' is not in " + options.config_path +
                                   (close.empty() ? "" : " (did you mean '" + close + "'?)"));
  }
  if (spec->inventory_source == cmcl::config::InventorySource::kProbe) ProbeInventory(*spec);
  state_dir = options.state_dir.empty() ? spec->state_dir : options.state_dir;
  return Status::Ok();
}

// `inventory: probe` (DESIGN.md section 6): the probe runs at start, before the core is
// made; its result goes to the core (Node::SetProbedInventory), which commits it for every
// node's validation. Then the core asks again (Reprobe). The node's `capacity` key, when
// written, stays its capacity (the operator's limit).
void Daemon::Impl::ProbeInventory(const cmcl::config::NodeSpec& spec) {
  Result<inventory::ProbedInventory> probed = inventory::ProbeLinuxInventory();
  if (!probed.ok()) {
    spdlog::warn("inventory probe failed: {}; device checks on {} stay unchecked",
                 probed.status().message(), self.value());
    return;
  }
  for (const std::string& note : probed.value().notes) spdlog::warn("inventory probe: {}", note);
  probe_notes = probed.value().notes;
  cmcl::inventory::NodeInventory found = std::move(probed).value().inventory;
  if (spec.capacity) found.capacity = spec.capacity;
  spdlog::info("inventory probe: {}; reported to the cluster for migration validation",
               inventory::SummarizeInventory(found));
  probed_inventory = std::move(found);
}

// A probe reads a few hundred small sysfs files: about a millisecond on an idle host, but
// /sys and /dev can block (a disk being removed, a hung device), so it never runs on the
// io thread, which sends the heartbeats and grants.
void Daemon::Impl::Reprobe(uint64_t id) {
  const cmcl::config::NodeSpec* spec = cluster->FindNode(self);
  InBackground(
      [this, id,
       capacity = spec != nullptr ? spec->capacity : std::nullopt]() -> std::function<void()> {
        const auto began = std::chrono::steady_clock::now();
        Result<inventory::ProbedInventory> probed = inventory::ProbeLinuxInventory();
        const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - began);
        return [this, id, took, capacity, probed = std::move(probed)]() mutable {
          if (stopping) return;
          spdlog::debug("inventory probe {} took {} us", id, took.count());
          if (!probed.ok()) {
            Execute(core->InventoryProbed(BootNow(), id, probed.status()));
            return;
          }
          if (probed.value().notes != probe_notes) {
            for (const std::string& note : probed.value().notes) {
              spdlog::warn("inventory probe: {}", note);
            }
            probe_notes = probed.value().notes;
          }
          cmcl::inventory::NodeInventory found = std::move(probed).value().inventory;
          if (capacity) found.capacity = capacity;
          Execute(core->InventoryProbed(BootNow(), id, std::move(found)));
        };
      });
}

Status Daemon::Impl::OpenStorage() {
  const raft::ClusterId cluster_id = node::ClusterIdOf(*cluster);
  Result<std::unique_ptr<StateDir>> opened = StateDir::Open(state_dir, self, cluster_id, rng);
  if (!opened.ok()) {
    return opened.status();
  }
  dir = std::move(opened).value();
  const raft::HardState initial{.cluster_id = cluster_id,
                                .node_id = dir->node_id(),
                                .term = raft::Term(0),
                                .voted_for = std::nullopt};
  Result<std::unique_ptr<RaftStorage>> log = RaftStorage::Open(
      io, *dir, initial, RaftStorage::Options{},
      [this](uint64_t persist_id) { Execute(core->PersistCompleted(BootNow(), persist_id)); });
  if (!log.ok()) {
    return log.status();
  }
  storage = std::move(log).value();  // It logged what recovery dropped, if anything.
  // Version 1 (this node's own files) until the state says which version is applied.
  versions = std::make_unique<ConfigVersions>(state_dir, own->security.key_file);
  if (Status started = versions->StartWithBootstrap(own); !started.ok()) {
    return started;
  }
  cluster = versions->current().config;
  return Status::Ok();
}

Status Daemon::Impl::StartAdapters() {
  Status key_status;
  PeerOptions peer_options{.cluster_id = node::ClusterIdOf(*own),
                           .self = self,
                           .listen = own->FindNode(self)->addresses,
                           .peers = {},
                           .key = ReadKey(own->security.key_file, key_status),
                           .heartbeat_interval = own->heartbeat_interval,
                           .node_timeout = own->node_timeout};
  if (!key_status.ok()) {
    return key_status;
  }
  for (const cmcl::config::NodeSpec& node : own->nodes) {
    if (node.name != self) {
      peer_options.peers[node.name] = node.addresses;
    }
  }
  Result<std::unique_ptr<PeerTransport>> transport =
      PeerTransport::Start(io, std::move(peer_options), [this](raft::Message message) {
        if (core) {
          Execute(core->Step(BootNow(), message));
        }
      });
  if (!transport.ok()) {
    return transport.status();
  }
  peers = std::move(transport).value();

  ControlService::Options control_options;
  if (!options.socket_path.empty()) {
    control_options.socket_path = options.socket_path;
  }
  control = std::make_unique<ControlService>(io, *this, control_options);
  if (Status started = control->Start(); !started.ok()) {
    return started;
  }

  // Metrics (README "Metrics"): only when this node's files give an address.
  if (const std::optional<SocketAddress> address = own->MetricsAddressOf(self)) {
    Result<std::unique_ptr<metrics::MetricsServer>> listening = metrics::MetricsServer::Start(
        io, metrics::MetricsServer::Options{.address = *address},
        [this] { return RenderMetrics(); }, [this] { return RenderDashboard(); });
    if (!listening.ok()) {
      return listening.status();
    }
    metrics_server = std::move(listening).value();
    spdlog::info("metrics at http://{0}/metrics, dashboard at http://{0}/", address->ToString());
  }

  GuardClient::Options guard_options{
      .state_dir = state_dir,
      .guard_binary = options.guard_binary.empty() ? DefaultGuardBinary() : options.guard_binary,
      .fence_timeout = cluster->fence_timeout};
  // fence_action reboot (DESIGN.md section 4): the guard opens and pets the watchdog;
  // cmcld checks at start that it could, and that the timeout the device granted keeps
  // the parameter rule (guard.h, core/node/watchdog.h).
  const bool reboot = cluster->fence_action == cmcl::config::FenceAction::kReboot;
  if (reboot) {
    guard_options.watchdog_device = cluster->watchdog_device;
    guard_options.watchdog_timeout = cluster->watchdog_timeout;
  }
  Result<std::unique_ptr<GuardClient>> attached = GuardClient::Attach(
      io, guard_options,
      [this](uint64_t id) {
        if (core) {
          Execute(core->GuardAcked(BootNow(), id));
        }
      },
      [this](const std::string& why) {
        // Without its guard nothing enforces the lease deadline if this process dies too.
        // cmcld stays up: its own fence (F4) still kills the guests at lease_end -
        // fence_timeout, and nothing new starts (no guard acknowledges a registration).
        // Exiting here would leave running guests with no fence at all.
        spdlog::critical(
            "lost cmcl-guard: {}; guests are fenced by cmcld alone from now on, "
            "and nothing new starts here until cmcld is restarted",
            why);
        if (reset_asked) {
          // The Reset request may not have reached it: do not stay up as if it had.
          boost::asio::post(io, [this] { ExitResetNotDelivered(*reset_asked); });
        }
        // The guard cmcld started is its child: collect it if it died (never waitpid(-1):
        // the guest runner reaps its own children by pid).
        if (guard && guard->guard_pid() > 0) {
          int status = 0;
          waitpid(guard->guard_pid(), &status, WNOHANG);
        }
      });
  if (!attached.ok()) {
    return attached.status();
  }
  guard = std::move(attached).value();
  if (reboot) {
    std::optional<std::string> refused;
    if (!guard->watchdog_error().empty()) {
      refused = "fence_action reboot: watchdog_device " + cluster->watchdog_device + ": " +
                guard->watchdog_error();
    } else {
      refused = node::CheckWatchdogTimeout(guard->watchdog_timeout(), cluster->watchdog_timeout,
                                           cluster->heartbeat_interval, cluster->node_timeout);
    }
    if (refused) {
      // Detached, a guard with nothing registered stops the watchdog and exits.
      guard->Detach();
      return Status::FailedPrecondition(*refused);
    }
    spdlog::info("watchdog {}: timeout {}, petted by cmcl-guard pid {} (fence_action reboot)",
                 cluster->watchdog_device, FormatDuration(guard->watchdog_timeout()),
                 guard->guard_pid());
  }

  runner = std::make_unique<GuestRunner>(
      io,
      GuestRunner::Options{.node = self,
                           .state_dir = state_dir,
                           .driver_dir = cluster->driver_dir,
                           .monitor_interval = cluster->monitor_interval},
      [this](const node::GuestRef& guest, node::GuestVerb verb, const node::GuestResult& result) {
        TimeGuestAction(guest.resource, verb);
        Execute(core->GuestReported(BootNow(), guest, verb, result));
      },
      [this](const PackageName& package, int pgid) { guard->SetRunGroup(package, pgid); });
  return Status::Ok();
}

void Daemon::Impl::StartCore() {
  control_client = raft::ClientId(rng.Next());
  const raft::PersistedState& recovered = storage->recovered();
  recovered_last = !recovered.entries.empty() ? recovered.entries.back().index
                   : recovered.snapshot       ? recovered.snapshot->last_index
                                              : raft::LogIndex(0);
  node::NodeOptions node_options = node::NodeOptionsFor(cluster, self);
  node_options.config_version = versions->current().number;
  core = std::make_unique<node::Node>(std::move(node_options), storage->recovered(),
                                      rng.Fork("node"), BootNow());
  if (probed_inventory) core->SetProbedInventory(*probed_inventory);
  if (metrics_server) failovers.emplace(self, recovered_last);
  // Guests keep the version the guard registered them with (first: switching versions
  // deletes the folders no guest uses); DESIGN.md section 8: a snapshot of a later
  // version is the configuration, not this node's files.
  versions->AdoptGuests(guard->attached_work_dirs());
  FollowAppliedVersion(true);
  WarnIfOwnFilesDiffer();
  ForgetOwnPackages();
  spdlog::info(
      "cmcld {} of cluster {} started: state_dir {}, term {}, {} log entries, "
      "guard pid {}",
      self.value(), cluster->cluster_name.value(), state_dir, core->raft().term().value(),
      storage->recovered().entries.size(), guard->guard_pid());
  signals.async_wait([this](const boost::system::error_code& error, int signal) {
    if (!error) {
      OnSignal(signal);
    }
  });
  // node.h: Attach right after construction, before any other input.
  Execute(core->Attach(BootNow(), guard->attached()));
}

// node.h's order rule: the raft batches first, in order (each: persist, sends, replies;
// restores and applies happened inside the Node), then guard requests, then guest
// actions, then log lines.
void Daemon::Impl::Execute(node::NodeActions actions) {
  const bool outermost = !executing;
  executing = true;
  for (raft::Actions& batch : actions.raft) {
    if (batch.persist) {
      storage->Submit(std::move(*batch.persist));
    }
    for (const raft::Message& message : batch.sends) {
      peers->Send(message);
    }
    for (const raft::ClientReply& reply : batch.replies) {
      OnReply(reply);
    }
  }
  for (const node::GuardRequest& request : actions.guard) {
    ExecuteGuard(request);
  }
  for (const node::GuestAction& action : actions.guests) {
    ExecuteGuest(action);
  }
  for (const node::LogLine& line : actions.log) {
    if (line.critical) {
      spdlog::critical("{}", line.text);
    } else {
      spdlog::info("{}", line.text);
    }
  }
  if (actions.probe_inventory) {
    Reprobe(*actions.probe_inventory);
  }
  if (actions.reset) {
    ExecuteReset(*actions.reset);
    if (io.stopped()) return;
  }
  if (outermost) {
    executing = false;
    AfterInput();
  }
}

void Daemon::Impl::ExecuteGuard(const node::GuardRequest& request) {
  const auto* registration = std::get_if<node::Register>(&request.request);
  if (registration == nullptr) {
    guard->Submit(request);
    if (const auto* gone = std::get_if<node::Unregister>(&request.request)) {
      versions->Unregister(gone->resource);
    }
    return;
  }
  const PackageName& package = registration->guest.resource;
  GuardGuest guest{.guest = registration->guest};
  const ConfigVersions::Version& version = versions->Register(package, core->RunsGuest(package));
  if (const cmcl::config::PackageSpec* spec = version.config->FindPackage(package)) {
    const std::string package_dir = PackageDir(version, package);
    const node::GuestAction fence{.guest = registration->guest,
                                  .verb = node::GuestVerb::kKill,
                                  .reason = node::ActionReason::kFence};
    guest.driver = runner->DriverPath(*spec);
    guest.halt_script = package_dir + "/" + spec->halt_script;
    guest.work_dir = package_dir;
    guest.env = runner->Environment(fence, *spec, package_dir);
  }
  guard->Submit(request, &guest);
}

// The guard resets (it holds the watchdog and runs SCHED_RR; guard.h). cmcld never resets
// the node itself: a reset that cannot be handed on ends cmcld instead (below).
void Daemon::Impl::ExecuteReset(const node::ResetNode& reset) {
  reset_asked = reset.why;
  if (guard && guard->Reset(reset.why)) {
    spdlog::critical("asked cmcl-guard pid {} to reset this node: {}", guard->guard_pid(),
                     reset.why);
    return;
  }
  ExitResetNotDelivered(reset.why);
}

// A reset cmcld asked for must not be dropped silently, and cmcld does not reset the node
// on its own (a test machine must never be reset; the guard's device is the one path).
// Exiting is the safe way on: a dead cmcld renews no lease, so the guard (if it lives)
// fences every registered guest at lease_end - fence_timeout and, holding the watchdog,
// resets the node at lease_end if a guest is not seen stopped; a guard that is gone pets
// no watchdog, which fires within watchdog_timeout. Exit status 3, not 0: no Detach.
void Daemon::Impl::ExitResetNotDelivered(const std::string& why) {
  spdlog::critical(
      "cannot ask cmcl-guard to reset this node ({}): the connection to the guard is gone; "
      "cmcld exits so that the lease ends and the guard's deadline and watchdog take over",
      why);
  Finish(kExitResetNotDelivered);
}

void Daemon::Impl::ExecuteGuest(const node::GuestAction& action) {
  // Scripts of the version that started the guest (config_versions.h).
  const ConfigVersions::Version& version = versions->ForGuest(action.guest.resource);
  const cmcl::config::PackageSpec* spec = version.config->FindPackage(action.guest.resource);
  if (spec == nullptr) {
    spdlog::error("guest action for {} which is not configured here; answered unknown",
                  action.guest.resource.value());
    boost::asio::post(io, [this, action] {
      Execute(core->GuestReported(BootNow(), action.guest, action.verb,
                                  node::GuestResult{.status = node::GuestStatus::kUnknown}));
    });
    return;
  }
  if (metrics_server && action.verb != node::GuestVerb::kStatus) {
    guest_action_started[{action.guest.resource, action.verb}] = BootNow();
  }
  runner->Submit(action, *spec, PackageDir(version, action.guest.resource));
}

void Daemon::Impl::TimeGuestAction(const PackageName& package, node::GuestVerb verb) {
  const auto started = guest_action_started.find({package, verb});
  if (started == guest_action_started.end()) return;  // Unsolicited, or not timed.
  const double seconds = static_cast<double>((BootNow() - started->second).count()) / 1000.0;
  guest_action_started.erase(started);
  script_durations.try_emplace(std::string(node::GuestVerbName(verb)), metrics::ScriptHistogram())
      .first->second.Observe(seconds);
}

void Daemon::Impl::LogNewEvents() {
  const std::deque<node::ClusterEvent>& events = core->state().events();
  auto first = events.end();
  while (first != events.begin() && std::prev(first)->index > events_logged) --first;
  for (auto event = first; event != events.end(); ++event) {
    if (event->critical) {
      spdlog::warn("event {}: {}", event->index.value(), event->text);
    } else {
      spdlog::info("event {}: {}", event->index.value(), event->text);
    }
  }
  if (!events.empty()) events_logged = std::max(events_logged, events.back().index);
}

void Daemon::Impl::ObserveFailovers() {
  if (!failovers) return;
  const Time now = BootNow();
  failovers->Observe(core->state(), now, [&](const NodeName& node) -> std::optional<Time> {
    const std::map<NodeName, std::vector<NetworkStatus>> networks = peers->Networks();
    const auto it = networks.find(node);
    if (it == networks.end()) return std::nullopt;
    std::optional<Duration> age;
    for (const NetworkStatus& network : it->second) {
      if (network.heard)
        age = std::min(age.value_or(network.last_heard_age), network.last_heard_age);
    }
    if (!age) return std::nullopt;
    return now - *age;
  });
}

void Daemon::Impl::AfterInput() {
  const raft::Raft& raft = core->raft();
  if (raft.applied_index().value() >= raft.snapshot_index().value() + kCompactEvery &&
      core->state().applied() == raft.applied_index()) {
    Execute(core->Compact(BootNow()));
    return;  // That Execute ends here again.
  }
  LogNewEvents();
  ObserveFailovers();
  FollowAppliedVersion(false);
  GiveVerdict();
  versions->Forget([&](const PackageName& package) { return core->RunsGuest(package); });
  control->OnApplied();
  if (stopping && core->ShutdownDone()) {
    spdlog::info("{} left the cluster cleanly; cmcld exits", self.value());
    Finish(0);
    return;
  }
  if (ClusterHaltDone()) {
    ExitAfterClusterHalt();
    if (io.stopped()) return;
  } else {
    cluster_halt_done_since.reset();
  }
  ArmTimer();
}

bool Daemon::Impl::ClusterHaltDone() const {
  const node::ClusterState& state = core->state();
  const std::optional<node::Outcome>& halt = state.cluster_outcome();
  if (!state.cluster_halted() || !halt || !halt->ok || halt->command <= recovered_last ||
      !core->LocalGuests().empty()) {
    return false;
  }
  if (!core->MayKeepGuests(BootNow())) return true;  // Nobody left to learn from.
  for (const auto& [package, assignment] : state.assignments()) {
    const node::PackageStatus status = state.StatusOf(package);
    if (status == node::PackageStatus::kUp || status == node::PackageStatus::kStarting ||
        status == node::PackageStatus::kHalting) {
      return false;
    }
  }
  return true;
}

void Daemon::Impl::ExitAfterClusterHalt() {
  const Time now = BootNow();
  if (!cluster_halt_done_since) cluster_halt_done_since = now;
  const Time exit_at = *cluster_halt_done_since + kClusterExitGrace * cluster->heartbeat_interval;
  if (now >= exit_at) {
    spdlog::info(
        "the cluster was halted (cluster halt --force) and {} runs no guest; cmcld "
        "exits",
        self.value());
    Finish(0);
    return;
  }
  cluster_exit_timer.expires_after(exit_at - now);
  cluster_exit_timer.async_wait([this](const boost::system::error_code& error) {
    if (!error && !io.stopped()) AfterInput();
  });
}

void Daemon::Impl::ArmTimer() {
  const Time next = core->NextWakeup();
  const Duration delay = std::max(Duration(0), next - BootNow());
  wakeup.expires_after(std::min<Duration>(delay, std::chrono::seconds(3600)));
  wakeup.async_wait([this](const boost::system::error_code& error) {
    if (!error) {
      Execute(core->Tick(BootNow()));
    }
  });
}

// --- Configuration versions (config apply, issue 9) ---------------------------------

void Daemon::Impl::FollowAppliedVersion(bool now) {
  const node::ClusterState& state = core->state();
  const uint64_t applied = state.config_version();
  if (applied <= 1 || applied == versions->current().number || applied == unusable_version ||
      preparing.contains(applied)) {
    return;
  }
  preparing.insert(applied);
  auto prepare = [applied, bytes = state.bundle(), hash = state.bundle_hash(), dir = state_dir,
                  key = own->security.key_file] {
    return ConfigVersions::Prepare(applied, bytes, hash, dir, key);
  };
  if (now) {
    InstallVersion(applied, RunAside(prepare), false);  // Aside: runtime/aside.h.
    return;
  }
  InBackground([this, applied, prepare = std::move(prepare)]() -> std::function<void()> {
    auto version = std::make_shared<Result<ConfigVersions::Version>>(prepare());
    return [this, applied, version] { InstallVersion(applied, std::move(*version), true); };
  });
}

void Daemon::Impl::InstallVersion(uint64_t applied, Result<ConfigVersions::Version> version,
                                  bool tick) {
  preparing.erase(applied);
  if (applied <= versions->current().number) {
    return;  // A later version was installed meanwhile.
  }
  if (!version.ok()) {
    unusable_version = applied;
    spdlog::critical(
        "configuration version {} is applied in the cluster, but {} cannot write "
        "or load it: {}; it keeps version {} (restart cmcld to try again)",
        applied, self.value(), version.status().message(), versions->current().number);
    return;
  }
  const ConfigVersions::Version* installed = versions->Install(std::move(version).value());
  cluster = installed->config;
  core->SetConfig(cluster, applied);
  spdlog::info("configuration version {} applied here: {}", applied, installed->dir);
  versions->Prune();
  if (tick) {
    Execute(core->Tick(BootNow()));  // The coordinator places by the new version at once.
  }
}

void Daemon::Impl::GiveVerdict() {
  const std::optional<std::pair<uint64_t, std::string>> wanted = core->ConfigToValidate();
  const std::optional<node::PendingConfig>& pending = core->state().pending_config();
  if (!wanted || !pending || pending->proposal.version != wanted->first ||
      pending->proposal.bundle_hash != wanted->second ||
      !verdicts_given.insert(pending->proposed_at).second) {
    return;
  }
  const node::ConfigProposeOp& proposal = pending->proposal;
  InBackground([this, version = proposal.version, hash = proposal.bundle_hash, by = proposal.by,
                bytes = proposal.bundle, in_effect = own, me = self, dir = state_dir,
                key = own->security.key_file]() -> std::function<void()> {
    std::string reason = JudgeProposal(bytes, hash, *in_effect, me, dir, key);
    return [this, version, hash, by, reason = std::move(reason)] {
      spdlog::info("configuration version {} (bundle hash {}, by {}): {}", version, hash, by,
                   reason.empty() ? "valid here" : "refused here: " + reason);
      if (!stopping) {
        Execute(core->ConfigVerdict(BootNow(), version, hash, reason.empty(), reason));
      }
    };
  });
}

void Daemon::Impl::InBackground(std::function<std::function<void()>()> job) {
  std::erase_if(workers, [](const Worker& worker) { return worker.done->load(); });
  auto done = std::make_shared<std::atomic<bool>>(false);
  workers.push_back(Worker{.done = done, .thread = std::jthread([this, done, job = std::move(job)] {
                                           std::function<void()> then = job();
                                           boost::asio::post(io, std::move(then));
                                           done->store(true);
                                         })});
}

void Daemon::Impl::WarnIfOwnFilesDiffer() {
  const node::ClusterState& state = core->state();
  if (state.config_version() <= 1) return;  // bootstrap_bundle.cc compared v1 already.
  Result<Bundle> files = BuildBundle(*own);
  const std::string hash = files.ok() ? BundleHash(EncodeBundle(*files)) : "";
  if (hash == state.bundle_hash()) return;
  spdlog::warn(
      "{} differs from the applied configuration version {} (bundle hash {} vs {}); "
      "the applied version is used (pkgctl config show prints it; pkgctl config "
      "apply makes the files the next version)",
      options.config_path, state.config_version(), files.ok() ? hash : files.status().message(),
      state.bundle_hash());
}

// From here on nothing reads the packages of this node's own files: scripts and package
// settings come from the configuration versions (config/v1 holds the same packages, loaded
// from its own folder), and `own` is asked only for this node's identity, key, addresses
// and the settings a config apply may not change (SettingsInEffect). Two copies of 1,000
// packages cost about 2 MiB of heap (docs/DESIGN_CHANGES.md).
void Daemon::Impl::ForgetOwnPackages() {
  // Version 1 is `own` itself when config/v1 did not fit these files: it keeps them.
  if (own.use_count() != 1) return;
  // Move-assigned: `= {}` would keep each vector's buffer.
  own->packages = std::vector<cmcl::config::PackageSpec>();
  own->package_folders = std::vector<std::string>();
  own->package_folders_written = std::vector<std::string>();
}

// --- Control commands ---------------------------------------------------------------

void Daemon::Impl::Propose(node::OpBatch ops, Time /*wait_deadline*/,
                           std::function<void(const raft::ClientReply&)> done) {
  // Without a coordinator the command fails as "no quorum" well before the operator's
  // own timeout (which covers the whole operation, not just its commit). A shorter
  // operator timeout does not shorten the commit attempt: `--timeout` bounds the wait,
  // and its answer says the operation goes on (a 1 ms timeout once expired before the
  // command was even forwarded, so nothing went on).
  const Duration commit_bound =
      std::max<Duration>(std::chrono::seconds(5), 3 * cluster->node_timeout);
  proposals.push_back(Proposal{std::move(ops), BootNow() + commit_bound, std::move(done)});
  if (!proposal_in_flight) {
    proposal_in_flight = true;
    ++control_sequence;
    last_reply.reset();
    boost::asio::post(io, [this] { SendProposal(); });
  }
}

void Daemon::Impl::SendProposal() {
  if (proposals.empty() || stopping) {
    return;
  }
  const Proposal& proposal = proposals.front();
  const Time now = BootNow();
  if (now >= proposal.deadline) {
    raft::ClientReply reply = last_reply.value_or(
        raft::ClientReply{.client_id = control_client, .sequence = control_sequence});
    if (reply.code == raft::ReplyCode::kNotLeader && reply.detail.empty()) {
      reply.detail = "no quorum: no coordinator answered before the timeout";
    }
    OnReply(reply);
    return;
  }
  ArmProposalTimer(kProposalResend);
  Execute(core->Forward(now, raft::Command{.client_id = control_client,
                                           .sequence = control_sequence,
                                           .payload = node::EncodeOps(proposal.ops),
                                           .revokes = {}}));
}

void Daemon::Impl::ArmProposalTimer(Duration after) {
  proposal_timer.expires_after(after);
  proposal_timer.async_wait([this](const boost::system::error_code& error) {
    if (!error) {
      SendProposal();
    }
  });
}

void Daemon::Impl::OnReply(const raft::ClientReply& reply) {
  if (reply.client_id != control_client || reply.sequence != control_sequence ||
      proposals.empty()) {
    return;  // An earlier answer to a command already answered.
  }
  switch (reply.code) {
    case raft::ReplyCode::kNotLeader:
    case raft::ReplyCode::kBusy:
    case raft::ReplyCode::kUnknownOutcome:
      last_reply = reply;
      if (BootNow() < proposals.front().deadline) {
        ArmProposalTimer(kProposalRetry);
        return;
      }
      break;
    default:
      break;
  }
  proposal_timer.cancel();
  Proposal proposal = std::move(proposals.front());
  proposals.pop_front();
  proposal.done(reply);
  proposal_in_flight = !proposals.empty();
  if (proposal_in_flight) {
    ++control_sequence;
    last_reply.reset();
    boost::asio::post(io, [this] { SendProposal(); });
  }
}

// --- Stopping -----------------------------------------------------------------------

void Daemon::Impl::OnSignal(int signal) {
  if (stopping) {
    spdlog::warn("second signal {}: cmcld exits now; cmcl-guard keeps guarding", signal);
    Finish(0);
    return;
  }
  stopping = true;
  spdlog::info("signal {}: {} leaves the cluster (shutdown_policy), then cmcld exits", signal,
               self.value());
  Notify("STOPPING=1\nSTATUS=leaving the cluster (shutdown_policy)");
  signals.async_wait([this](const boost::system::error_code& error, int next) {
    if (!error) {
      OnSignal(next);
    }
  });
  stop_timer.expires_after(options.stop_timeout);
  stop_timer.async_wait([this](const boost::system::error_code& error) {
    if (!error) {
      spdlog::error("stop timeout: guests still here are left to cmcl-guard; cmcld exits");
      Finish(0);
    }
  });
  Execute(core->Shutdown(BootNow()));
}

std::string Daemon::Impl::RenderMetrics() {
  if (!core || !failovers) return "";  // Not before StartCore; io.run() starts after it.
  return metrics::MetricsPage(*cluster, *core, BootNow(), peers->Networks(), peers->counters(),
                              script_durations, *failovers, command_refusals);
}

std::string Daemon::Impl::RenderDashboard() {
  if (!core) return "{}";  // Not before StartCore, as RenderMetrics.
  return metrics::DashboardJsonPage(*cluster, *core, BootNow(), peers->Networks());
}

void Daemon::Impl::Finish(int status) {
  exit_status = status;
  if (guard && status == 0) {
    guard->Detach();
  }
  io.stop();
}

}  // namespace cmcl::io
