// cluster_bench: issue 13 on real processes — cmcld, cmcl-guard and pkgctl on loopback,
// each node a PID namespace of its own (tests/integration/local_cluster.h), measured the
// way ../shared/peers/pacemaker/measure.sh measures Pacemaker: the fault, then a poller
// on a surviving node running the CLI until the package is reported up on a survivor.
// Not a test: it prints one JSON line per trial and one summary line per part, and has
// no pass/fail threshold (STYLE.md rule 39). docs/BENCHMARKS.md has the results and the
// command lines.
//
// Parts (--part, several comma-separated):
//   failover  --trials N whole-node kills (SIGKILL to the node's PID namespace init: the
//             daemon, its guard and its guests die at once). --victim nondc (default)
//             places g1 on a node that is not the coordinator (alternating) and kills
//             it; --victim dc places it on the coordinator's node and kills that. The
//             observer is the lowest-numbered survivor, polling `pkgctl -o json view`
//             (the whole process, --poll-ms apart) until every package the victim held
//             is up on a survivor. Per trial: t_up (fault to the last of them seen up),
//             t_first_up, and for g1 the breakdown read from the survivors' logs and g1's
//             ledger: t_assign (the coordinator applied the assignment to the new node),
//             t_start (the run script ran, ledger, 10 ms resolution), t_up_log (the new
//             owner applied its "started" report). The lease part is stretch(node_timeout)
//             less how long before the kill the victim's last heartbeat went out (up to
//             heartbeat_interval); the overhead beyond the lease is t_up - stretch(L).
//             After each trial the victim is started again and the cluster left to
//             settle (every node up, every package up, --settle-ms).
//   move      --trials N `pkgctl move g1 -n NEXT` (round robin), run on the third node:
//             t_cmd is the whole pkgctl process (it returns once the package is up on
//             the target or the move failed), t_up the poller seeing it up there.
//   status    --runs N `pkgctl -o json view` on node 1, the whole process; median, p99
//             and the size of the output, with --packages packages configured.
//   idle      --idle-seconds S: CPU time (user+system) and RSS of every node's cmcld
//             and cmcl-guard over S seconds once everything is up, plus the CPU of the
//             children they reaped (scripts) in that time.
// Packages: --packages P (g1 ... gP), each with every node in its list, the lists rotated
// so that each node is first for P/nodes of them. Scripts are instant (PackageDef::
// instant: no driver, the run script appends its ledger record and exits), as the issue
// asks ("with an instant run script").
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
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
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::set<std::string> parts = {"failover"};
  int nodes = 3;
  int packages = 1;
  int trials = 5;
  int runs = 30;
  int idle_seconds = 30;
  int poll_ms = 10;
  int settle_ms = 2000;
  std::string victim = "nondc";
  std::string node_timeout = "1s";
  std::string heartbeat_interval = "100ms";
  std::string fence_timeout = "200ms";
  std::string log_level = "info";
  bool dump_logs = false;  // Print the survivors' log lines of each failover trial.
};

BenchOptions options;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double WallMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The ledger's clock: /proc/uptime (CLOCK_BOOTTIME) in ms.
double BootMs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1000 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double DurationMs(const std::string& text) {
  const double value = std::stod(text);
  if (text.ends_with("ms")) return value;
  if (text.ends_with("s")) return value * 1000;
  return value;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(
      values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5));
  return values[index];
}

std::string Summary(const std::vector<double>& values) {
  char text[160];
  std::snprintf(text, sizeof text,
                "{\"n\":%zu,\"median\":%.1f,\"p99\":%.1f,\"min\":%.1f,\"max\":%.1f}", values.size(),
                Percentile(values, 0.5), Percentile(values, 0.99),
                values.empty() ? 0 : *std::min_element(values.begin(), values.end()),
                values.empty() ? 0 : *std::max_element(values.begin(), values.end()));
  return text;
}

