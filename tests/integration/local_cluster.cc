#include "tests/integration/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path = "/dev/null") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// The first child of `pid` (from /proc), or -1.
pid_t ChildOf(pid_t pid) {
  std::istringstream children(
      ReadFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
  pid_t child = -1;
  children >> child;
  return children.fail() ? -1 : child;
}

bool Alive(pid_t pid) {
  if (pid <= 0) {
    return false;
  }
  // A zombie is not alive: its state letter in /proc/PID/stat is Z.
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, milliseconds timeout) {
  TempDir scratch;
  const std::string out_path = scratch / "out";
  const std::string err_path = scratch / "err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT, 0644);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  CommandResult result;
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    result.err = "cannot start " + argv[0];
    return result;
  }
  posix_spawn_file_actions_destroy(&actions);
  // Woken by the exit itself (a pidfd), not by polling: cluster_bench times whole pkgctl
  // processes with this, and a 5 ms poll added up to 5 ms to each of them.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.err = "timed out: " + argv[0];
      break;
    }
    if (pidfd >= 0) {
      pollfd exited{.fd = pidfd, .events = POLLIN, .revents = 0};
      poll(&exited, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
    } else {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  if (pidfd >= 0) close(pidfd);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err += ReadFile(err_path);
  return result;
}

LocalCluster::LocalCluster(Options options) : options_(std::move(options)) {
  machines_.resize(static_cast<size_t>(options_.nodes));
  // FreePort closes its socket, so the kernel may give the same port again: draw until it
  // is one not taken yet (a repeat made cmcld refuse two nodes' equal metrics_address).
  std::set<int> taken;
  const auto distinct_port = [&taken] {
    int port = FreePort();
    for (int tries = 0; taken.contains(port) && tries < 100; ++tries) port = FreePort();
    taken.insert(port);
    return port;
  };
  for (int i = 0; i < options_.nodes; ++i) {
    ports_.push_back(distinct_port());
    if (options_.metrics) metrics_ports_.push_back(distinct_port());
  }
  WriteConfiguration();
}

LocalCluster::~LocalCluster() {
  if (::testing::Test::HasFailure()) {
    DumpLogs();
  }
  for (size_t i = 0; i < machines_.size(); ++i) {
    CrashNode(static_cast<int>(i));
  }
}

void LocalCluster::WriteConfiguration() {
  dir_.Write("cluster.key", "0123456789abcdef0123456789abcdef-integration-key", 0600);
  for (const PackageDef& package : options_.packages) {
    WritePackage(package);
  }
  WriteClusterFile();
  config_path_ = dir_ / "cluster.yaml";
  for (Machine& machine : machines_) {
    machine.config = config_path_;
  }
}

void LocalCluster::WriteClusterFile() {
  std::ostringstream yaml;
  yaml << "cluster_name: it\n"
       << "node_timeout: " << options_.node_timeout << "\n"
       << "heartbeat_interval: " << options_.heartbeat_interval << "\n"
       << "fence_timeout: " << options_.fence_timeout << "\n"
       << "cluster_start_wait: " << options_.cluster_start_wait << "\n"
       << (options_.monitor_interval.empty()
               ? std::string()
               : "monitor_interval: " + options_.monitor_interval + "\n")
       << "fence_action: kill\n"
       << "driver_dir: " << CMCL_SOURCE_DIR << "/packages/drivers\n"
       << "security: {key_file: cluster.key}\n"
       << "access:\n  - {user: root, role: full_admin}\n";
  for (const std::string& rule : options_.access) {
    yaml << "  - " << rule << "\n";
  }
  yaml << "nodes:\n";
  for (int i = 0; i < options_.nodes; ++i) {
    yaml << "  - name: " << Name(i) << "\n";
    if (options_.addresses.empty()) {
      yaml << "    addresses: [127.0.0.1:" << ports_[static_cast<size_t>(i)] << "]\n";
    } else {
      const std::vector<std::string>& addresses = options_.addresses.at(static_cast<size_t>(i));
      yaml << "    addresses: [";
      for (size_t a = 0; a < addresses.size(); ++a) yaml << (a ? ", " : "") << addresses[a];
      yaml << "]\n";
    }
    if (!options_.roles.empty()) {
      yaml << "    role: " << options_.roles.at(static_cast<size_t>(i)) << "\n";
    }
    if (options_.metrics) {
      yaml << "    metrics_address: 127.0.0.1:" << metrics_ports_[static_cast<size_t>(i)] << "\n";
    }
    yaml << "    capacity: " << options_.capacity << "\n"
         << "    state_dir: " << NodeDir(i) << "/state\n"
         << "    inventory:\n      disks:\n";
    int disk = 1;
    for (const PackageDef& package : options_.packages) {
      const bool differs = std::find(package.wwid_differs_on.begin(), package.wwid_differs_on.end(),
                                     Name(i)) != package.wwid_differs_on.end();
      char wwid[64];
      std::snprintf(wwid, sizeof wwid, "0x60014051000000000000000000%04x%02x", disk,
                    differs ? 0xee : 0x00);
      yaml << "        - {path: " << (dir_ / ("disks/" + package.name + ".img"))
           << ", wwid: " << wwid << "}\n";
      ++disk;
    }
    yaml << "      vswitches:\n        - {name: net0, nic: lo}\n";
  }
  yaml << "packages:\n";
  for (const PackageDef& package : options_.packages) {
    yaml << "  - packages/" << package.name << "\n";
  }
  dir_.Write("cluster.yaml", yaml.str());
}

void LocalCluster::WritePackage(const PackageDef& package) {
  std::ostringstream spec;
  spec << "name: " << package.name << "\nnodes: [";
  for (size_t n = 0; n < package.nodes.size(); ++n) {
    spec << (n ? ", " : "") << package.nodes[n];
  }
  spec << "]\nauto_run: " << (package.auto_run ? "true" : "false")
       << (package.instant ? "" : "\ndriver: process")
       << "\nrun_script: run.sh\nhalt_script: halt.sh\n"
       << "run_timeout: " << options_.script_timeout
       << "\nhalt_timeout: " << options_.script_timeout
       << "\nguest:\n  vcpus: 1\n  memory: 256MiB\n"
       << "  storage:\n    - {path: " << (dir_ / ("disks/" + package.name + ".img"))
       << ", type: disk}\n  networks:\n    - {vswitch: net0}\n"
       << package.extra_yaml;
  dir_.Write("packages/" + package.name + "/package.yaml", spec.str());
  if (package.instant) {
    // The ledger's format (now_ms as the process driver writes it: /proc/uptime in ms).
    dir_.Write("packages/" + package.name + "/run.sh",
               "#!/bin/sh\nread -r up _ </proc/uptime\necho \"start ${up%.*}${up#*.}0 $CMCL_NODE "
               "$CMCL_EPOCH $$\" >>" +
                   (dir_ / ("disks/" + package.name + ".img.ledger")) + "\n",
               0755);
    dir_.Write("packages/" + package.name + "/halt.sh", "#!/bin/sh\nexit 0\n", 0755);
  } else {
    dir_.Write("packages/" + package.name + "/run.sh",
               "#!/bin/sh\nexec \"$CMCL_DRIVER_DIR/process\" start\n", 0755);
    dir_.Write("packages/" + package.name + "/halt.sh",
               "#!/bin/sh\necho \"$CMCL_NODE $CMCL_REASON\" >>" +
                   (dir_ / ("disks/" + package.name + ".halts")) +
                   "\nexec \"$CMCL_DRIVER_DIR/process\" stop\n",
               0755);
  }
  dir_.Write("disks/" + package.name + ".img", "");
}

void LocalCluster::AddPackage(const PackageDef& package) {
  options_.packages.push_back(package);
  WritePackage(package);
  WriteClusterFile();
}

void LocalCluster::RemovePackage(const std::string& name) {
  std::erase_if(options_.packages, [&](const PackageDef& p) { return p.name == name; });
  WriteClusterFile();
}

int LocalCluster::IndexOf(const std::string& name) const {
  for (int i = 0; i < options_.nodes; ++i) {
    if (Name(i) == name) {
      return i;
    }
  }
  return -1;
}

std::string LocalCluster::Socket(int node) const { return NodeDir(node) + "/cmcld.sock"; }

void LocalCluster::PowerOn(int node) {
  Machine& machine = machines_.at(static_cast<size_t>(node));
  if (Alive(machine.init)) {
    return;
  }
  std::filesystem::create_directories(NodeDir(node));
  // The init reaps orphans (guests whose scripts exited) and ignores TERM/INT.
  std::vector<std::string> argv = {
      "unshare",      "--pid",        "--fork",
      "--mount-proc", "--kill-child", "--",
      "/bin/sh",      "-c",           "trap '' TERM INT; while :; do wait; sleep 1; done"};
  if (!options_.netns.empty()) {
    // nsenter execs unshare inside the node's network namespace (netns_lab.h).
    argv.insert(argv.begin(),
                {"nsenter", "--net=" + options_.netns.at(static_cast<size_t>(node)), "--"});
  }
  machine.unshare = Spawn(argv);
  ASSERT_GT(machine.unshare, 0) << "cannot start unshare";
  ASSERT_TRUE(
      WaitFor([&] { return (machine.init = ChildOf(machine.unshare)) > 0; }, milliseconds(3000)))
      << "the machine's init did not start";
}

void LocalCluster::Start(int node, const std::vector<std::string>& extra_args) {
  PowerOn(node);
  Machine& machine = machines_.at(static_cast<size_t>(node));
  std::vector<std::string> argv = {"nsenter",    "--target",       std::to_string(machine.init),
                                   "--pid",      "--mount",        "--",
                                   CMCLD_BINARY, "--config",       machine.config,
                                   "--node",     Name(node),       "--socket",
                                   Socket(node), "--log-level",    options_.log_level,
                                   "--guard",    CMCL_GUARD_BINARY};
  if (!options_.netns.empty()) argv.insert(argv.begin() + 4, "--net");  // The init's.
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  machine.launcher = Spawn(argv, NodeDir(node) + "/cmcld.log");
  ASSERT_GT(machine.launcher, 0) << "cannot start nsenter";
  ASSERT_TRUE(
      WaitFor([&] { return (machine.daemon = ChildOf(machine.launcher)) > 0; }, milliseconds(3000)))
      << "cmcld did not start on " << Name(node);
  const bool answering =
      WaitFor([&] { return !DaemonAlive(node) || Pkgctl(node, {"view"}).exit_status == 0; },
              milliseconds(10000));
  ASSERT_TRUE(answering && DaemonAlive(node))
      << Name(node) << "'s cmcld does not answer on " << Socket(node) << "\n"
      << LogTail(node);
}

void LocalCluster::StartAll() {
  for (int i = 0; i < options_.nodes; ++i) {
    Start(i);
  }
}

void LocalCluster::CrashNode(int node) {
  Machine& machine = machines_.at(static_cast<size_t>(node));
  if (machine.init > 0) {
    kill(machine.init, SIGKILL);  // Every process of the namespace dies with its init.
  }
  Reap(machine.unshare);
  Reap(machine.launcher);
  machine = Machine{.config = machine.config};
}

void LocalCluster::CrashDaemon(int node) {
  Machine& machine = machines_.at(static_cast<size_t>(node));
  if (machine.daemon > 0) {
    kill(machine.daemon, SIGKILL);
    // Gone, not only signalled: until it has exited it holds the state dir's lock, and a
    // restart at once would find "state dir ... is locked by pid N (another cmcld)".
    const pid_t daemon = machine.daemon;
    WaitFor([&] { return !Alive(daemon); }, milliseconds(10000));
  }
  Reap(machine.launcher);
  machine.launcher = -1;
  machine.daemon = -1;
}

bool LocalCluster::StopDaemon(int node, milliseconds timeout, int* status) {
  Machine& machine = machines_.at(static_cast<size_t>(node));
  if (machine.daemon <= 0) {
    return true;
  }
  kill(machine.daemon, SIGTERM);
  return WaitDaemonExit(node, timeout, status);
}

bool LocalCluster::WaitDaemonExit(int node, milliseconds timeout, int* status) {
  Machine& machine = machines_.at(static_cast<size_t>(node));
  if (machine.launcher <= 0) {
    return true;
  }
  // nsenter exits with cmcld's status.
  int raw = 0;
  const bool exited =
      WaitFor([&] { return waitpid(machine.launcher, &raw, WNOHANG) > 0; }, timeout);
  if (exited) {
    if (status != nullptr) {
      *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    }
    machine.launcher = -1;
    machine.daemon = -1;
  }
  return exited;
}

bool LocalCluster::DaemonAlive(int node) const {
  return Alive(machines_.at(static_cast<size_t>(node)).daemon);
}

void LocalCluster::Reap(pid_t pid) const {
  if (pid <= 0) {
    return;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

CommandResult LocalCluster::Pkgctl(int node, const std::vector<std::string>& args,
                                   bool json) const {
  std::vector<std::string> argv = {PKGCTL_BINARY, "--socket", Socket(node)};
  if (json) {
    argv.insert(argv.end(), {"-o", "json"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, milliseconds(60000));
}

std::optional<JsonValue> LocalCluster::View(int node) const {
  const CommandResult result = Pkgctl(node, {"view"});
  return result.exit_status == 0 ? JsonValue::Parse(result.out) : std::nullopt;
}

JsonValue LocalCluster::Package(int node, const std::string& package) const {
  const std::optional<JsonValue> view = View(node);
  return view ? view->Named("packages", package) : JsonValue();
}

std::vector<LedgerRecord> LocalCluster::Ledger(const std::string& package) const {
  std::vector<LedgerRecord> records;
  std::istringstream lines(ReadFile(dir_ / ("disks/" + package + ".img.ledger")));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    LedgerRecord record;
    fields >> record.what >> record.at_ms >> record.node >> record.epoch >> record.pid;
    if (!fields.fail()) {
      records.push_back(record);
    }
  }
  return records;
}

std::vector<std::string> LocalCluster::Halts(const std::string& package) const {
  std::vector<std::string> halts;
  std::istringstream lines(ReadFile(dir_ / ("disks/" + package + ".halts")));
  for (std::string line; std::getline(lines, line);) {
    halts.push_back(line);
  }
  return halts;
}

int LocalCluster::RunningCopies(const std::string& package) const {
  // The kernel's word: a running guest holds an exclusive lock on its disk.
  const std::string disk = dir_ / ("disks/" + package + ".img");
  const int fd = open(disk.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  const bool locked = flock(fd, LOCK_EX | LOCK_NB) != 0;
  close(fd);
  return locked ? 1 : 0;
}

bool LocalCluster::WaitFor(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

void LocalCluster::UseWrongKey(int node) {
  const std::string dir = "wrongkey-" + Name(node);
  dir_.Write(dir + "/cluster.key", "this-is-another-key-of-at-least-32-bytes!", 0600);
  std::string yaml = ReadFile(config_path_);
  const std::string from = "key_file: cluster.key";
  yaml.replace(yaml.find(from), from.size(), "key_file: " + (dir_ / (dir + "/cluster.key")));
  // Package folders are relative to the cluster file: keep them pointing at the same ones.
  size_t at = 0;
  while ((at = yaml.find("  - packages/", at)) != std::string::npos) {
    yaml.replace(at, 4, "  - " + dir_.path() + "/");
    at += 4;
  }
  dir_.Write(dir + "/cluster.yaml", yaml);
  machines_.at(static_cast<size_t>(node)).config = dir_ / (dir + "/cluster.yaml");
}

std::string LocalCluster::LogTail(int node, size_t lines) const {
  std::string text = ReadFile(NodeDir(node) + "/cmcld.log");
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) {
      at = 0;
      break;
    }
  }
  return text.substr(at);
}

void LocalCluster::DumpLogs() const {
  for (int i = 0; i < options_.nodes; ++i) {
    std::cerr << "---- " << Name(i) << " cmcld.log (tail) ----\n" << LogTail(i, 60) << "\n";
    std::cerr << "---- " << Name(i) << " guard.log ----\n"
              << ReadFile(NodeDir(i) + "/state/guard.log") << "\n";
    // The drivers' own words on what went wrong (package logs hold every script's output).
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator(NodeDir(i) + "/state/log", error)) {
      std::istringstream lines(ReadFile(entry.path().string()));
      int shown = 0;
      for (std::string line; std::getline(lines, line) && shown < 5;) {
        for (const char* word : {"refusing", "did not confirm", "exited at start", "still running",
                                 "usage", "cannot"}) {
          if (line.find(word) == std::string::npos) continue;
          std::cerr << Name(i) << " " << entry.path().filename().string() << ": " << line << "\n";
          ++shown;
          break;
        }
      }
    }
  }
}

}  // namespace cmcl::testing
