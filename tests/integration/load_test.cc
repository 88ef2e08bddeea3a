// Load on real processes (issue 11 item 5): 50 concurrent pkgctl clients issue view,
// check and move against a 3-node cluster of real daemons with CMCL_LOAD_PACKAGES
// packages (default 500), for CMCL_LOAD_SECONDS (30 in CI; the full tier runs it for
// three minutes). What must hold: no
// daemon crashes, no pkgctl gets an answer outside the contract (exit 0, or 1 for a
// refusal it explains), no acknowledged move is lost (each package ends where its last
// acknowledged move took it, one copy running: the disk lock), and each daemon's
// memory stays flat. The latencies (p50, p99 per command, whole pkgctl process) and the
// daemons' memory are printed as one JSON line, the numbers docs/RELIABILITY.md quotes.
//
// Each client moves only its own packages (index % clients), one move at a time, so
// "where a package must end" is known without any cross-client ordering.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
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
constexpr int kClients = 50;

// A positive integer from the environment, or `fallback`.
int FromEnvironment(const char* name, int fallback) {
  const char* value = std::getenv(name);
  const int given = value != nullptr ? std::atoi(value) : 0;
  return given > 0 ? given : fallback;
}
int LoadSeconds() { return FromEnvironment("CMCL_LOAD_SECONDS", 30); }
const int kPackages = FromEnvironment("CMCL_LOAD_PACKAGES", 500);
const size_t kPackageCount = static_cast<size_t>(kPackages);

std::string PackageName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "g%03d", i);
  return name;
}

LocalCluster::Options LoadCluster() {
  LocalCluster::Options options;
  options.nodes = kNodes;
  // Generous timing: 50 pkgctl processes and 500 guests share 2 cores with the other
  // tests; this test is about load, not about failover speed.
  options.node_timeout = "4s";
  options.heartbeat_interval = "400ms";
  options.fence_timeout = "300ms";
  options.capacity = "{vcpus: 1000, memory: 1000GiB}";
  options.monitor_interval.clear();  // The default.
  // A cold start of 500 guests on 2 cores (load average about 80) takes some starts and
  // halts past 10 s; a halt that times out ends halt_failed, which nothing undoes on its
  // own (DESIGN.md section 5), and the test would wait for it in vain (493 of 500 up in
  // one run). This test is about the daemons under load, not script speed: 60 s, the
  // default.
  options.script_timeout = "60s";
  for (int i = 0; i < kPackages; ++i) {
    std::vector<std::string> nodes;
    for (int n = 0; n < kNodes; ++n) nodes.push_back("node" + std::to_string((i + n) % kNodes + 1));
    options.packages.push_back(PackageDef{.name = PackageName(i), .nodes = nodes});
  }
  return options;
}