// One log line's time: "2026-11-27T06:30:01.123 info node3: ..." (local time, ms).
std::optional<double> LogLineWallMs(const std::string& line) {
  if (line.size() < 23 || line[10] != 'T' || line[19] != '.') return std::nullopt;
  std::tm tm{};
  if (!strptime(line.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  tm.tm_isdst = -1;
  const time_t seconds_since_epoch = mktime(&tm);
  return static_cast<double>(seconds_since_epoch) * 1000 + std::stod(line.substr(20, 3));
}

// The lines of `node`'s cmcld.log written at or after `since` (wall ms).
std::vector<std::pair<double, std::string>> LogSince(const LocalCluster& cluster, int node,
                                                     double since) {
  std::ifstream in(cluster.dir() + "/" + cluster.Name(node) + "/cmcld.log");
  std::vector<std::pair<double, std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    const std::optional<double> at = LogLineWallMs(line);
    if (at && *at >= since - 1) lines.emplace_back(*at, line);
  }
  return lines;
}

std::vector<PackageDef> Packages(int count, int nodes) {
  std::vector<PackageDef> packages;
  for (int i = 0; i < count; ++i) {
    PackageDef package{.name = "g" + std::to_string(i + 1), .nodes = {}, .instant = true};
    for (int n = 0; n < nodes; ++n) {
      package.nodes.push_back("node" + std::to_string((i + n) % nodes + 1));
    }
    packages.push_back(package);
  }
  return packages;
}

struct Snapshot {
  std::string coordinator;
  std::map<std::string, std::string> node_status;
  std::map<std::string, std::pair<std::string, std::string>> packages;  // name -> status, node
};

std::optional<Snapshot> Look(const LocalCluster& cluster, int from) {
  const std::optional<JsonValue> view = cluster.View(from);
  if (!view) return std::nullopt;
  Snapshot snapshot;
  snapshot.coordinator = (*view)["cluster"]["coordinator"].String();
  for (const JsonValue& node : (*view)["nodes"].Array()) {
    snapshot.node_status[node["name"].String()] = node["status"].String();
  }
  for (const JsonValue& package : (*view)["packages"].Array()) {
    snapshot.packages[package["name"].String()] = {package["status"].String(),
                                                   package["node"].String()};
  }
  return snapshot;
}

// Every node up, a coordinator, every package up, as `from` sees it.
bool Whole(const LocalCluster& cluster, int from, Snapshot* out = nullptr) {
  const std::optional<Snapshot> snapshot = Look(cluster, from);
  if (!snapshot || snapshot->coordinator.empty()) return false;
  if (static_cast<int>(snapshot->node_status.size()) != options.nodes) return false;
  for (const auto& [name, status] : snapshot->node_status) {
    if (status != "up") return false;
  }
  for (const auto& [name, status] : snapshot->packages) {
    if (status.first != "up") return false;
  }
  if (out) *out = *snapshot;
  return true;
}

LocalCluster::Options ClusterOptions() {
  LocalCluster::Options cluster_options;
  cluster_options.nodes = options.nodes;
  cluster_options.packages = Packages(options.packages, options.nodes);
  cluster_options.node_timeout = options.node_timeout;
  cluster_options.heartbeat_interval = options.heartbeat_interval;
  cluster_options.fence_timeout = options.fence_timeout;
  cluster_options.log_level = options.log_level;
  cluster_options.monitor_interval = "";  // The default (5s), as an operator would have.
  // Room for every package on any one node.
  cluster_options.capacity = "{vcpus: " + std::to_string(options.packages + 8) +
                             ", memory: " + std::to_string((options.packages + 8) / 4 + 1) + "GiB}";
  return cluster_options;
}

void StartAndSettle(LocalCluster& cluster) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return Whole(cluster, 0); }, seconds(120)))
      << "the cluster did not come up whole";
}

// The first line (time, text) at or after `since` in any of `nodes`' logs containing all
// of `needles`.
std::optional<double> FirstLog(const LocalCluster& cluster, const std::vector<int>& nodes,
                               double since, const std::vector<std::string>& needles) {
  std::optional<double> first;
  for (int node : nodes) {
    for (const auto& [at, line] : LogSince(cluster, node, since)) {
      bool all = true;
      for (const std::string& needle : needles) all = all && line.find(needle) != std::string::npos;
      if (all && (!first || at < *first)) first = at;
    }
  }
  return first;
}

