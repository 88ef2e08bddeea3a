// Crash rounds on real processes (issue 11 item 2): one cluster of three real cmcld
// processes (local_cluster.h) lives through many rounds; each round starts an operation —
// `pkgctl move`, `pkgctl config apply` (a package added or a script changed) or a cold
// start of the whole cluster — and at a random moment within it crashes a random node
// (SIGKILL of its PID namespace: daemon, guard and guests) or only its daemon, then
// powers it on again. Some node crashes also leave a torn record at the end of the
// node's raft.log (the write a power cut interrupts), which the restart must cut off.
//
// After every round it checks, against the ground truth of the guests' ledgers and disk
// locks (not the daemons' word):
//   1. every command pkgctl acknowledged (exit 0) is in the final state: an acknowledged
//      move started the guest on its target (and it is still there unless the target
//      crashed since); an acknowledged config apply's version is applied on every node;
//   2. never two copies: per package, the runs in the ledger (start .. stop/kill, or
//      .. the crash of the node that ran it) never overlap, and no start was ever
//      refused because another copy held the disk lock;
//   3. the cluster converges within a bound of many seconds: every member up, one
//      coordinator all agree on, one configuration version, every auto_run package up
//      on one node and holding its disk lock;
//   4. a daemon restarted within its lease adopted its guests: none that ran on its
//      node when it crashed (and that the operation did not move) was stopped or
//      started again.
//
// The choices (operation, victim, moment, torn tail) come from a seeded RNG; the seed is
// printed and CMCL_CRASH_SEED replays the same choices (the timing of real processes is
// not replayed). CMCL_TEST_TIER=full (tools/test.sh --full) runs the long variant:
// CrashRounds.Full (100 rounds), ctest label "full". CMCL_CRASH_ROUNDS sets the count.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kNodes = 3;
// How long a round may take to converge after its crashed node is back: many seconds,
// never a speed (a loaded CI machine, a failover after node_timeout, a cold start).
constexpr auto kConvergeBound = seconds(60);

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// CLOCK_BOOTTIME in the driver's ledger units (ms from /proc/uptime, 10 ms steps).
double UptimeMs() {
  std::ifstream in("/proc/uptime");
  double seconds_up = 0;
  in >> seconds_up;
  return seconds_up * 1000.0;
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

uint64_t SeedFromEnvironment() {
  if (const char* seed = std::getenv("CMCL_CRASH_SEED"); seed != nullptr && *seed != '\0') {
    return std::strtoull(seed, nullptr, 0);
  }
  return std::random_device{}();
}

int RoundsFor(int tier_default) {
  const char* rounds = std::getenv("CMCL_CRASH_ROUNDS");
  return rounds != nullptr && *rounds != '\0' ? std::atoi(rounds) : tier_default;
}

// The RNG of the round choices: plain modulo of mt19937_64, the same on every library.
class Choices {
 public:
  explicit Choices(uint64_t seed) : engine_(seed) {}
  int Below(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  bool OneIn(int n) { return Below(n) == 0; }

 private:
  std::mt19937_64 engine_;
};

// One run of a guest: from its start record to its stop/kill record or its node's crash.
struct GuestRun {
  std::string node;
  std::string pid;
  double from = 0;
  double to = 1e300;  // Still running.
};

// A node crash: the guests of `node` died no later than `at` (boottime ms).
struct NodeCrash {
  std::string node;
  double at = 0;
};

std::vector<GuestRun> RunsOf(const std::vector<LedgerRecord>& ledger,
                             const std::vector<NodeCrash>& crashes) {
  std::vector<GuestRun> runs;
  for (const LedgerRecord& record : ledger) {
    if (record.what == "start") {
      runs.push_back(GuestRun{.node = record.node, .pid = record.pid, .from = record.at_ms});
      continue;
    }
    for (GuestRun& run : runs) {  // stop/kill: pids are per node (each node its PID namespace).
      if (run.node == record.node && run.pid == record.pid && run.to > record.at_ms) {
        run.to = record.at_ms;
      }
    }
  }
  for (GuestRun& run : runs) {
    for (const NodeCrash& crash : crashes) {
      if (crash.node == run.node && crash.at >= run.from) run.to = std::min(run.to, crash.at);
    }
  }
  return runs;
}

// What a round did and what pkgctl answered.
struct Round {
  int index = 0;
  std::string operation;  // "move", "apply-add", "apply-change" or "cold-start".
  int victim = 0;
  bool whole_node = false;
  bool torn_tail = false;
  int delay_ms = 0;
  CommandResult answer;    // pkgctl's (move and apply).
  int answer_ms = -1;      // How long pkgctl took.
  bool in_flight = false;  // The crash came before pkgctl's answer.
  std::string package;     // The moved or added package.
  std::string target;      // The move's target node.
  double began = 0;        // Boottime ms.
  double crashed_at = 0;
  // Packages running on the victim's node when only its daemon crashed.
  std::map<std::string, size_t> adopted_records;  // Package -> ledger size at the crash.

  std::string Describe() const {
    std::ostringstream text;
    text << "round " << index << ": " << operation << (package.empty() ? "" : " " + package)
         << (operation == "move" ? " -> " + target : "") << ", crash "
         << (whole_node ? "node" : "daemon") << " node" << victim + 1 << " after " << delay_ms
         << " ms" << (torn_tail ? " + torn raft.log tail" : "");
    if (operation != "cold-start") {
      text << " (" << (in_flight ? "before" : "after") << " pkgctl's answer, exit "
           << answer.exit_status << " after " << answer_ms << " ms)";
    }
    return text.str();
  }
};

class CrashRounds {
 public:
  explicit CrashRounds(uint64_t seed) : choices_(seed), cluster_(Options()) {}

  void Play(int rounds) {
    cluster_.StartAll();
    ASSERT_TRUE(Converged(kConvergeBound)) << "the cluster did not start (" << waiting_for_ << ")";
    for (int i = 1; i <= rounds && !::testing::Test::HasFatalFailure(); ++i) {
      Round round = Choose(i);
      PlayRound(round);
      std::cout << round.Describe() << "\n" << std::flush;
      ASSERT_TRUE(Converged(kConvergeBound))
          << round.Describe() << ": did not converge (" << waiting_for_ << ")";
      CheckRound(round);
      ++played_;
    }
    CheckNoDoubleRun();
  }
  int played() const { return played_; }
  int acknowledged() const { return acknowledged_; }
  int in_flight() const { return in_flight_; }

 private:
  static LocalCluster::Options Options() {
    LocalCluster::Options options;
    // A lease long enough for a daemon restart on a loaded machine (RestartTest).
    options.node_timeout = "3s";
    options.heartbeat_interval = "300ms";
    options.cluster_start_wait = "5s";
    options.packages = {
        PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
        PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}},
        PackageDef{.name = "g3", .nodes = {"node3", "node1", "node2"}},
    };
    return options;
  }

  Round Choose(int index) {
    Round round{.index = index};
    const int kind = choices_.Below(10);
    round.operation = kind < 5   ? "move"
                      : kind < 7 ? "apply-add"
                      : kind < 9 ? "apply-change"
                                 : "cold-start";
    if (round.operation == "apply-add" && added_ >= 4) round.operation = "apply-change";
    round.victim = choices_.Below(kNodes);
    round.whole_node = choices_.OneIn(2);
    round.torn_tail = round.whole_node && choices_.OneIn(2);
    round.delay_ms = choices_.Below(round.operation == "cold-start" ? 3000 : 800);
    if (round.operation == "move") {
      round.package =
          packages_[static_cast<size_t>(choices_.Below(static_cast<int>(packages_.size())))];
    }
    round.target = cluster_.Name(choices_.Below(kNodes));  // A move's; another if the same.
    return round;
  }

  void PlayRound(Round& round) {
    round.began = UptimeMs();
    if (round.operation == "cold-start") {
      ColdStart(round);
      return;
    }
    const int asked = choices_.Below(kNodes);  // The node pkgctl talks to.
    std::vector<std::string> args;
    if (round.operation == "move") {
      const std::string at = cluster_.Package(asked, round.package)["node"].String();
      if (round.target == at) round.target = cluster_.Name((cluster_.IndexOf(at) + 1) % kNodes);
      args = {"move", round.package, "-n", round.target};
    } else {
      PrepareApply(round);
      args = {"config", "apply", cluster_.config_path()};
    }
    std::atomic<bool> answered{false};
    const auto asked_at = std::chrono::steady_clock::now();
    std::thread command([&] {
      round.answer = cluster_.Pkgctl(asked, args, false);
      round.answer_ms = static_cast<int>(
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - asked_at)
              .count());
      answered = true;
    });
    std::this_thread::sleep_for(milliseconds(round.delay_ms));
    round.in_flight = !answered;
    Crash(round);
    Recover(round);  // While pkgctl may still wait: a restart within the lease.
    command.join();
    if (round.in_flight) ++in_flight_;
    if (round.answer.exit_status == 0) ++acknowledged_;
    if (round.operation != "move") AcknowledgedApply(round, args);
  }

  // The version an apply acknowledged. An apply the crash cut short is retried, as an
  // operator would: the retry applies the files or finds them applied already (the cut
  // one committed after all); it must succeed once the cluster is whole again.
  void AcknowledgedApply(Round& round, const std::vector<std::string>& args) {
    CommandResult answer = round.answer;
    const bool retried = LocalCluster::WaitFor(
        [&, asked = round.victim]() mutable {
          // Not the RNG: how many retries a round takes must not shift later choices.
          if (answer.exit_status != 0) answer = cluster_.Pkgctl(asked++ % kNodes, args, false);
          return answer.exit_status == 0;
        },
        seconds(30));
    ASSERT_TRUE(retried) << round.Describe()
                         << ": config apply never succeeded again: " << answer.out << answer.err;
    if (answer.exit_status != round.answer.exit_status) {
      std::cout << round.Describe() << ": retried apply: " << answer.out;
    }
    const size_t at = answer.out.find("configuration version ");
    ASSERT_NE(at, std::string::npos) << answer.out;
    acked_version_ = std::atoll(answer.out.c_str() + at + 22);
  }

  // A new auto_run package, or a changed halt script of an existing one: either way a
  // new configuration version.
  void PrepareApply(Round& round) {
    if (round.operation == "apply-add") {
      round.package = "c" + std::to_string(++added_);
      std::vector<std::string> nodes;
      const int first = choices_.Below(kNodes);
      for (int n = 0; n < kNodes; ++n) nodes.push_back(cluster_.Name((first + n) % kNodes));
      cluster_.AddPackage(PackageDef{.name = round.package, .nodes = nodes});
      packages_.push_back(round.package);
      return;
    }
    const std::string package =
        packages_[static_cast<size_t>(choices_.Below(static_cast<int>(packages_.size())))];
    cluster_.WriteFile("packages/" + package + "/halt.sh",
                       "#!/bin/sh\n# round " + std::to_string(round.index) +
                           "\nexec \"$CMCL_DRIVER_DIR/process\" stop\n",
                       0755);
  }

  // The whole cluster loses power, then comes back one node at a time; the victim
  // crashes again after `delay_ms`, while the others are still starting.
  void ColdStart(Round& round) {
    for (int i = 0; i < kNodes; ++i) CrashNode(i);
    const auto began = std::chrono::steady_clock::now();
    bool crashed = false;
    for (int i = 0; i < kNodes; ++i) {
      cluster_.Start(i);
      if (!crashed && i >= round.victim &&
          std::chrono::steady_clock::now() - began >= milliseconds(round.delay_ms)) {
        Crash(round);
        crashed = true;
      }
    }
    if (!crashed) {
      std::this_thread::sleep_until(began + milliseconds(round.delay_ms));
      Crash(round);
    }
    Recover(round);
  }

  void CrashNode(int node) {
    cluster_.CrashNode(node);
    crashes_.push_back(NodeCrash{.node = cluster_.Name(node), .at = UptimeMs()});
  }

  void Crash(Round& round) {
    round.crashed_at = UptimeMs();
    if (round.whole_node) {
      CrashNode(round.victim);
      return;
    }
    // The guests the daemon ran: adopted without a stop or start when it comes back.
    const std::string victim = cluster_.Name(round.victim);
    for (const std::string& package : packages_) {
      const std::vector<LedgerRecord> ledger = cluster_.Ledger(package);
      const std::vector<GuestRun> runs = RunsOf(ledger, crashes_);
      const bool runs_here =
          !runs.empty() && runs.back().node == victim && runs.back().to > round.crashed_at;
      if (runs_here && package != round.package) round.adopted_records[package] = ledger.size();
    }
    cluster_.CrashDaemon(round.victim);
  }

  void Recover(Round& round) {
    if (round.whole_node) std::this_thread::sleep_for(milliseconds(choices_.Below(2000)));
    const std::string log = cluster_.dir() + "/" + cluster_.Name(round.victim) + "/cmcld.log";
    const size_t cut_before = Count(Slurp(log), "truncated ");
    if (round.torn_tail) TearRaftLogTail(round.victim);
    cluster_.Start(round.victim);
    if (round.torn_tail) {
      EXPECT_GT(Count(Slurp(log), "truncated "), cut_before)
          << round.Describe() << ": the restart did not say it cut the torn tail";
    }
  }

  // A power cut in the middle of writing a record: the file ends with the first bytes of
  // a record (a copy of the last one's header and half its payload) whose length runs
  // past the end. Nothing durable is lost; recovery must drop exactly those bytes.
  void TearRaftLogTail(int node) {
    const std::string path = cluster_.dir() + "/" + cluster_.Name(node) + "/state/raft.log";
    const std::string bytes = Slurp(path);
    constexpr size_t kHeader = 9;  // crc32c, u32 length, type (core/storage/record_log.h).
    size_t at = 0;
    size_t last = 0;
    while (at + kHeader <= bytes.size()) {
      uint32_t length = 0;
      for (int b = 3; b >= 0; --b) {
        length = (length << 8) | static_cast<unsigned char>(bytes[at + 4 + static_cast<size_t>(b)]);
      }
      last = at;
      at += kHeader + length;
    }
    ASSERT_EQ(at, bytes.size()) << path << " does not end on a record boundary";
    const size_t record = at - last;
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << bytes.substr(last, kHeader + (record - kHeader) / 2);
  }

  bool Converged(std::chrono::milliseconds bound) {
    return LocalCluster::WaitFor([&] { return ConvergedNow(); }, bound);
  }

  // Every member up in every view, one coordinator and one version all agree on, and
  // every package up on one node that all views name, its disk lock held.
  bool ConvergedNow() {
    std::optional<JsonValue> first;
    for (int i = 0; i < kNodes; ++i) {
      const std::optional<JsonValue> view = cluster_.View(i);
      const std::string who = cluster_.Name(i) + ": ";
      if (!view) return Waiting(who + "no view");
      if ((*view)["cluster"]["coordinator"].String().empty())
        return Waiting(who + "no coordinator");
      for (int n = 0; n < kNodes; ++n) {
        if (view->Named("nodes", cluster_.Name(n))["status"].String() != "up")
          return Waiting(who + cluster_.Name(n) + " not up");
      }
      for (const std::string& package : packages_) {
        const JsonValue entry = view->Named("packages", package);
        if (entry["status"].String() != "up")
          return Waiting(who + package + " is " + entry["status"].String());
        if (first && entry["node"].String() != first->Named("packages", package)["node"].String())
          return Waiting(who + package + " on another node than in node1's view");
      }
      if (first && ((*view)["cluster"]["coordinator"].String() !=
                        (*first)["cluster"]["coordinator"].String() ||
                    (*view)["cluster"]["config_version"].Number() !=
                        (*first)["cluster"]["config_version"].Number()))
        return Waiting(who + "another coordinator or version than node1's");
      if (!first) first = view;
    }
    for (const std::string& package : packages_) {
      if (cluster_.RunningCopies(package) != 1) return Waiting(package + "'s disk is not locked");
    }
    last_view_ = first;
    return true;
  }
  // Why the cluster has not converged yet (said when it never does).
  bool Waiting(std::string why) {
    waiting_for_ = std::move(why);
    return false;
  }

  void CheckRound(const Round& round) {
    const JsonValue& view = *last_view_;
    const int64_t version = static_cast<int64_t>(view["cluster"]["config_version"].Number());
    EXPECT_GE(version, acked_version_)
        << round.Describe() << ": an acknowledged configuration version was lost";
    if (round.operation == "move" && round.answer.exit_status == 0) CheckMove(round, view);
    for (const auto& [package, records] : round.adopted_records) {
      EXPECT_EQ(cluster_.Ledger(package).size(), records)
          << round.Describe() << ": " << package
          << " was stopped or started again instead of adopted";
    }
    for (const std::string& package : packages_) {
      // The open run in the ledger is where the views say the package is.
      const std::vector<GuestRun> runs = RunsOf(cluster_.Ledger(package), crashes_);
      const size_t open = static_cast<size_t>(std::count_if(
          runs.begin(), runs.end(), [](const GuestRun& run) { return run.to > 1e299; }));
      EXPECT_EQ(open, 1U) << round.Describe() << ": " << package << " has " << open
                          << " open runs in its ledger";
      if (!runs.empty()) {
        EXPECT_EQ(runs.back().node, view.Named("packages", package)["node"].String())
            << round.Describe() << ": " << package;
      }
    }
  }

  // The acknowledged move started the guest on the target after the round began; it is
  // still there unless the target (or its daemon) crashed after the answer.
  void CheckMove(const Round& round, const JsonValue& view) {
    const std::vector<LedgerRecord> ledger = cluster_.Ledger(round.package);
    const bool started = std::any_of(ledger.begin(), ledger.end(), [&](const LedgerRecord& r) {
      return r.what == "start" && r.node == round.target && r.at_ms >= round.began - 20;
    });
    EXPECT_TRUE(started) << round.Describe() << ": acknowledged, but never started on "
                         << round.target;
    const bool target_crashed = cluster_.Name(round.victim) == round.target;
    if (!target_crashed) {
      EXPECT_EQ(view.Named("packages", round.package)["node"].String(), round.target)
          << round.Describe() << ": the acknowledged move was undone";
    }
  }

  // Per package, no two runs overlap; no start ever found the disk locked.
  void CheckNoDoubleRun() {
    for (const std::string& package : packages_) {
      std::vector<GuestRun> runs = RunsOf(cluster_.Ledger(package), crashes_);
      std::sort(runs.begin(), runs.end(),
                [](const GuestRun& a, const GuestRun& b) { return a.from < b.from; });
      for (size_t i = 1; i < runs.size(); ++i) {
        EXPECT_GE(runs[i].from, runs[i - 1].to)
            << package << ": a copy started on " << runs[i].node << " at " << runs[i].from
            << " while the one on " << runs[i - 1].node << " (pid " << runs[i - 1].pid << ") ran";
      }
      std::cout << package << ": " << runs.size() << " runs, none overlapping\n";
    }
    for (int i = 0; i < kNodes; ++i) {
      const std::string logs = cluster_.dir() + "/" + cluster_.Name(i) + "/state/log";
      if (!std::filesystem::exists(logs)) continue;
      for (const auto& file : std::filesystem::recursive_directory_iterator(logs)) {
        if (!file.is_regular_file()) continue;
        EXPECT_EQ(Count(Slurp(file.path()), "locked by another running copy"), 0U)
            << file.path() << ": a start found another copy holding the disk";
      }
    }
  }

  Choices choices_;
  LocalCluster cluster_;
  std::vector<std::string> packages_ = {"g1", "g2", "g3"};
  std::vector<NodeCrash> crashes_;
  std::optional<JsonValue> last_view_;
  std::string waiting_for_;
  int added_ = 0;
  int64_t acked_version_ = 1;
  int played_ = 0;
  int acknowledged_ = 0;
  int in_flight_ = 0;
};

