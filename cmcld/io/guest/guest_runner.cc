#include "cmcld/io/guest/guest_runner.h"

#include <signal.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/io/guest/guest_env.h"
#include "cmcld/io/guest/package_log.h"
#include "cmcld/io/guest/spawn.h"

namespace cmcl::io {
namespace {

using node::GuestAction;
using node::GuestResult;
using node::GuestStatus;
using node::GuestVerb;

// Driver exit codes (DESIGN.md section 4).
constexpr int kDriverRunning = 0;
constexpr int kDriverStopped = 7;
// What a script that could not be started "exits" with, as a shell would say.
constexpr int kSpawnFailed = 127;

// What the runner believes of a package without a driver (kStatus cannot ask anybody).
enum class Belief : uint8_t { kUnknown, kUp, kDown };

// One script (run or halt, or the halt of a no-driver fence) in flight for a package.
struct Script {
  std::shared_ptr<ChildProcess> child;
  GuestAction action;
};

struct Watch {
  GuestAction action;  // The kRun that started the guest.
  config::PackageSpec package;
  std::string package_dir;
  std::unique_ptr<boost::asio::steady_timer> timer;
  std::shared_ptr<ChildProcess> status_call;
};

struct PackageRun {
  std::optional<Script> script;
  pid_t run_group = 0;  // The last run script's group: a no-driver guest lives there.
  Belief belief = Belief::kUnknown;
  std::optional<Watch> watch;
  uint64_t watch_generation = 0;
};

GuestResult Result(GuestStatus status, int exit_code = 0, bool timed_out = false) {
  GuestResult result;
  result.status = status;
  result.exit_code = exit_code;
  result.timed_out = timed_out;
  return result;
}

// The answer to an action whose script was killed before it could finish.
GuestResult PreemptedResult(GuestVerb verb) {
  if (verb == GuestVerb::kRun || verb == GuestVerb::kHalt) return Result(GuestStatus::kFailed, -1);
  return Result(GuestStatus::kUnknown, -1);
}

void WriteFileAtomically(const std::string& path, const std::string& text) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out) {
      spdlog::warn("guest: cannot write {}: the script will not find its guest spec", path);
      return;
    }
  }
  std::filesystem::rename(temporary, path, error);
}

// SIGKILL to a run script's group, remembered after the script exited. Its number stays
// taken while members remain; once the group is empty it may be reused, and a live
// process of that number in another session is not ours: leave it alone.
void KillRunGroup(pid_t pgid) {
  if (pgid <= 1) return;
  const pid_t session = getsid(pgid);
  if (session >= 0 && session != getsid(0)) {
    spdlog::warn("guest: run group {} now belongs to another session; not killed", pgid);
    return;
  }
  SignalGroup(pgid, SIGKILL);
}

}  // namespace

struct GuestRunner::Impl {
  boost::asio::io_context& io;
  Options options;
  ReportFn on_report;
  GroupFn on_group;
  std::map<PackageName, PackageRun> packages;
  // Driver calls (kill, status) in flight, by a running id.
  std::map<uint64_t, std::shared_ptr<ChildProcess>> calls;
  uint64_t next_call = 1;
  // Expires with the runner: posted work checks it (Asio may run it after we are gone).
  std::shared_ptr<int> alive_token = std::make_shared<int>(0);
  // Spreads the status polls: guests started together (a cluster start) would otherwise
  // poll together, every monitor_interval, forever.
  std::minstd_rand jitter{static_cast<unsigned>(getpid())};
  // Run and halt scripts start at most kStartsPerTurn per turn of the io loop; the rest
  // wait here, in order. Starting one costs about 2.5 ms of this thread (spawn, guest
  // spec, log header): a node given 334 packages at once spent 0.8 s starting them
  // without reading a heartbeat, lost its lease and fenced them all (docs/BENCHMARKS.md,
  // "Failover, move, status and idle cost on real daemons"). Between turns the loop reads
  // the network and fires timers. Kills and status calls never wait (a fence must not
  // queue behind starts).
  struct Queued {
    GuestAction action;
    config::PackageSpec package;
    std::string package_dir;
  };
  static constexpr size_t kStartsPerTurn = 8;
  std::deque<Queued> queued;
  size_t started_this_turn = 0;
  bool turn_end_posted = false;