void FailoverPart() {
  LocalCluster cluster(ClusterOptions());
  StartAndSettle(cluster);
  const double stretch = DurationMs(options.node_timeout) * 1.001 / 0.999;
  std::vector<double> ups, first_ups, assigns, starts, up_logs, overheads;
  int nondc_turn = 0;
  for (int trial = 0; trial < options.trials; ++trial) {
    Snapshot before;
    ASSERT_TRUE(LocalCluster::WaitFor([&] { return Whole(cluster, 0, &before); }, seconds(60)));
    const int coordinator = cluster.IndexOf(before.coordinator);
    int victim = coordinator;
    if (options.victim == "nondc") {
      std::vector<int> others;
      for (int n = 0; n < options.nodes; ++n) {
        if (n != coordinator) others.push_back(n);
      }
      victim = others[static_cast<size_t>(nondc_turn++) % others.size()];
    }
    const std::string victim_name = cluster.Name(victim);
    if (before.packages["g1"].second != victim_name) {
      const CommandResult moved = cluster.Pkgctl(0, {"move", "g1", "-n", victim_name}, false);
      ASSERT_EQ(moved.exit_status, 0) << moved.out << moved.err;
      ASSERT_TRUE(LocalCluster::WaitFor([&] { return Whole(cluster, 0, &before); }, seconds(30)));
    }
    std::vector<std::string> lost;
    for (const auto& [name, status] : before.packages) {
      if (status.second == victim_name) lost.push_back(name);
    }
    std::this_thread::sleep_for(milliseconds(options.settle_ms));
    const int observer = victim == 0 ? 1 : 0;
    std::vector<int> survivors;
    for (int n = 0; n < options.nodes; ++n) {
      if (n != victim) survivors.push_back(n);
    }

    const double wall0 = WallMs();
    const double boot0 = BootMs();
    const Clock::time_point t0 = Clock::now();
    cluster.CrashNode(victim);
    std::optional<double> first_up, all_up;
    std::string new_node;
    int polls = 0;
    while (!all_up && Clock::now() - t0 < seconds(60)) {
      const std::optional<Snapshot> seen = Look(cluster, observer);
      ++polls;
      const double at = Ms(Clock::now() - t0);
      if (seen) {
        size_t up = 0;
        for (const std::string& name : lost) {
          const auto& [status, node] = seen->packages.at(name);
          if (status == "up" && node != victim_name) ++up;
          if (name == "g1" && status == "up" && node != victim_name) new_node = node;
        }
        if (up > 0 && !first_up) first_up = at;
        if (up == lost.size()) all_up = at;
      }
      std::this_thread::sleep_for(milliseconds(options.poll_ms));
    }
    ASSERT_TRUE(all_up) << "not every package of " << victim_name << " came up in 60 s";

    // g1's breakdown: the ledger's start on the new node, and the survivors' logs.
    std::optional<double> start;
    for (const LedgerRecord& record : cluster.Ledger("g1")) {
      if (record.what == "start" && record.node == new_node && record.at_ms >= boot0 - 10) {
        start = record.at_ms - boot0;
      }
    }
    const std::optional<double> assign =
        FirstLog(cluster, survivors, wall0, {"g1", "assigned to " + new_node});
    const std::optional<double> up_log = FirstLog(cluster, {cluster.IndexOf(new_node)}, wall0,
                                                  {"g1: " + new_node + " reported started"});
    if (options.dump_logs) {
      for (int node : survivors) {
        for (const auto& [at, line] : LogSince(cluster, node, wall0)) {
          if (at - wall0 <= *all_up + 200) {
            std::printf("  +%7.1f %s\n", at - wall0, line.c_str());
          }
        }
      }
    }
    ups.push_back(*all_up);
    first_ups.push_back(*first_up);
    overheads.push_back(*all_up - stretch);
    if (assign) assigns.push_back(*assign - wall0);
    if (start) starts.push_back(*start);
    if (up_log) up_logs.push_back(*up_log - wall0);
    std::printf(
        "{\"benchmark\":\"cluster_failover\",\"trial\":%d,\"victim\":\"%s\",\"victim_was_"
        "coordinator\":%s,\"observer\":\"%s\",\"new_node\":\"%s\",\"packages_lost\":%zu,"
        "\"t_up_ms\":%.1f,\"t_first_up_ms\":%.1f,\"t_assign_ms\":%.1f,\"t_start_ms\":%.1f,"
        "\"t_up_log_ms\":%.1f,\"overhead_ms\":%.1f,\"polls\":%d}\n",
        trial, victim_name.c_str(), victim == coordinator ? "true" : "false",
        cluster.Name(observer).c_str(), new_node.c_str(), lost.size(), *all_up, *first_up,
        assign ? *assign - wall0 : -1, start ? *start : -1, up_log ? *up_log - wall0 : -1,
        *all_up - stretch, polls);
    std::fflush(stdout);

    cluster.Start(victim);
  }
  std::printf(
      "{\"benchmark\":\"cluster_failover_summary\",\"victim\":\"%s\",\"nodes\":%d,\"packages\":%d,"
      "\"node_timeout\":\"%s\",\"heartbeat_interval\":\"%s\",\"fence_timeout\":\"%s\","
      "\"stretch_ms\":%.1f,\"t_up\":%s,\"t_first_up\":%s,\"t_assign\":%s,\"t_start\":%s,"
      "\"t_up_log\":%s,\"overhead\":%s}\n",
      options.victim.c_str(), options.nodes, options.packages, options.node_timeout.c_str(),
      options.heartbeat_interval.c_str(), options.fence_timeout.c_str(), stretch,
      Summary(ups).c_str(), Summary(first_ups).c_str(), Summary(assigns).c_str(),
      Summary(starts).c_str(), Summary(up_logs).c_str(), Summary(overheads).c_str());
  std::fflush(stdout);
}

