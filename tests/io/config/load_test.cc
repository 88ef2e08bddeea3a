// LoadCluster (io/config/load.h): typed values, defaults, paths relative to the file
// that names them, inventories in three forms, warnings that do not fail, and every
// error at once in location order.
#include "cmcld/io/config/load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/temp_dir.h"

namespace cmcl::io::config {
namespace {

using cmcl::config::Diagnostic;
using cmcl::config::Severity;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const LoadedConfig& loaded, Severity severity,
                               const std::string& folder) {
  std::vector<std::string> lines;
  for (const Diagnostic& diagnostic : loaded.diagnostics) {
    if (diagnostic.severity != severity) continue;
    std::string line = cmcl::config::FormatDiagnostic(diagnostic);
    for (size_t at = line.find(folder); at != std::string::npos; at = line.find(folder)) {
      line.erase(at, folder.size());
    }
    lines.push_back(line);
  }
  return lines;
}

class LoadClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.Write("etc/cluster.key", std::string(48, 'k'), 0600); }
  void WritePackage(const std::string& folder, const std::string& yaml) {
    dir_.Write(folder + "/package.yaml", yaml);
    dir_.Write(folder + "/run.sh", "#!/bin/sh\n", 0755);
    dir_.Write(folder + "/halt.sh", "#!/bin/sh\n", 0755);
    dir_.Write(folder + "/monitor.sh", "#!/bin/sh\n", 0755);
  }
  LoadedConfig Load() { return LoadCluster(dir_ / "etc/cluster.yaml"); }
  std::string Folder() const { return dir_.path() + "/"; }

  testing::TempDir dir_;
};

const char* const kFullCluster = R"(cluster_name: ivmcl
node_timeout: 3s
fence_timeout: 500ms
clock_drift_max: 0.5%
metrics_address: 127.0.0.1:9650
driver_dir: ../drivers
security: {key_file: cluster.key}
access:
  - {group: cmview, role: monitor}
nodes:
  - name: ivmcl01
    addresses: [127.0.0.1:7101, "[::1]:7101"]
    capacity: {vcpus: 8, memory: 32GiB}
    state_dir: state/ivmcl01
    inventory:
      disks: [{path: /dev/rdisk/disk10, wwid: "0x600508B4000156D700012000000B0000"}]
      vswitches: [{name: vlan2, nic: lan0}]
      shared_devices: [/dev/rdsk/c1t4d0]
  - name: ivmcl02
    addresses: [127.0.0.2:7101]
    metrics_address: 127.0.0.2:9651
    inventory_file: inventories/ivmcl02.yaml
  - {name: ivmq, addresses: [127.0.0.3:7101], role: arbitrator}
  - {name: ivmcl04, addresses: [127.0.0.4:7101], inventory: probe}
packages: [../packages/hpvm1, ../packages/anywhere]
)";

const char* const kFullPackage = R"(name: hpvm1
nodes: [ivmcl02, ivmcl01]
failover_policy: min_package_node
driver: process
run_script: run.sh
halt_script: halt.sh
run_timeout: 90s
priority: 10
displace_lower_priority: true
guest:
  vcpus: 2
  memory: 3GiB
  storage: [{path: /dev/rdisk/disk10, type: disk, wwid: "0x600508b4000156d700012000000b0000"}]
  networks: [{vswitch: vlan2}]
  devices: [{path: /dev/rdsk/c1t4d0, type: dvd}]
services:
  - {name: guestmon, command: ./monitor.sh -v, max_restarts: 3}
)";

