// `inventory: probe` re-probed while cmcld runs (issue 12; Node::InventoryProbed), on a
// real device the test creates: a loop device bound to a file of the test, which is g1's
// disk. node3 probes its host; node1 and node2 list the loop device inline. Removing the
// loop device is seen by node3's periodic re-probe within inventory_probe_interval, and
// by its re-probe before a start: a move onto node3 is then refused with the reason.
// Needs root (PID namespaces, losetup); skipped with the reason otherwise. The loop
// device is detached at the end, also when a check fails; LocalCluster stops every
// daemon it started.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Shell(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  const int result = ::pclose(pipe);
  if (status != nullptr) *status = WIFEXITED(result) ? WEXITSTATUS(result) : -1;
  return out;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// A loop device bound to an 8 MiB file; detached when the object goes (or by Detach).
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& image) {
    int status = -1;
    Shell("truncate -s 8M '" + image + "'", &status);
    if (status != 0) return;
    const std::string out = Shell("losetup --find --show '" + image + "'", &status);
    if (status == 0 && out.starts_with("/dev/loop")) path_ = out.substr(0, out.find('\n'));
  }
  ~LoopDevice() { Detach(); }
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;

  void Detach() {
    if (!path_.empty() && !detached_) Shell("losetup -d '" + path_ + "'");
    detached_ = true;
  }
  const std::string& path() const { return path_; }  // Empty when it could not be made.

 private:
  std::string path_;
  bool detached_ = false;
};

LocalCluster::Options ThreeNodes(const std::vector<std::string>& nodes) {
  LocalCluster::Options options;
  options.node_timeout = "3s";
  options.heartbeat_interval = "300ms";
  options.packages = {PackageDef{.name = "g1", .nodes = nodes, .instant = true}};
  return options;
}

class Reprobe : public ::testing::Test {
 protected:
  // g1's disk becomes the loop device (no WWID: matched by path), without a network;
  // node3 probes, every `interval`.
  bool Prepare(LocalCluster& cluster, const std::string& interval) {
    if (::geteuid() != 0) return Skip("needs root (PID namespaces, loop devices)");
    if (Shell("command -v losetup").empty()) return Skip("needs losetup (util-linux)");
    loop_ = std::make_unique<LoopDevice>(cluster.FilePath("loop.img"));
    if (loop_->path().empty()) return Skip("losetup --find --show could not bind a loop device");
    const std::string disk = cluster.FilePath("disks/g1.img");
    std::string package = Read(cluster.FilePath("packages/g1/package.yaml"));
    ReplaceAll(package, disk, loop_->path());
    ReplaceAll(package, "  networks:\n    - {vswitch: net0}\n", "");
    cluster.WriteFile("packages/g1/package.yaml", package);
    std::string yaml = Read(cluster.config_path());
    const size_t wwid = yaml.find(", wwid: ");
    const std::string entry = yaml.substr(wwid, yaml.find('}', wwid) - wwid);
    ReplaceAll(yaml, entry, "");
    ReplaceAll(yaml, disk, loop_->path());
    const size_t begin = yaml.find("    inventory:\n", yaml.find("- name: node3"));
    const std::string last = "        - {name: net0, nic: lo}\n";
    const size_t end = yaml.find(last, begin) + last.size();
    if (begin == std::string::npos || end < begin) {
      ADD_FAILURE() << "unexpected cluster file:\n" << yaml;
      return false;
    }
    yaml.replace(begin, end - begin, "    inventory: probe\n");
    yaml = "inventory_probe_interval: " + interval + "\n" + yaml;
    cluster.WriteFile("cluster.yaml", yaml);
    return true;
  }
  bool Skip(const std::string& why) {
    skipped_ = why;
    return false;
  }
  // `pkgctl check g1 -n node3` on node1: its exit status (0: passes) and its output.
  static CommandResult CheckOnNode3(const LocalCluster& cluster) {
    return cluster.Pkgctl(0, {"check", "g1", "-n", "node3"});
  }

  std::unique_ptr<LoopDevice> loop_;
  std::string skipped_;
};

TEST_F(Reprobe, ARemovedLoopDeviceIsCommittedWithinTheProbeInterval) {
  LocalCluster cluster(ThreeNodes({"node1", "node2", "node3"}));
  if (!Prepare(cluster, "1s")) {
    if (!skipped_.empty()) GTEST_SKIP() << skipped_;
    return;
  }
  cluster.StartAll();
  CommandResult check;
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return (check = CheckOnNode3(cluster)).exit_status == 0; }, seconds(30)))
      << check.out << check.err << cluster.LogTail(2);

  loop_->Detach();
  const auto detached = std::chrono::steady_clock::now();
  const bool seen = LocalCluster::WaitFor(
      [&] {
        check = CheckOnNode3(cluster);
        return check.out.find(R"("code":"device_missing")") != std::string::npos &&
               check.exit_status == 1;
      },
      seconds(10));
  const auto took =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - detached);

  EXPECT_TRUE(seen) << check.out << check.err << cluster.LogTail(2);
  EXPECT_LT(took.count(), 5000) << "the interval is 1s";
  std::cerr << "node3's re-probe was committed and seen on node1 " << took.count()
            << " ms after losetup -d\n";
}

TEST_F(Reprobe, AMoveOntoAProbeNodeWhoseDiskIsGoneIsRefusedWithTheReason) {
  LocalCluster cluster(ThreeNodes({"node1", "node2", "node3"}));
  if (!Prepare(cluster, "1h")) {  // No periodic re-probe during the test.
    if (!skipped_.empty()) GTEST_SKIP() << skipped_;
    return;
  }
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] {
        return cluster.Package(0, "g1")["status"].String() == "up" &&
               CheckOnNode3(cluster).exit_status == 0;
      },
      seconds(30)))
      << cluster.LogTail(0);
  const std::string from = cluster.Package(0, "g1")["node"].String();
  ASSERT_NE(from, "node3");

  loop_->Detach();  // node3's committed inventory still lists it: validation passes.
  ASSERT_EQ(CheckOnNode3(cluster).exit_status, 0) << "the committed inventory is stale";
  const CommandResult move = cluster.Pkgctl(0, {"move", "g1", "-n", "node3"});

  const bool back = LocalCluster::WaitFor(
      [&] {
        JsonValue g1 = cluster.Package(0, "g1");
        return g1["status"].String() == "up" && g1["node"].String() != "node3";
      },
      seconds(30));
  EXPECT_TRUE(back) << move.out << move.err << cluster.LogTail(2);
  for (const LedgerRecord& record : cluster.Ledger("g1")) {
    EXPECT_NE(record.node, "node3") << "g1's run script ran on node3";
  }
  CommandResult check = CheckOnNode3(cluster);
  EXPECT_NE(check.out.find(R"("code":"device_missing")"), std::string::npos)
      << "the fresh inventory is committed: " << check.out;
  std::string log = cluster.LogTail(2, 400);
  EXPECT_NE(log.find("refused before the run script: the re-probed inventory of node3 fails "
                     "validation"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(loop_->path()), std::string::npos) << log;
  std::cerr << "pkgctl move: exit " << move.exit_status << "\n" << move.out << move.err;
}

}  // namespace
}  // namespace cmcl::testing
