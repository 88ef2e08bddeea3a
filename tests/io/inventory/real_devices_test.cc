// The Linux probe on real devices this test creates: a loop device bound to a file, and
// in a network namespace of its own a bridge with a veth end and a tap, and a bridge
// with no port. It runs the built `pkgctl inventory probe` (inside the namespace with
// `ip netns exec`, which mounts the namespace's own /sys) and reads what it prints with
// the real inventory_file parser. Needs root, losetup and ip netns (CI has them);
// skipped with the reason otherwise. Every device and the namespace are removed at the
// end, also when a check fails. Host interfaces are never touched.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "cmcld/core/inventory/inventory_index.h"
#include "cmcld/io/config/load.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io::inventory {
namespace {

using cmcl::inventory::NodeInventory;
using cmcl::inventory::Vswitch;

struct Ran {
  int exit_status = -1;
  std::string out;  // stdout; stderr goes to the test's log.
};

Ran Shell(const std::string& command) {
  Ran ran;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return ran;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) ran.out.append(buffer, n);
  const int status = ::pclose(pipe);
  ran.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

bool Have(const std::string& program) {
  return Shell("command -v " + program + " >/dev/null 2>&1").exit_status == 0;
}

// A loop device bound to an 8 MiB file in `dir`; detached when the object goes.
class LoopDevice {
 public:
  explicit LoopDevice(const testing::TempDir& dir) {
    const std::string image = dir / "disk.img";
    if (Shell("truncate -s 8M '" + image + "'").exit_status != 0) return;
    const Ran ran = Shell("losetup --find --show '" + image + "'");
    if (ran.exit_status != 0 || !ran.out.starts_with("/dev/loop")) return;
    path_ = ran.out.substr(0, ran.out.find('\n'));
  }
  ~LoopDevice() {
    if (!path_.empty()) Shell("losetup -d '" + path_ + "'");
  }
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;

  const std::string& path() const { return path_; }  // Empty when it could not be made.

 private:
  std::string path_;
};

// A network namespace named cmcl-probe-<pid>; deleted (with every device in it) when
// the object goes.
class NetworkNamespace {
 public:
  NetworkNamespace() : name_("cmcl-probe-" + std::to_string(::getpid())) {
    made_ = Shell("ip netns add " + name_).exit_status == 0;
  }
  ~NetworkNamespace() {
    if (made_) Shell("ip netns del " + name_);
  }
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  bool made() const { return made_; }
  // Runs `command` inside the namespace.
  Ran Exec(const std::string& command) const {
    return Shell("ip netns exec " + name_ + " " + command);
  }

 private:
  std::string name_;
  bool made_ = false;
};

// What pkgctl printed, as the inventory_file parser reads it.
NodeInventory LoadPrinted(const std::string& yaml) {
  testing::TempDir etc;
  etc.Write("cluster.key", std::string(48, 'k'), 0600);
  etc.Write("probed.yaml", yaml);
  etc.Write("cluster.yaml",
            "cluster_name: c\nsecurity: {key_file: cluster.key}\nnodes:\n"
            "  - {name: n1, addresses: [127.0.0.1:7101], inventory_file: probed.yaml}\n"
            "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
            "  - {name: n3, addresses: [127.0.0.3:7101]}\n");
  const config::LoadedConfig loaded = config::LoadCluster(etc / "cluster.yaml");
  for (const auto& diagnostic : loaded.diagnostics) {
    ADD_FAILURE() << cmcl::config::FormatDiagnostic(diagnostic) << "\n" << yaml;
  }
  return loaded.config.nodes.empty() ? NodeInventory{} : loaded.config.nodes.front().inventory;
}

class RealDevices : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (loop devices, network namespaces)";
    if (!Have("losetup")) GTEST_SKIP() << "needs losetup (util-linux)";
    if (!Have("ip")) GTEST_SKIP() << "needs ip (iproute2)";
  }
};

TEST_F(RealDevices, ABoundLoopDeviceIsListedAsADiskWithoutWwid) {
  testing::TempDir dir;
  LoopDevice loop(dir);
  if (loop.path().empty()) GTEST_SKIP() << "losetup --find --show could not bind a loop device";

  const Ran ran = Shell(std::string(PKGCTL_BINARY) + " inventory probe");

  ASSERT_EQ(ran.exit_status, 0) << ran.out;
  const NodeInventory inventory = LoadPrinted(ran.out);
  const cmcl::inventory::Disk* disk = cmcl::inventory::FindDisk(inventory, loop.path());
  ASSERT_NE(disk, nullptr) << loop.path() << " missing from:\n" << ran.out;
  EXPECT_EQ(disk->wwid, std::nullopt);
  EXPECT_NE(ran.out.find("#   capacity: {vcpus: "), std::string::npos) << ran.out;
}

TEST_F(RealDevices, ADetachedLoopDeviceIsNotListed) {
  testing::TempDir dir;
  std::string detached;
  {
    LoopDevice loop(dir);
    if (loop.path().empty()) GTEST_SKIP() << "losetup --find --show could not bind a loop device";
    detached = loop.path();
  }

  const Ran ran = Shell(std::string(PKGCTL_BINARY) + " inventory probe");

  ASSERT_EQ(ran.exit_status, 0) << ran.out;
  // Another test or process may bind it again in between; the loop is ours to judge
  // only while it stays unbound.
  if (Shell("losetup '" + detached + "' >/dev/null 2>&1").exit_status == 0) {
    GTEST_SKIP() << detached << " was bound again by someone else";
  }
  EXPECT_EQ(cmcl::inventory::FindDisk(LoadPrinted(ran.out), detached), nullptr) << ran.out;
}

TEST_F(RealDevices, BridgesInANamespaceAreVswitchesOnTheirVethUplink) {
  NetworkNamespace netns;
  if (!netns.made()) GTEST_SKIP() << "ip netns add failed (no network namespaces here)";
  for (const char* command :
       {"ip link add name cmclbr0 type bridge", "ip link add name cmclbr1 type bridge",
        "ip link add name cmclv0 type veth peer name cmclv1", "ip link set cmclv0 master cmclbr0",
        "ip tuntap add dev cmcltap0 mode tap", "ip link set cmcltap0 master cmclbr0",
        "ip link set cmclbr0 up"}) {
    ASSERT_EQ(netns.Exec(command).exit_status, 0) << command;
  }

  const Ran ran = netns.Exec(std::string(PKGCTL_BINARY) + " inventory probe");

  ASSERT_EQ(ran.exit_status, 0) << ran.out;
  // Only the namespace's devices: its /sys shows no host interface.
  EXPECT_EQ(LoadPrinted(ran.out).vswitches,
            (std::vector<Vswitch>{{"cmclbr0", "cmclv0"}, {"cmclbr1", "local"}}))
      << ran.out;
}

}  // namespace
}  // namespace cmcl::io::inventory