void MovePart() {
  LocalCluster cluster(ClusterOptions());
  StartAndSettle(cluster);
  std::vector<double> cmds, ups;
  for (int trial = 0; trial < options.trials; ++trial) {
    Snapshot before;
    ASSERT_TRUE(LocalCluster::WaitFor([&] { return Whole(cluster, 0, &before); }, seconds(60)));
    const int source = cluster.IndexOf(before.packages["g1"].second);
    const int target = (source + 1) % options.nodes;
    const int observer = (source + 2) % options.nodes;
    const std::string target_name = cluster.Name(target);
    std::this_thread::sleep_for(milliseconds(options.settle_ms));
    const double wall0 = WallMs();
    const Clock::time_point t0 = Clock::now();
    const CommandResult moved = cluster.Pkgctl(observer, {"move", "g1", "-n", target_name}, false);
    const double cmd = Ms(Clock::now() - t0);
    ASSERT_EQ(moved.exit_status, 0) << moved.out << moved.err;
    std::optional<double> up;
    while (!up && Clock::now() - t0 < seconds(30)) {
      const std::optional<Snapshot> seen = Look(cluster, observer);
      if (seen &&
          seen->packages.at("g1") == std::pair<std::string, std::string>("up", target_name)) {
        up = Ms(Clock::now() - t0);
      }
    }
    ASSERT_TRUE(up) << "g1 not seen up on " << target_name;
    if (options.dump_logs) {
      for (int node = 0; node < options.nodes; ++node) {
        for (const auto& [at, line] : LogSince(cluster, node, wall0)) {
          if (at - wall0 <= *up + 50) std::printf("  +%7.1f %s\n", at - wall0, line.c_str());
        }
      }
    }
    cmds.push_back(cmd);
    ups.push_back(*up);
    std::printf(
        "{\"benchmark\":\"cluster_move\",\"trial\":%d,\"from\":\"%s\",\"to\":\"%s\",\"packages\":%"
        "d,"
        "\"t_cmd_ms\":%.1f,\"t_up_ms\":%.1f}\n",
        trial, cluster.Name(source).c_str(), target_name.c_str(), options.packages, cmd, *up);
    std::fflush(stdout);
  }
  std::printf(
      "{\"benchmark\":\"cluster_move_summary\",\"nodes\":%d,\"packages\":%d,\"t_cmd\":%s,"
      "\"t_up\":%s}\n",
      options.nodes, options.packages, Summary(cmds).c_str(), Summary(ups).c_str());
  std::fflush(stdout);
}

void StatusPart() {
  LocalCluster cluster(ClusterOptions());
  StartAndSettle(cluster);
  std::this_thread::sleep_for(milliseconds(options.settle_ms));
  std::vector<double> times;
  size_t bytes = 0;
  for (int run = 0; run < options.runs; ++run) {
    const Clock::time_point t0 = Clock::now();
    const CommandResult view = cluster.Pkgctl(0, {"view"});
    times.push_back(Ms(Clock::now() - t0));
    ASSERT_EQ(view.exit_status, 0) << view.err;
    bytes = view.out.size();
  }
  std::printf(
      "{\"benchmark\":\"cluster_status\",\"nodes\":%d,\"packages\":%d,\"bytes\":%zu,\"ms\":%s}\n",
      options.nodes, options.packages, bytes, Summary(times).c_str());
  std::fflush(stdout);
}

struct ProcTimes {
  double cpu_ms = 0;       // utime + stime
  double children_ms = 0;  // cutime + cstime (reaped children)
  double rss_mib = 0;
};

ProcTimes Sample(pid_t pid) {
  ProcTimes times;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return times;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // Fields after the name, from 3 (state): utime is 14, stime 15, cutime 16, cstime 17.
  const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  times.cpu_ms = (std::stod(f.at(11)) + std::stod(f.at(12))) * tick_ms;
  times.children_ms = (std::stod(f.at(13)) + std::stod(f.at(14))) * tick_ms;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) times.rss_mib = std::stod(line.substr(6)) / 1024;
  }
  return times;
}

// cmcld's guard: its child whose name is cmcl-guard.
pid_t GuardOf(pid_t daemon) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == daemon && text.substr(open + 1, close - open - 1) == "cmcl-guard") {
      return std::stoi(name);
    }
  }
  return -1;
}