TEST_F(LoadClusterTest, ValidFilesLoadIntoTypedValues) {
  dir_.Write("etc/cluster.yaml", kFullCluster);
  dir_.Write("etc/inventories/ivmcl02.yaml", "vswitches: [{name: vlan2, nic: lan1}]\n");
  dir_.Write("drivers/process", "#!/bin/sh\n", 0755);
  WritePackage("packages/hpvm1", kFullPackage);
  WritePackage("packages/anywhere",
               "name: anywhere\nnodes: [\"*\"]\nrun_script: run.sh\nhalt_script: halt.sh\n"
               "driver: process\ndepends_on: [{package: hpvm1, location: same_node}]\n");

  const LoadedConfig loaded = Load();

  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(Lines(loaded, Severity::kError, ""));
  EXPECT_TRUE(loaded.diagnostics.empty());
  const auto& config = loaded.config;
  EXPECT_EQ(config.cluster_name.value(), "ivmcl");
  EXPECT_EQ(config.node_timeout, std::chrono::seconds(3));
  EXPECT_EQ(config.heartbeat_interval, std::chrono::milliseconds(300)) << "node_timeout/10";
  EXPECT_EQ(config.clock_drift_max.parts_per_million(), 5000u);
  EXPECT_EQ(config.metrics_address->ToString(), "127.0.0.1:9650");
  // A node's own metrics_address overrides the cluster's; the others use the cluster's.
  EXPECT_FALSE(config.nodes[0].metrics_address.has_value());
  EXPECT_EQ(config.MetricsAddressOf(config.nodes[0].name)->ToString(), "127.0.0.1:9650");
  EXPECT_EQ(config.MetricsAddressOf(config.nodes[1].name)->ToString(), "127.0.0.2:9651");
  EXPECT_EQ(config.driver_dir, Folder() + "drivers");
  EXPECT_EQ(config.security.key_file, Folder() + "etc/cluster.key");
  ASSERT_EQ(config.nodes.size(), 4u);
  EXPECT_EQ(config.nodes[0].addresses[1].ToString(), "[::1]:7101");
  EXPECT_EQ(config.nodes[0].state_dir, Folder() + "etc/state/ivmcl01");
  EXPECT_EQ(config.nodes[0].inventory.capacity->memory, ByteSize::FromMebibytes(32 * 1024));
  EXPECT_EQ(config.nodes[0].inventory.disks[0].wwid->value, "0x600508b4000156d700012000000b0000");
  EXPECT_EQ(config.nodes[1].inventory_source, cmcl::config::InventorySource::kFile);
  EXPECT_EQ(config.nodes[1].inventory.vswitches[0].nic, "lan1");
  EXPECT_EQ(config.nodes[3].inventory_source, cmcl::config::InventorySource::kProbe);
  EXPECT_EQ(config.nodes[2].role, cmcl::config::NodeRole::kArbitrator);
}

TEST_F(LoadClusterTest, PackagesAreReadFromTheirFoldersWithTypedValues) {
  dir_.Write("etc/cluster.yaml", kFullCluster);
  dir_.Write("etc/inventories/ivmcl02.yaml", "vswitches: [{name: vlan2, nic: lan1}]\n");
  WritePackage("packages/hpvm1", kFullPackage);
  WritePackage("packages/anywhere",
               "name: anywhere\nnodes: [\"*\"]\nrun_script: run.sh\nhalt_script: halt.sh\n");

  const LoadedConfig loaded = Load();

  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded.config.packages.size(), 2u);
  const auto& hpvm1 = loaded.config.packages[0];
  EXPECT_EQ(hpvm1.folder, Folder() + "packages/hpvm1");
  EXPECT_EQ(hpvm1.failover_policy, cmcl::config::FailoverPolicy::kMinPackageNode);
  EXPECT_EQ(hpvm1.run_timeout, std::chrono::seconds(90));
  EXPECT_EQ(hpvm1.halt_timeout, std::chrono::seconds(60)) << "the default";
  EXPECT_EQ(hpvm1.priority, 10u);
  EXPECT_TRUE(hpvm1.displace_lower_priority);
  EXPECT_EQ(hpvm1.guest.memory, ByteSize::FromMebibytes(3072));
  EXPECT_EQ(hpvm1.guest.devices[0].type, cmcl::config::DeviceType::kDvd);
  EXPECT_EQ(hpvm1.services[0].max_restarts, 3u);
  const auto& anywhere = loaded.config.packages[1];
  EXPECT_TRUE(anywhere.all_nodes);
  EXPECT_THAT(anywhere.nodes,
              ElementsAre(NodeName("ivmcl01"), NodeName("ivmcl02"), NodeName("ivmcl04")))
      << "\"*\" is every member, arbitrators excluded";
}

