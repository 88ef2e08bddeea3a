// A small valid configuration written into a temporary folder for the bundle tests: a
// cluster file with an inline inventory, an inventory file and an arbitrator, two
// package folders (scripts 0755, a nested helper 0644, a service under bin/) and a key.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/io/config/load.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io::testing {

inline const char* const kClusterYaml =
    R"(# The bundle test cluster (this comment is not in the bundle).
cluster_name: testcl
node_timeout: 3s
heartbeat_interval: 300ms
fence_timeout: 500ms
cluster_start_wait: 20s
security: {key_file: KEY}
access:
  - {user: root, role: full_admin}
nodes:
  - name: n1
    addresses: [127.0.0.1:7101]
    capacity: {vcpus: 4, memory: 8GiB}
    inventory:
      disks: [{path: /dev/d1, wwid: "0x600508B4000156D700012000000B0000"}]
      vswitches: [{name: vlan2, nic: lan0}]
  - name: n2
    addresses: ["127.0.0.2:7101", "[::1]:7102"]
    capacity: {vcpus: 2, memory: 4GiB}
    inventory_file: inventories/n2.yaml
  - {name: q, addresses: [127.0.0.3:7101], role: arbitrator}
packages: [../pkgs/web, ../pkgs/db/]
)";

inline const char* const kInventoryYaml =
    R"(disks: [{path: /dev/d1, wwid: "0x600508B4000156D700012000000B0000"}]
vswitches: [{name: vlan2, nic: lan1}]
)";

inline const char* const kWebPackage = R"(name: web
nodes: [n1, n2]
run_script: run.sh
halt_script: halt.sh
run_timeout: 20s
halt_timeout: 25s
guest:
  vcpus: 1
  memory: 1GiB
  storage: [{path: /dev/d1, type: disk}]
  networks: [{vswitch: vlan2}]
services:
  - {name: mon, command: ./bin/monitor.sh --fast, max_restarts: 2}
)";

inline const char* const kDbPackage = R"(name: db
nodes: ["*"]
run_script: start.sh
halt_script: stop.sh
)";

// Writes the configuration under `dir`: etc/cluster.yaml with its key at `key_path`
// (relative to etc/ as written in the file), pkgs/web, pkgs/db.
inline void WriteTestConfig(cmcl::testing::TempDir& dir,
                            const std::string& key_path = "cluster.key") {
  std::string cluster = kClusterYaml;
  cluster.replace(cluster.find("KEY"), 3, key_path);
  dir.Write("etc/cluster.yaml", cluster);
  dir.Write("etc/" + key_path, std::string(48, 'k'), 0600);
  dir.Write("etc/inventories/n2.yaml", kInventoryYaml);
  dir.Write("pkgs/web/package.yaml", kWebPackage);
  dir.Write("pkgs/web/run.sh", "#!/bin/sh\necho run web\n", 0755);
  dir.Write("pkgs/web/halt.sh", "#!/bin/sh\necho halt web\n", 0755);
  dir.Write("pkgs/web/bin/monitor.sh", "#!/bin/sh\nsleep 1\n", 0755);
  dir.Write("pkgs/web/lib/helpers.sh", "say() { echo \"$@\"; }\n", 0644);
  dir.Write("pkgs/db/package.yaml", kDbPackage);
  dir.Write("pkgs/db/start.sh", "#!/bin/sh\necho start db\n", 0755);
  dir.Write("pkgs/db/stop.sh", "#!/bin/sh\necho stop db\n", 0750);
}

inline std::string Errors(const config::LoadedConfig& loaded) {
  std::string text;
  for (const auto& d : loaded.diagnostics) text += cmcl::config::FormatDiagnostic(d) + "\n";
  return text;
}

// Loads `cluster_file`, failing the test on any error.
inline cmcl::config::ClusterConfig LoadOrFail(const std::string& cluster_file) {
  const config::LoadedConfig loaded = config::LoadCluster(cluster_file);
  EXPECT_TRUE(loaded.ok()) << Errors(loaded);
  return loaded.config;
}

}  // namespace cmcl::io::testing