  GuestEnvContext Context() const { return {options.node, options.state_dir, options.driver_dir}; }
  std::string DriverPath(const config::PackageSpec& package) const {
    return package.driver ? options.driver_dir + "/" + *package.driver : std::string();
  }

  void Report(const GuestAction& action, GuestVerb verb, const GuestResult& result) {
    if (on_report) on_report(action.guest, verb, result);
  }
  // Runs `fn` later on the io thread, unless the runner is gone by then.
  void Post(std::function<void()> fn) {
    boost::asio::post(io, [alive = std::weak_ptr<int>(alive_token), fn = std::move(fn)] {
      if (alive.lock()) fn();
    });
  }
  // For answers decided inside Submit: the caller gets them after Submit returned.
  void ReportLater(const GuestAction& action, GuestResult result) {
    Post([this, action, result] { Report(action, action.verb, result); });
  }

  std::shared_ptr<ChildProcess> Start(const GuestAction& action, const config::PackageSpec& package,
                                      const std::string& package_dir, SpawnRequest request,
                                      std::string_view action_name, bool to_log,
                                      std::optional<Duration> term_after, Duration kill_after,
                                      ChildProcess::ExitFn on_exit);
  void RunScript(const GuestAction& action, const config::PackageSpec& package,
                 const std::string& package_dir);
  void StartOrQueue(const GuestAction& action, const config::PackageSpec& package,
                    const std::string& package_dir);
  void CountStart();
  void PostTurnEnd();
  void DropQueued(const PackageName& name);
  void FenceWithoutDriver(const GuestAction& action, const config::PackageSpec& package,
                          const std::string& package_dir);
  void CallDriver(const GuestAction& action, const config::PackageSpec& package,
                  const std::string& package_dir, std::string_view verb,
                  std::function<void(const ChildExit&)> on_exit);
  void KillWithDriver(const GuestAction& action, const config::PackageSpec& package,
                      const std::string& package_dir);
  void Status(const GuestAction& action, const config::PackageSpec& package,
              const std::string& package_dir);
  void Preempt(const PackageName& name);
  void StartWatch(const GuestAction& action, const config::PackageSpec& package,
                  const std::string& package_dir);
  void StopWatch(const PackageName& name);
  void ArmWatch(const PackageName& name, uint64_t generation);
  void PollWatch(const PackageName& name, uint64_t generation);
};

// Spawns one script or driver call of `package`: header line in its log (when
// `to_log`), the CMCL_* environment, the package folder as working directory. nullptr
// when it could not be started (logged).
std::shared_ptr<ChildProcess> GuestRunner::Impl::Start(
    const GuestAction& action, const config::PackageSpec& package, const std::string& package_dir,
    SpawnRequest request, std::string_view action_name, bool to_log,
    std::optional<Duration> term_after, Duration kill_after, ChildProcess::ExitFn on_exit) {
  const std::string& name = package.name.value();
  int log_fd = -1;
  if (to_log) {
    const std::string header = UtcTimestampNow() + " " + std::string(action_name) +
                               " epoch=" + std::to_string(action.guest.epoch.value()) +
                               " reason=" + std::string(node::ActionReasonName(action.reason));
    auto opened =
        OpenPackageLog({options.state_dir, options.log_max_bytes, options.log_keep}, name, header);
    if (opened.ok()) {
      log_fd = *opened;
    } else {
      spdlog::warn("guest {}: {}; its output goes to /dev/null", name, opened.status().ToString());
    }
  }
  request.env = GuestEnvironment(Context(), action, package, action_name);
  request.cwd = package_dir;
  request.output_fd = log_fd;
  auto child = ChildProcess::Spawn(io, request, term_after, kill_after, std::move(on_exit));
  if (log_fd >= 0) ::close(log_fd);
  if (!child.ok()) {
    spdlog::error("guest {}: cannot start {} for {}: {}", name, request.program, action_name,
                  child.status().ToString());
    return nullptr;
  }
  return *child;
}

// Kills the script still running for `name` (its whole group) and answers its action.
void GuestRunner::Impl::Preempt(const PackageName& name) {
  auto& run = packages[name];
  if (!run.script) return;
  Script old = std::move(*run.script);
  run.script.reset();
  old.child->Detach();
  old.child->KillGroup();
  spdlog::warn("guest {}: {} script of epoch {} killed: a new action replaces it", name.value(),
               GuestActionName(old.action.verb), old.action.guest.epoch.value());
  Report(old.action, old.action.verb, PreemptedResult(old.action.verb));
}