void PlayRounds(int rounds) {
  const uint64_t seed = SeedFromEnvironment();
  std::cout << "crash rounds: " << rounds << " rounds, seed " << seed
            << " (replay the choices with CMCL_CRASH_SEED=" << seed << ")\n";
  CrashRounds crash_rounds(seed);
  crash_rounds.Play(rounds);
  std::cout << "crash rounds: seed " << seed << ", " << crash_rounds.played() << " of " << rounds
            << " rounds played, " << crash_rounds.acknowledged() << " commands acknowledged, "
            << crash_rounds.in_flight() << " crashes before pkgctl's answer, failures: "
            << (::testing::Test::HasFailure() ? "yes" : "none") << "\n";
}

TEST(CrashRounds, TenRoundsOfCrashesDuringMovesAppliesAndColdStartsLoseNothing) {
  PlayRounds(RoundsFor(10));
}

TEST(CrashRounds, AHundredRoundsOfCrashesDuringMovesAppliesAndColdStartsLoseNothing) {
  const char* tier = std::getenv("CMCL_TEST_TIER");
  if (tier == nullptr || std::string(tier) != "full") {
    GTEST_SKIP() << "the full tier only (CMCL_TEST_TIER=full, tools/test.sh --full)";
  }
  PlayRounds(RoundsFor(100));
}

}  // namespace
}  // namespace cmcl::testing