void IdlePart() {
  LocalCluster cluster(ClusterOptions());
  StartAndSettle(cluster);
  std::this_thread::sleep_for(milliseconds(options.settle_ms));
  std::vector<pid_t> daemons, guards;
  std::vector<ProcTimes> daemon0, guard0;
  for (int n = 0; n < options.nodes; ++n) {
    daemons.push_back(cluster.daemon_pid(n));
    guards.push_back(GuardOf(daemons.back()));
    daemon0.push_back(Sample(daemons.back()));
    guard0.push_back(Sample(guards.back()));
  }
  const Clock::time_point t0 = Clock::now();
  std::this_thread::sleep_for(seconds(options.idle_seconds));
  const double elapsed = Ms(Clock::now() - t0);
  const std::optional<Snapshot> snapshot = Look(cluster, 0);
  for (int n = 0; n < options.nodes; ++n) {
    const ProcTimes daemon1 = Sample(daemons[static_cast<size_t>(n)]);
    const ProcTimes guard1 = Sample(guards[static_cast<size_t>(n)]);
    const double daemon_cpu = daemon1.cpu_ms - daemon0[static_cast<size_t>(n)].cpu_ms;
    const double guard_cpu = guard1.cpu_ms - guard0[static_cast<size_t>(n)].cpu_ms;
    const double children = daemon1.children_ms - daemon0[static_cast<size_t>(n)].children_ms +
                            guard1.children_ms - guard0[static_cast<size_t>(n)].children_ms;
    std::printf(
        "{\"benchmark\":\"cluster_idle\",\"node\":\"%s\",\"coordinator\":%s,\"packages\":%d,"
        "\"seconds\":%.1f,\"cmcld_cpu_ms\":%.0f,\"guard_cpu_ms\":%.0f,\"children_cpu_ms\":%.0f,"
        "\"core_percent\":%.2f,\"cmcld_rss_mib\":%.1f,\"guard_rss_mib\":%.1f}\n",
        cluster.Name(n).c_str(),
        snapshot && snapshot->coordinator == cluster.Name(n) ? "true" : "false", options.packages,
        elapsed / 1000, daemon_cpu, guard_cpu, children,
        100 * (daemon_cpu + guard_cpu + children) / elapsed, daemon1.rss_mib, guard1.rss_mib);
  }
  std::fflush(stdout);
}

TEST(ClusterBench, Run) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (PID namespaces), as the integration tests";
  for (const std::string& part : options.parts) {
    if (part == "failover") FailoverPart();
    if (part == "move") MovePart();
    if (part == "status") StatusPart();
    if (part == "idle") IdlePart();
  }
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "cluster_bench: %s\nusage: cluster_bench [--part failover,move,status,idle] "
               "[--nodes N] [--packages P] [--trials N] [--runs N] [--idle-seconds S] "
               "[--victim nondc|dc] [--node-timeout D] [--heartbeat-interval D] "
               "[--fence-timeout D] [--poll-ms MS] [--settle-ms MS] [--log-level L] "
               "[--dump-logs]\n",
               why);
  return 2;
}

}  // namespace
}  // namespace cmcl::testing

int main(int argc, char** argv) {
  using cmcl::testing::options;
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--dump-logs") {
      options.dump_logs = true;
      continue;
    }
    if (i + 1 >= argc) return cmcl::testing::Usage(("missing value after " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--part") {
      options.parts.clear();
      std::istringstream list(value);
      for (std::string part; std::getline(list, part, ',');) options.parts.insert(part);
    } else if (flag == "--nodes") {
      options.nodes = std::stoi(value);
    } else if (flag == "--packages") {
      options.packages = std::stoi(value);
    } else if (flag == "--trials") {
      options.trials = std::stoi(value);
    } else if (flag == "--runs") {
      options.runs = std::stoi(value);
    } else if (flag == "--idle-seconds") {
      options.idle_seconds = std::stoi(value);
    } else if (flag == "--victim") {
      options.victim = value;
    } else if (flag == "--node-timeout") {
      options.node_timeout = value;
    } else if (flag == "--heartbeat-interval") {
      options.heartbeat_interval = value;
    } else if (flag == "--fence-timeout") {
      options.fence_timeout = value;
    } else if (flag == "--poll-ms") {
      options.poll_ms = std::stoi(value);
    } else if (flag == "--settle-ms") {
      options.settle_ms = std::stoi(value);
    } else if (flag == "--log-level") {
      options.log_level = value;
    } else {
      return cmcl::testing::Usage(("unknown flag " + flag).c_str());
    }
  }
  return RUN_ALL_TESTS();
}