void GuestRunner::Impl::RunScript(const GuestAction& action, const config::PackageSpec& package,
                                  const std::string& package_dir) {
  const PackageName name = package.name;
  const bool is_run = action.verb == GuestVerb::kRun;
  Preempt(name);
  StopWatch(name);
  WriteFileAtomically(GuestSpecPath(options.state_dir, name.value()),
                      GuestSpecJson(Context(), action, package));
  SpawnRequest request;
  request.program = package_dir + "/" + (is_run ? package.run_script : package.halt_script);
  const Duration timeout = is_run ? package.run_timeout : package.halt_timeout;
  auto on_exit = [this, name, action, package, package_dir, is_run](const ChildExit& exit) {
    auto& run = packages[name];
    run.script.reset();
    const bool ok = exit.exit_code == 0 && !exit.timed_out;
    // DESIGN.md section 5: a failed run is cleaned up, first of all its group.
    if (is_run && !ok) KillRunGroup(run.run_group);
    spdlog::info("guest {}: {} script exited {}{} (epoch {})", name.value(),
                 is_run ? "run" : "halt", exit.exit_code,
                 exit.timed_out ? " after its timeout" : "", action.guest.epoch.value());
    run.belief = ok ? (is_run ? Belief::kUp : Belief::kDown) : Belief::kUnknown;
    if (ok && is_run && package.driver) StartWatch(action, package, package_dir);
    const GuestStatus status =
        ok ? (is_run ? GuestStatus::kRunning : GuestStatus::kStopped) : GuestStatus::kFailed;
    Report(action, action.verb, Result(status, exit.exit_code, exit.timed_out));
  };
  auto child = Start(action, package, package_dir, request, GuestActionName(action.verb), true,
                     timeout, package.kill_timeout, on_exit);
  if (!child) {
    ReportLater(action, Result(GuestStatus::kFailed, kSpawnFailed));
    return;
  }
  auto& run = packages[name];
  run.script = Script{child, action};
  if (is_run) {
    run.run_group = child->pid();
    if (on_group) on_group(name, child->pid());
  }
}

void GuestRunner::Impl::StartOrQueue(const GuestAction& action, const config::PackageSpec& package,
                                     const std::string& package_dir) {
  DropQueued(package.name);
  if (queued.empty() && started_this_turn < kStartsPerTurn) {
    CountStart();
    RunScript(action, package, package_dir);
    return;
  }
  queued.push_back(Queued{action, package, package_dir});
  PostTurnEnd();
}

void GuestRunner::Impl::CountStart() {
  ++started_this_turn;
  PostTurnEnd();
}

// The turn's end runs after whatever the loop has ready by then (network reads, timers)
// and starts the next kStartsPerTurn queued scripts.
void GuestRunner::Impl::PostTurnEnd() {
  if (turn_end_posted) return;
  turn_end_posted = true;
  Post([this] {
    turn_end_posted = false;
    started_this_turn = 0;
    while (!queued.empty() && started_this_turn < kStartsPerTurn) {
      Queued next = std::move(queued.front());
      queued.pop_front();
      CountStart();
      RunScript(next.action, next.package, next.package_dir);
    }
  });
}

// A newer action for a package replaces its queued one, answered as a preempted script is.
void GuestRunner::Impl::DropQueued(const PackageName& name) {
  for (auto it = queued.begin(); it != queued.end();) {
    if (it->package.name != name) {
      ++it;
      continue;
    }
    spdlog::warn("guest {}: {} script of epoch {} not started: a new action replaces it",
                 name.value(), GuestActionName(it->action.verb), it->action.guest.epoch.value());
    ReportLater(it->action, PreemptedResult(it->action.verb));
    it = queued.erase(it);
  }
}