// Resident memory of `pid` in KiB (VmRSS), 0 if unknown.
long RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// CPU time `pid` used so far (user + system), in seconds; 0 if unknown.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t after_name = text.rfind(')');  // The name may hold spaces.
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(text.substr(after_name + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // Fields 14 utime and 15 stime.
    if (i >= 14) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Where every package is up, as `node`'s view says (packages not up are left out).
std::map<std::string, std::string> UpOwners(const LocalCluster& cluster, int node) {
  std::map<std::string, std::string> owners;
  const std::optional<JsonValue> view = cluster.View(node);
  if (!view) return owners;
  for (const JsonValue& package : (*view)["packages"].Array()) {
    if (package["status"].String() == "up") {
      owners[package["name"].String()] = package["node"].String();
    }
  }
  return owners;
}

struct Sample {
  std::string command;
  double ms = 0;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto at = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

class LoadTest : public ::testing::Test {
 protected:
  LocalCluster cluster{LoadCluster()};
};

TEST_F(LoadTest, FiftyClientsLoseNoCommandAndMemoryStaysFlat) {
  cluster.StartAll();
  std::map<std::string, std::string> owners;
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] {
        owners = UpOwners(cluster, 0);
        return owners.size() == kPackageCount;
      },
      seconds(240)))
      << owners.size() << " of " << kPackages << " packages up";
  std::this_thread::sleep_for(seconds(3));  // Let start-up allocations settle.
  std::vector<long> rss_before;
  std::vector<double> cpu_before;
  for (int n = 0; n < kNodes; ++n) {
    rss_before.push_back(RssKib(cluster.daemon_pid(n)));
    cpu_before.push_back(CpuSeconds(cluster.daemon_pid(n)));
  }
  const auto load_start = std::chrono::steady_clock::now();

  std::mutex mu;
  std::vector<Sample> samples;
  std::vector<std::string> unexpected;              // Answers outside the contract.
  std::map<std::string, std::string> acknowledged;  // Package -> its last acked target.
  std::map<std::string, int> refusals;              // First line -> count.
  std::atomic<int> moves{0};
  const auto end = std::chrono::steady_clock::now() + seconds(LoadSeconds());
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(1000 + c));
      std::map<std::string, std::string> mine;  // This client's packages and their node.
      for (int i = c; i < kPackages; i += kClients) mine[PackageName(i)] = owners[PackageName(i)];
      while (std::chrono::steady_clock::now() < end) {
        const int node = static_cast<int>(rng() % kNodes);
        const int dice = static_cast<int>(rng() % 100);
        const std::string package = PackageName(static_cast<int>(rng() % kPackageCount));
        std::vector<std::string> args;
        std::string command;
        std::string moved;
        std::string target;
        if (dice < 60) {
          command = "view";
          args = {"view"};
        } else if (dice < 85) {
          command = "check";
          args = {"check", package, "-n", cluster.Name(node)};
        } else {
          command = "move";
          auto it = mine.begin();
          std::advance(it, static_cast<long>(rng() % mine.size()));
          moved = it->first;
          do {
            target = cluster.Name(static_cast<int>(rng() % kNodes));
          } while (target == it->second);
          args = {"move", moved, "-n", target, "--timeout", "120s"};
        }
        const auto start = std::chrono::steady_clock::now();
        const CommandResult result = cluster.Pkgctl(node, args);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        const bool refused = result.exit_status == 1 && command != "view";
        // -o json: a refusal's text is in the JSON on stdout.
        const std::string said = result.err.empty() ? result.out : result.err;
        std::lock_guard lock(mu);
        samples.push_back({command, ms});
        if (result.exit_status != 0 && !refused) {
          unexpected.push_back(command + " " + (moved.empty() ? package : moved) + " exit " +
                               std::to_string(result.exit_status) + ": " + said);
        } else if (command == "move" && result.exit_status == 0) {
          mine[moved] = target;
          acknowledged[moved] = target;
          ++moves;
        } else if (command == "move") {
          refusals[said.substr(0, std::min<size_t>(said.find('\n'), 200))]++;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();

  std::vector<long> rss_after;
  std::vector<double> cpu_used;  // Each daemon's CPU seconds over the load phase.
  for (int n = 0; n < kNodes; ++n) {
    rss_after.push_back(RssKib(cluster.daemon_pid(n)));
    cpu_used.push_back(CpuSeconds(cluster.daemon_pid(n)) - cpu_before[static_cast<size_t>(n)]);
  }
  const double load_wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  std::map<std::string, std::vector<double>> by_command;
  for (const Sample& sample : samples) by_command[sample.command].push_back(sample.ms);
  std::ostringstream json;
  json << "{\"seconds\":" << LoadSeconds() << ",\"clients\":" << kClients
       << ",\"packages\":" << kPackages << ",\"commands\":" << samples.size()
       << ",\"moves_acknowledged\":" << moves.load();
  for (const auto& [command, values] : by_command) {
    json << ",\"" << command << "\":{\"n\":" << values.size()
         << ",\"p50_ms\":" << Percentile(values, 0.5) << ",\"p99_ms\":" << Percentile(values, 0.99)
         << "}";
  }
  for (int n = 0; n < kNodes; ++n) {
    json << ",\"rss_kib_node" << n + 1 << "\":[" << rss_before[static_cast<size_t>(n)] << ","
         << rss_after[static_cast<size_t>(n)] << "]";
  }
  // A daemon runs at SCHED_RR: the share of one CPU it took is what normal-policy
  // processes (guests, scripts, fence jobs) could not have while it ran.
  json << ",\"load_wall_s\":" << load_wall << ",\"cpu_s\":[";
  for (int n = 0; n < kNodes; ++n) {
    json << (n ? "," : "") << cpu_used[static_cast<size_t>(n)];
  }
  json << "]}";
  std::cout << json.str() << std::endl;
  RecordProperty("load", json.str());
  for (const auto& [first_line, count] : refusals) {
    std::cout << "refused move (" << count << "x): " << first_line << std::endl;
  }

  for (int n = 0; n < kNodes; ++n) EXPECT_TRUE(cluster.DaemonAlive(n)) << cluster.Name(n);
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " answers outside the contract, first: "
                                  << (unexpected.empty() ? "" : unexpected.front());
  EXPECT_GT(moves.load(), 0) << "no move was acknowledged: the test measured nothing";
  // No acknowledged move lost: each package is up where its last acknowledged move took it.
  std::map<std::string, std::string> final_owners;
  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] {
        final_owners = UpOwners(cluster, 0);
        return final_owners.size() == kPackageCount;
      },
      seconds(60)))
      << final_owners.size() << " of " << kPackages << " packages up after the load";
  for (const auto& [package, target] : acknowledged) {
    EXPECT_EQ(final_owners[package], target) << package << ": its acknowledged move is lost";
  }
  for (int i = 0; i < kPackages; ++i) {
    EXPECT_EQ(cluster.RunningCopies(PackageName(i)), 1) << PackageName(i);
  }
  // Memory flat: a daemon that keeps something per command would grow with thousands.
  for (int n = 0; n < kNodes; ++n) {
    EXPECT_LT(rss_after[static_cast<size_t>(n)], rss_before[static_cast<size_t>(n)] + 32 * 1024)
        << cluster.Name(n) << " grew from " << rss_before[static_cast<size_t>(n)] << " KiB to "
        << rss_after[static_cast<size_t>(n)] << " KiB";
  }
}

}  // namespace
}  // namespace cmcl::testing
