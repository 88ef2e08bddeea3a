// LocalCluster: real cmcld processes on loopback for integration tests (DESIGN.md
// section 7, "Integration tests").
//
// Each node is a "machine": a PID namespace (unshare --pid --fork --mount-proc) whose
// init is a tiny reaper shell. cmcld is started inside it with nsenter, so its guard and
// its guests (started by scripts and drivers) live there too. Then:
//   CrashNode(i)   SIGKILL to the namespace's init: the kernel kills every process of
//                  the machine at once — daemon, guard and guests (a power cut).
//   CrashDaemon(i) SIGKILL to cmcld alone: guard and guests stay (a daemon crash).
//   Restart(i)     start cmcld again (powering the machine on again after a crash).
// Nodes listen on 127.0.0.1 with ports the kernel had free; every node has its own
// state_dir, control socket and log under one temporary folder. Guests use the `process`
// driver (packages/drivers/process): a guest holds an exclusive lock on its stand-in
// disk file and appends start/stop records to DISK.ledger, the ground truth a test reads.
//
// The destructor kills every process it started, by PID (never by name), and removes
// the folder — on failure too. On a failed test it prints the tail of every log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/json_value.h"
#include "tests/support/temp_dir.h"

namespace cmcl::testing {

struct CommandResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path), waits for it (at most `timeout`; then SIGKILL).
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// One line of a stand-in disk's ledger: "start|stop|kill <boottime ms> <node> <epoch> <pid>".
struct LedgerRecord {
  std::string what;
  double at_ms = 0;
  std::string node;
  std::string epoch;
  std::string pid;
};

struct PackageDef {
  std::string name;
  std::vector<std::string> nodes;  // Preference order.
  bool auto_run = true;
  // Nodes that see this package's disk with another WWID (validation refuses them).
  std::vector<std::string> wwid_differs_on;
  // More top-level keys of package.yaml, e.g. "depends_on: [{package: db}]\n".
  std::string extra_yaml;
  // No driver and no guest: the run script appends its ledger record and exits 0, the
  // halt script exits 0 (benchmarks: "an instant run script", tests/bench/cluster_bench).
  // Nothing holds the disk lock, so RunningCopies is 0 for such a package.
  bool instant = false;
};

class LocalCluster {
 public:
  struct Options {
    int nodes = 3;
    std::vector<PackageDef> packages;
    std::string node_timeout = "1s";
    std::string heartbeat_interval = "100ms";
    std::string fence_timeout = "200ms";
    std::string cluster_start_wait = "10s";
    std::string capacity = "{vcpus: 8, memory: 16GiB}";  // Every node's.
    // The tests of a few guests want a guest's death seen within a second or so; empty:
    // the default (5s), as the load test has.
    std::string monitor_interval = "1s";
    // Every package's run_timeout and halt_timeout.
    std::string script_timeout = "10s";
    // More rules of the `access` list after root's, e.g. "{user: nobody, role: monitor}".
    std::vector<std::string> access;
    // Issue 11 (netns_lab.h): per node, its `addresses` (HOST:PORT, primary first) and the
    // network namespace its machine lives in (a /run/netns path). Empty: 127.0.0.1 with a
    // free port, in the host's namespace.
    std::vector<std::vector<std::string>> addresses;
    std::vector<std::string> netns;
    // Per node, its `role` ("member" or "arbitrator"); empty: every node a member.
    std::vector<std::string> roles;
    // Metrics (README "Metrics"): every node gets its own `metrics_address` on
    // 127.0.0.1 with a free port (MetricsPort). Off: no metrics_address at all.
    bool metrics = false;
    // cmcld's --log-level (benchmarks use info: debug lines cost time on every input).
    std::string log_level = "debug";
  };

  explicit LocalCluster(Options options);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  std::string Name(int node) const { return "node" + std::to_string(node + 1); }
  int IndexOf(const std::string& name) const;
  const std::string& config_path() const { return config_path_; }
  // The cluster's temporary folder (configuration, disks, every node's folder).
  const std::string& dir() const { return dir_.path(); }
  std::string Socket(int node) const;
  // The node's metrics port (Options::metrics; 0 without metrics).
  int MetricsPort(int node) const {
    return metrics_ports_.empty() ? 0 : metrics_ports_.at(static_cast<size_t>(node));
  }

  // Powers the machine on (if needed) and starts cmcld; waits until its socket answers.
  void Start(int node, const std::vector<std::string>& extra_args = {});
  void StartAll();
  void CrashNode(int node);
  void CrashDaemon(int node);
  // SIGTERM to cmcld; true if it exited within `timeout` (its exit status in *status).
  bool StopDaemon(int node, std::chrono::milliseconds timeout, int* status = nullptr);
  // Waits (sending nothing) for cmcld to exit on its own; its exit status in *status.
  bool WaitDaemonExit(int node, std::chrono::milliseconds timeout, int* status = nullptr);
  bool DaemonAlive(int node) const;
  pid_t daemon_pid(int node) const { return machines_.at(static_cast<size_t>(node)).daemon; }

  // pkgctl against `node`'s socket: `pkgctl --socket S -o json ARGS...` when json.
  CommandResult Pkgctl(int node, const std::vector<std::string>& args, bool json = true) const;
  // `view -o json` on `node`, parsed (nullopt when it did not answer JSON).
  std::optional<JsonValue> View(int node) const;
  // The package's entry in `node`'s view (null when not answered).
  JsonValue Package(int node, const std::string& package) const;

  std::vector<LedgerRecord> Ledger(const std::string& package) const;
  // Every run of the package's halt script: "NODE REASON" lines (CMCL_NODE, CMCL_REASON).
  std::vector<std::string> Halts(const std::string& package) const;
  // The number of guest processes of `package` alive on the whole machine right now.
  int RunningCopies(const std::string& package) const;

  // Polls `condition` every 50 ms until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

  // The cluster's own files (cluster.yaml, cluster.key, packages/NAME/..., disks/...),
  // which `config apply` tests change: a path under the cluster's folder, and a write.
  std::string FilePath(const std::string& relative) const { return dir_ / relative; }
  void WriteFile(const std::string& relative, const std::string& content, unsigned mode = 0644) {
    dir_.Write(relative, content, mode);
  }
  // Adds a package (its folder, disk and inventory entries) to the files, or removes one
  // from the cluster file (its folder stays). The running nodes see it only through
  // `config apply`.
  void AddPackage(const PackageDef& package);
  void RemovePackage(const std::string& name);

  // Writes another key into a copy of the configuration for `node` (wrong-key test):
  // the node then starts with that copy.
  void UseWrongKey(int node);
  std::string LogTail(int node, size_t lines = 40) const;
  void DumpLogs() const;

 private:
  struct Machine {
    pid_t unshare = -1;   // The unshare process (host PID).
    pid_t init = -1;      // The namespace's init (host PID).
    pid_t launcher = -1;  // nsenter, waiting for cmcld.
    pid_t daemon = -1;    // cmcld (host PID).
    std::string config;   // The cluster file this node starts with.
  };
  void WriteConfiguration();
  void WriteClusterFile();
  void WritePackage(const PackageDef& package);
  void PowerOn(int node);
  void Reap(pid_t pid) const;
  std::string NodeDir(int node) const { return dir_ / Name(node); }

  Options options_;
  TempDir dir_;
  std::string config_path_;
  std::vector<int> ports_;
  std::vector<int> metrics_ports_;
  std::vector<Machine> machines_;
};

}  // namespace cmcl::testing