// No driver (DESIGN.md section 4): SIGKILL the run script's group, then the halt script
// with CMCL_REASON=fence, bounded by kill_timeout.
void GuestRunner::Impl::FenceWithoutDriver(const GuestAction& action,
                                           const config::PackageSpec& package,
                                           const std::string& package_dir) {
  const PackageName name = package.name;
  Preempt(name);
  KillRunGroup(packages[name].run_group);
  GuestAction halt = action;
  halt.reason = node::ActionReason::kFence;
  WriteFileAtomically(GuestSpecPath(options.state_dir, name.value()),
                      GuestSpecJson(Context(), halt, package));
  SpawnRequest request;
  request.program = package_dir + "/" + package.halt_script;
  auto on_exit = [this, name, action](const ChildExit& exit) {
    auto& run = packages[name];
    run.script.reset();
    const bool stopped = exit.exit_code == 0 && !exit.timed_out;
    run.belief = stopped ? Belief::kDown : Belief::kUnknown;
    if (stopped) run.run_group = 0;
    spdlog::log(stopped ? spdlog::level::info : spdlog::level::err,
                "guest {}: fence halt script exited {}{} (epoch {})", name.value(), exit.exit_code,
                exit.timed_out ? " after kill_timeout" : "", action.guest.epoch.value());
    Report(action, action.verb,
           Result(stopped ? GuestStatus::kStopped : GuestStatus::kUnknown, exit.exit_code,
                  exit.timed_out));
  };
  auto child = Start(halt, package, package_dir, request, "halt", true, package.kill_timeout,
                     Duration(0), on_exit);
  if (!child) {
    ReportLater(action, Result(GuestStatus::kUnknown, kSpawnFailed));
    return;
  }
  packages[name].script = Script{child, action};
}

// `DRIVER verb`, bounded by kill_timeout (then SIGKILL). Its exit goes to `on_exit`; a
// driver that cannot be started "exits" 127.
void GuestRunner::Impl::CallDriver(const GuestAction& action, const config::PackageSpec& package,
                                   const std::string& package_dir, std::string_view verb,
                                   std::function<void(const ChildExit&)> on_exit) {
  const uint64_t id = next_call++;
  SpawnRequest request;
  request.program = DriverPath(package);
  request.args = {std::string(verb)};
  auto done = [this, id, on_exit](const ChildExit& exit) {
    calls.erase(id);
    on_exit(exit);
  };
  auto child = Start(action, package, package_dir, request, verb, true, package.kill_timeout,
                     Duration(0), done);
  if (!child) {
    ChildExit failed;
    failed.exit_code = kSpawnFailed;
    Post([on_exit, failed] { on_exit(failed); });
    return;
  }
  calls[id] = child;
}

void GuestRunner::Impl::KillWithDriver(const GuestAction& action,
                                       const config::PackageSpec& package,
                                       const std::string& package_dir) {
  Preempt(package.name);
  CallDriver(action, package, package_dir, "kill",
             [this, action, package, package_dir](const ChildExit& kill) {
               if (kill.exit_code != 0) {
                 spdlog::warn("guest {}: driver kill exited {}{}", package.name.value(),
                              kill.exit_code, kill.timed_out ? " after kill_timeout" : "");
               }
               CallDriver(action, package, package_dir, "status",
                          [this, action, package](const ChildExit& status) {
                            const bool stopped =
                                status.exit_code == kDriverStopped && !status.timed_out;
                            if (stopped) packages[package.name].belief = Belief::kDown;
                            Report(action, action.verb,
                                   Result(stopped ? GuestStatus::kStopped : GuestStatus::kUnknown,
                                          status.exit_code, status.timed_out));
                          });
             });
}

void GuestRunner::Impl::Status(const GuestAction& action, const config::PackageSpec& package,
                               const std::string& package_dir) {
  if (!package.driver) {
    // Scripts cannot tell: believe what the last script said.
    switch (packages[package.name].belief) {
      case Belief::kUp:
        return ReportLater(action, Result(GuestStatus::kRunning));
      case Belief::kDown:
        return ReportLater(action, Result(GuestStatus::kStopped));
      case Belief::kUnknown:
        return ReportLater(action, Result(GuestStatus::kUnknown));
    }
    return;
  }
  CallDriver(action, package, package_dir, "status", [this, action](const ChildExit& exit) {
    GuestStatus status = GuestStatus::kUnknown;
    if (!exit.timed_out && exit.exit_code == kDriverRunning) status = GuestStatus::kRunning;
    if (!exit.timed_out && exit.exit_code == kDriverStopped) status = GuestStatus::kStopped;
    Report(action, action.verb, Result(status, exit.exit_code, exit.timed_out));
  });
}

void GuestRunner::Impl::StartWatch(const GuestAction& action, const config::PackageSpec& package,
                                   const std::string& package_dir) {
  StopWatch(package.name);
  auto& run = packages[package.name];
  Watch watch;
  watch.action = action;
  watch.action.verb = GuestVerb::kStatus;
  watch.package = package;
  watch.package_dir = package_dir;
  watch.timer = std::make_unique<boost::asio::steady_timer>(io);
  run.watch = std::move(watch);
  ArmWatch(package.name, run.watch_generation);
}