TEST_F(LoadClusterTest, DropKeyLocationsForgetsEveryLocationAndKeepsEveryValue) {
  dir_.Write("etc/cluster.yaml", kFullCluster);
  dir_.Write("etc/inventories/ivmcl02.yaml", "vswitches: [{name: vlan2, nic: lan1}]\n");
  dir_.Write("drivers/process", "#!/bin/sh\n", 0755);
  WritePackage("packages/hpvm1", kFullPackage);
  WritePackage("packages/anywhere",
               "name: anywhere\nnodes: [\"*\"]\nrun_script: run.sh\nhalt_script: halt.sh\n"
               "driver: process\ndepends_on: [{package: hpvm1, location: same_node}]\n");
  LoadedConfig loaded = Load();
  ASSERT_TRUE(loaded.ok());
  const auto& package = loaded.config.packages.at(0);
  ASSERT_FALSE(package.where.keys.empty());
  ASSERT_FALSE(package.services.at(0).where.keys.empty());
  const std::string folder = package.folder;
  const auto run_timeout = package.run_timeout;

  DropKeyLocations(loaded.config);

  const cmcl::config::KeyLocations none;
  EXPECT_EQ(loaded.config.where.keys.size(), 0u);
  EXPECT_EQ(loaded.config.nodes.at(0).where.self, none.self);
  EXPECT_EQ(package.where.keys.size(), 0u);
  EXPECT_EQ(package.where.self, none.self);
  EXPECT_EQ(package.guest.where.keys.size(), 0u);
  EXPECT_EQ(package.guest.devices.at(0).where.keys.size(), 0u);
  EXPECT_EQ(package.services.at(0).where.keys.size(), 0u);
  EXPECT_EQ(package.folder, folder) << "values stay";
  EXPECT_EQ(package.run_timeout, run_timeout);
}

TEST_F(LoadClusterTest, PackageWithoutDriverLoadsWithAWarning) {
  dir_.Write("etc/cluster.yaml",
             "cluster_name: c\nsecurity: {key_file: cluster.key}\n"
             "allow_two_node_without_arbitrator: true\nnodes:\n"
             "  - {name: a, addresses: [127.0.0.1:7101]}\n"
             "  - {name: b, addresses: [127.0.0.2:7101]}\npackages: [p]\n");
  WritePackage("etc/p", "name: p\nnodes: [a, b]\nrun_script: run.sh\nhalt_script: halt.sh\n");

  const LoadedConfig loaded = Load();

  EXPECT_TRUE(loaded.ok());
  EXPECT_THAT(Lines(loaded, Severity::kWarning, Folder()),
              ElementsAre("etc/p/package.yaml:1:7: warning: package p has no driver: a fence "
                          "kills its run script's process group and runs halt.sh, so it is "
                          "only as safe as its halt script is fast"));
}