void GuestRunner::Impl::StopWatch(const PackageName& name) {
  auto& run = packages[name];
  ++run.watch_generation;
  if (!run.watch) return;
  run.watch->timer->cancel();
  if (run.watch->status_call) run.watch->status_call->Detach();
  run.watch.reset();  // Destroying a status call still running kills and reaps it.
}

void GuestRunner::Impl::ArmWatch(const PackageName& name, uint64_t generation) {
  auto& watch = *packages[name].watch;
  // monitor_interval ± 10%.
  const auto spread = std::uniform_int_distribution<int64_t>(
      -options.monitor_interval.count() / 10, options.monitor_interval.count() / 10)(jitter);
  watch.timer->expires_after(options.monitor_interval + Duration(spread));
  watch.timer->async_wait([this, name, generation](const boost::system::error_code& error) {
    if (error) return;  // Cancelled: the runner or the watch may be gone.
    PollWatch(name, generation);
  });
}

// One monitoring status call. A guest that died is reported once, as an unsolicited
// kStatus kStopped; the watch then ends.
void GuestRunner::Impl::PollWatch(const PackageName& name, uint64_t generation) {
  auto& run = packages[name];
  if (run.watch_generation != generation || !run.watch) return;
  Watch& watch = *run.watch;
  SpawnRequest request;
  request.program = DriverPath(watch.package);
  request.args = {"status"};
  auto on_exit = [this, name, generation](const ChildExit& exit) {
    auto& current = packages[name];
    if (current.watch_generation != generation || !current.watch) return;
    current.watch->status_call.reset();
    if (exit.exit_code == kDriverStopped && !exit.timed_out) {
      const GuestAction action = current.watch->action;
      spdlog::warn("guest {}: the driver says stopped while it should run (epoch {})", name.value(),
                   action.guest.epoch.value());
      current.belief = Belief::kDown;
      StopWatch(name);
      Report(action, GuestVerb::kStatus, Result(GuestStatus::kStopped, exit.exit_code));
      return;
    }
    ArmWatch(name, generation);
  };
  // Not logged: a status every monitor_interval would flood the package log.
  watch.status_call = Start(watch.action, watch.package, watch.package_dir, request, "status",
                            false, watch.package.kill_timeout, Duration(0), on_exit);
  if (!watch.status_call) ArmWatch(name, generation);
}

GuestRunner::GuestRunner(boost::asio::io_context& io, Options options, ReportFn on_report,
                         GroupFn on_group)
    : impl_(std::make_unique<Impl>(
          Impl{io, std::move(options), std::move(on_report), std::move(on_group)})) {}

GuestRunner::~GuestRunner() {
  for (auto& [name, run] : impl_->packages) {
    if (run.watch) {
      run.watch->timer->cancel();
      if (run.watch->status_call) run.watch->status_call->Detach();
    }
    if (run.script) run.script->child->Detach();
  }
  for (auto& [id, child] : impl_->calls) child->Detach();
  // The ChildProcess destructors SIGKILL every group still running and reap it.
  impl_.reset();
}

void GuestRunner::Submit(const node::GuestAction& action, const config::PackageSpec& package,
                         const std::string& package_dir) {
  switch (action.verb) {
    case GuestVerb::kRun:
    case GuestVerb::kHalt:
      return impl_->StartOrQueue(action, package, package_dir);
    case GuestVerb::kKill:
      impl_->DropQueued(package.name);
      impl_->StopWatch(package.name);
      if (package.driver) return impl_->KillWithDriver(action, package, package_dir);
      return impl_->FenceWithoutDriver(action, package, package_dir);
    case GuestVerb::kStatus:
      return impl_->Status(action, package, package_dir);
  }
}

std::string GuestRunner::DriverPath(const config::PackageSpec& package) const {
  return impl_->DriverPath(package);
}

std::vector<std::string> GuestRunner::Environment(const node::GuestAction& action,
                                                  const config::PackageSpec& package,
                                                  const std::string& package_dir) const {
  (void)package_dir;
  return GuestEnvironment(impl_->Context(), action, package, GuestActionName(action.verb));
}

}  // namespace cmcl::io