TEST_F(LoadClusterTest, EveryKeyOfTheKeyTablesIsReadIntoItsTypedField) {
  dir_.Write("etc/ca.pem", "x");
  dir_.Write("etc/cert.pem", "x");
  dir_.Write("etc/key.pem", "x");
  dir_.Write(
      "etc/cluster.yaml",
      "cluster_name: c\nnode_timeout: 4s\nheartbeat_interval: 250ms\n"
      "fence_timeout: 1s\nfence_action: reboot\nwatchdog_device: /dev/watchdog1\n"
      "watchdog_timeout: 2s\ndisarm_max: 2h\ncluster_start_wait: 90s\nmonitor_interval: 10s\n"
      "shutdown_policy: halt\nallow_two_node_without_arbitrator: true\n"
      "inventory_probe_interval: 2m\n"
      "security: {key_file: cluster.key, ca: ca.pem, cert: cert.pem, key: key.pem}\n"
      "access: [{user: alice, role: package_admin}]\n"
      "nodes:\n  - {name: a, addresses: [127.0.0.1:7101]}\n"
      "  - {name: b, addresses: [127.0.0.2:7101]}\npackages: [p, q]\n");
  WritePackage("etc/q", "name: q\nnodes: [a]\nrun_script: run.sh\nhalt_script: halt.sh\n");
  WritePackage("etc/p",
               "name: p\nnodes: [b, a]\nauto_run: false\nfailback_policy: automatic\n"
               "run_script: run.sh\nhalt_script: halt.sh\nkill_timeout: 3s\n"
               "max_restarts: 4294967295\nmax_relocations: 0000000005\n"
               "node_fail_fast_enabled: true\nservice_fail_fast_enabled: true\n"
               "shutdown_policy: migrate\npriority: 0\n"
               "depends_on: [{package: q, condition: up, location: same_node}]\n"
               "guest: {storage: [{path: /dev/sdb, type: file, shared: true}],\n"
               "        networks: [{vswitch: br0, nic: eth1}]}\n");

  const LoadedConfig loaded = Load();

  ASSERT_THAT(Lines(loaded, Severity::kError, Folder()), ::testing::IsEmpty());
  const auto& c = loaded.config;
  EXPECT_EQ(c.heartbeat_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(c.fence_timeout, std::chrono::seconds(1));
  EXPECT_EQ(c.fence_action, cmcl::config::FenceAction::kReboot);
  EXPECT_EQ(c.watchdog_device, "/dev/watchdog1");
  EXPECT_EQ(c.watchdog_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c.disarm_max, std::chrono::hours(2));
  EXPECT_EQ(c.cluster_start_wait, std::chrono::seconds(90));
  EXPECT_EQ(c.monitor_interval, std::chrono::seconds(10));
  EXPECT_EQ(c.inventory_probe_interval, std::chrono::minutes(2));
  EXPECT_EQ(c.shutdown_policy, cmcl::config::ShutdownPolicy::kHalt);
  EXPECT_TRUE(c.allow_two_node_without_arbitrator);
  EXPECT_EQ(c.security.tls_ca, Folder() + "etc/ca.pem");
  EXPECT_EQ(c.security.tls_cert, Folder() + "etc/cert.pem");
  EXPECT_EQ(c.security.tls_key, Folder() + "etc/key.pem");
  ASSERT_EQ(c.access.size(), 1u);
  EXPECT_EQ(c.access[0].user, "alice");
  EXPECT_EQ(c.access[0].role, cmcl::config::AccessRole::kPackageAdmin);
  ASSERT_EQ(c.packages.size(), 2u);
  const auto& p = c.packages[0];
  EXPECT_FALSE(p.auto_run);
  EXPECT_EQ(p.failback_policy, cmcl::config::FailbackPolicy::kAutomatic);
  EXPECT_EQ(p.kill_timeout, std::chrono::seconds(3));
  EXPECT_EQ(p.max_restarts, 4294967295u) << "the largest count, ten digits";
  EXPECT_EQ(p.max_relocations, 5u) << "leading zeros are still a whole number";
  EXPECT_TRUE(p.node_fail_fast_enabled);
  EXPECT_TRUE(p.service_fail_fast_enabled);
  EXPECT_EQ(p.shutdown_policy, cmcl::config::ShutdownPolicy::kMigrate);
  EXPECT_EQ(p.priority, 0u);
  ASSERT_EQ(p.depends_on.size(), 1u);
  EXPECT_EQ(p.depends_on[0].package, PackageName("q"));
  EXPECT_EQ(p.depends_on[0].location, cmcl::config::DependencyLocation::kSameNode);
  ASSERT_EQ(p.guest.storage.size(), 1u);
  EXPECT_EQ(p.guest.storage[0].type, cmcl::config::StorageType::kFile);
  EXPECT_TRUE(p.guest.storage[0].shared);
  EXPECT_EQ(p.guest.networks[0].nic, "eth1");
}

TEST_F(LoadClusterTest, UnsetKeysTakeTheDefaultsOfTheKeyTables) {
  dir_.Write("etc/cluster.yaml",
             "cluster_name: c\nnode_timeout: 5s\nsecurity: {key_file: cluster.key}\n"
             "nodes:\n  - {name: a, addresses: [127.0.0.1:7101]}\npackages: [p]\n");
  WritePackage("etc/p",
               "name: p\nnodes: [a]\nrun_script: run.sh\nhalt_script: halt.sh\n"
               "guest: {storage: [{path: /dev/sdb}]}\n");

  const LoadedConfig loaded = Load();

  ASSERT_THAT(Lines(loaded, Severity::kError, Folder()), ::testing::IsEmpty());
  const auto& c = loaded.config;
  EXPECT_EQ(c.heartbeat_interval, std::chrono::milliseconds(500)) << "node_timeout/10";
  EXPECT_EQ(c.fence_timeout, std::chrono::milliseconds(300));
  EXPECT_EQ(c.fence_action, cmcl::config::FenceAction::kKill);
  EXPECT_EQ(c.watchdog_device, "/dev/watchdog");
  EXPECT_EQ(c.watchdog_timeout, std::chrono::seconds(1));
  EXPECT_EQ(c.disarm_max, std::chrono::hours(4));
  EXPECT_EQ(c.driver_dir, "/usr/lib/cmcl/drivers");
  EXPECT_EQ(c.clock_drift_max.ToString(), "0.1%");
  EXPECT_EQ(c.cluster_start_wait, std::chrono::seconds(60));
  EXPECT_EQ(c.monitor_interval, std::chrono::seconds(5));
  EXPECT_EQ(c.inventory_probe_interval, std::chrono::seconds(30));
  EXPECT_EQ(c.shutdown_policy, cmcl::config::ShutdownPolicy::kMigrate);
  EXPECT_FALSE(c.allow_two_node_without_arbitrator);
  EXPECT_FALSE(c.metrics_address.has_value());
  EXPECT_FALSE(c.MetricsAddressOf(c.nodes[0].name).has_value());
  EXPECT_EQ(c.nodes[0].state_dir, "/var/lib/cmcld");
  const auto& p = c.packages[0];
  EXPECT_TRUE(p.auto_run);
  EXPECT_EQ(p.run_timeout, std::chrono::seconds(60));
  EXPECT_EQ(p.kill_timeout, std::chrono::seconds(10));
  EXPECT_EQ(p.max_restarts, 0u);
  EXPECT_FALSE(p.max_relocations.has_value()) << "the number of nodes, resolved by its user";
  EXPECT_FALSE(p.node_fail_fast_enabled);
  EXPECT_FALSE(p.service_fail_fast_enabled);
  EXPECT_FALSE(p.shutdown_policy.has_value()) << "the cluster's";
  EXPECT_FALSE(p.priority.has_value());
  EXPECT_FALSE(p.displace_lower_priority);
  EXPECT_FALSE(p.guest.storage[0].shared);
  EXPECT_EQ(p.guest.storage[0].type, cmcl::config::StorageType::kDisk);
}

TEST_F(LoadClusterTest, Utf8TextOfEveryLengthLoads) {
  dir_.Write("etc/cluster.yaml",
             "# Gr\u00fc\u00dfe \u2013 \u65e5\u672c \U0001F600\n"
             "cluster_name: c\nsecurity: {key_file: cluster.key}\n"
             "nodes:\n  - {name: a, addresses: [127.0.0.1:7101]}\npackages: [p]\n");
  WritePackage("etc/p",
               "name: p\nnodes: [a]\nrun_script: run.sh\nhalt_script: halt.sh\n"
               "driver: process\nguest: {label: \"G\u00e4ste \u65e5\u672c\"}\n");

  const LoadedConfig loaded = Load();

  EXPECT_THAT(Lines(loaded, Severity::kError, Folder()), ::testing::IsEmpty());
  ASSERT_EQ(loaded.config.packages.size(), 1u);
  EXPECT_EQ(loaded.config.packages[0].guest.label, "G\u00e4ste \u65e5\u672c");
}

TEST_F(LoadClusterTest, DriverMissingFromDriverDirIsAWarning) {
  dir_.Write("etc/cluster.yaml",
             "cluster_name: c\nsecurity: {key_file: cluster.key}\ndriver_dir: /nonexistent\n"
             "nodes: [{name: a, addresses: [127.0.0.1:7101]}]\npackages: [p]\n");
  WritePackage("etc/p",
               "name: p\nnodes: [a]\nrun_script: run.sh\nhalt_script: halt.sh\n"
               "driver: libvirt\n");

  const LoadedConfig loaded = Load();

  EXPECT_TRUE(loaded.ok());
  EXPECT_THAT(Lines(loaded, Severity::kWarning, Folder()),
              ElementsAre("etc/p/package.yaml:5:9: warning: driver \"libvirt\" is not "
                          "installed: /nonexistent/libvirt is missing (drivers are installed "
                          "software; each node checks again before a start)"));
}

TEST_F(LoadClusterTest, ReportsEveryErrorAtOnceInLocationOrder) {
  // Parsing meets node_timeout (line 3) before security (line 2), and validation finds
  // the name (line 1) last: the output is still in line order.
  dir_.Write("etc/cluster.yaml",
             "cluster_name: \"bad name\"\nsecurity: {}\nnode_timeout: soon\n"
             "nodes: [{name: a, addresses: [127.0.0.1:7101]}]\n");

  const LoadedConfig loaded = Load();

  EXPECT_FALSE(loaded.ok());
  EXPECT_THAT(Lines(loaded, Severity::kError, Folder()),
              ElementsAre(HasSubstr("etc/cluster.yaml:1:15: cluster_name \"bad name\""),
                          "etc/cluster.yaml:2:11: missing required key \"key_file\"",
                          HasSubstr("etc/cluster.yaml:3:15: node_timeout: \"soon\"")));
}

TEST_F(LoadClusterTest, MissingClusterFileIsOneError) {
  const LoadedConfig loaded = Load();

  EXPECT_THAT(Lines(loaded, Severity::kError, Folder()),
              ElementsAre("etc/cluster.yaml: no such file; expected the cluster file (pkgctl "
                          "config check CLUSTER_YAML, or set $CMCL_CONFIG)"));
}

TEST_F(LoadClusterTest, AFolderIsNotAClusterFile) {
  dir_.Write("etc/cluster.yaml/x", "");

  const LoadedConfig loaded = Load();

  EXPECT_THAT(Lines(loaded, Severity::kError, Folder()),
              ElementsAre("etc/cluster.yaml: is a folder; expected the cluster file in it, "
                          "e.g. etc/cluster.yaml/cluster.yaml"));
}

TEST_F(LoadClusterTest, FilesAreNamedRelativeToTheFileThatNamesThem) {
  dir_.Write("etc/cluster.yaml",
             "cluster_name: c\nsecurity: {key_file: cluster.key}\n"
             "nodes: [{name: a, addresses: [127.0.0.1:7101], inventory_file: ../inv/a.yaml}]\n"
             "packages: [../pkgs/p]\n");
  dir_.Write("inv/a.yaml", "lvols: [{size: 1GiB}]\n");
  WritePackage("pkgs/p", "name: p\nnodes: [b]\nrun_script: run.sh\nhalt_script: halt.sh\n");

  const LoadedConfig loaded = Load();

  EXPECT_THAT(Lines(loaded, Severity::kError, Folder()),
              ElementsAre("inv/a.yaml:1:9: missing required key \"path\"",
                          "inv/a.yaml:1:10: unknown key \"size\"; expected one of: path",
                          "pkgs/p/package.yaml:2:9: node \"b\" is not a node of cluster c; "
                          "did you mean \"a\"?"));
}

}  // namespace
}  // namespace cmcl::io::config
