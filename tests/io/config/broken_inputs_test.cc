// The specification of what `pkgctl config check` says about broken configuration:
// one row per broken input, with the exact FILE:LINE:COLUMN: message lines expected
// (errors only; warnings have their own tests in load_test.cc).
//
// Every row is written to a fresh folder: cluster.yaml, a 32-byte mode-0600
// cluster.key, and when the row has a package, pkg/package.yaml with executable
// pkg/run.sh and pkg/halt.sh. A row's `setup` then breaks what it needs to.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cmcld/io/config/load.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io::config {
namespace {

using ::testing::ElementsAreArray;

struct BrokenInput {
  std::string name;
  std::string cluster;
  std::string package;  // pkg/package.yaml; empty: no package folder.
  std::vector<std::string> expected;
  std::function<void(testing::TempDir&)> setup = nullptr;
};

// The three members every row starts from (lines 3-6 when written after two lines).
const char* const kNodes =
    "nodes:\n"
    "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
    "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
    "  - {name: n3, addresses: [127.0.0.3:7101]}\n";

std::string Base(const std::string& first_lines) { return first_lines + kNodes; }
const std::string kCluster = Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\n");
const std::string kClusterWithPackage = kCluster + "packages: [pkg]\n";
const std::string kPackage =
    "name: p1\n"
    "nodes: [n1, n2]\n"
    "run_script: run.sh\n"
    "halt_script: halt.sh\n";

std::vector<BrokenInput> Syntax() {
  return {
      {"YamlSyntaxError",
       "cluster_name: c1\nnodes: [n1, n2\nsecurity: {}\n",
       "",
       {"cluster.yaml:3:9: YAML syntax error: end of sequence flow not found"}},
      {"IndentedWithATab",
       "cluster_name: c1\nsecurity:\n\tkey_file: cluster.key\n",
       "",
       {"cluster.yaml:3:10: YAML syntax error: illegal map value (line 3 is indented with a "
        "tab; YAML indents with spaces only)"}},
      {"NestedThousandsOfLevelsDeep",
       "cluster_name: " + std::string(3000, '[') + std::string(3000, ']') + "\n",
       "",
       {"cluster.yaml:1:6015: YAML nested too deeply to read; expected a configuration file "
        "a few levels deep"}},
      {"EmptyFile",
       "# nothing but a comment\n\n",
       "",
       {"cluster.yaml: the file is empty; expected a YAML mapping of keys"}},
      {"BinaryFile",
       std::string("cluster_name: c1\n\x7f"
                   "ELF\x01\x02",
                   22),
       "",
       {"cluster.yaml: the file is binary (byte 17 is a control character); expected YAML "
        "text"}},
      {"NotUtf8",
       Base("cluster_name: c\xff"
            "1\nsecurity: {key_file: cluster.key}\n"),
       "",
       {"cluster.yaml: the file is not UTF-8 (byte 15 starts no UTF-8 character); expected "
        "YAML text in UTF-8"}},
      {"Utf8CutShortAtTheEnd",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\n") + "# \xc3",
       "",
       {"cluster.yaml: the file is not UTF-8 (byte 192 starts no UTF-8 character); expected "
        "YAML text in UTF-8"}},
      // yaml-cpp 0.7's YAML::LoadAll never returns on this (found by the config fuzzer).
      {"ALoneCommaAtTheTop",
       ",\n",
       "",
       {"cluster.yaml:1:1: YAML syntax error: unexpected \",\" (a ',' separates the items of "
        "a [list] or a {mapping})"}},
      {"SecondDocumentAfterDashes",
       kCluster + "---\ncluster_name: c2\n",
       "",
       {"cluster.yaml:8:1: the file holds 2 YAML documents; expected one (remove the second "
        "---)"}},
      {"RootIsAList",
       "- cluster_name: c1\n",
       "",
       {"cluster.yaml:1:1: the cluster file: expected a mapping of keys, got a list"}},
      {"KeyGivenTwice",
       "cluster_name: c1\ncluster_name: c2\nsecurity: {key_file: cluster.key}\n" +
           std::string(kNodes),
       "",
       {"cluster.yaml:2:1: key \"cluster_name\" is given twice (first at line 1); expected "
        "each key once"}},
      {"PackageFileIsAList",
       kClusterWithPackage,
       "- name: p1\n",
       {"pkg/package.yaml:1:1: the package file: expected a mapping of keys, got a list"}},
      {"NodeIsAScalar",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes: [n1, n2, n3]\n",
       "",
       {"cluster.yaml:3:9: node: expected a mapping of keys, got \"n1\"",
        "cluster.yaml:3:13: node: expected a mapping of keys, got \"n2\"",
        "cluster.yaml:3:17: node: expected a mapping of keys, got \"n3\""}},
      {"PackageWithoutNodes",
       kClusterWithPackage,
       "name: p1\nrun_script: run.sh\nhalt_script: halt.sh\n",
       {"pkg/package.yaml:1:1: missing required key \"nodes\""}},
      {"PackageWithEmptyNodeList",
       kClusterWithPackage,
       "name: p1\nnodes: []\nrun_script: run.sh\nhalt_script: halt.sh\n",
       {"pkg/package.yaml:2:8: nodes: no nodes; expected node names in preference order, or "
        "[\"*\"] for every member"}},
      {"EmptyPackageFile",
       kClusterWithPackage,
       "\n",
       {"pkg/package.yaml: the file is empty; expected a YAML mapping of keys"}},
  };
}

std::vector<BrokenInput> Keys() {
  return {
      {"UnknownKeyWithSuggestion",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\nhearbeat_interval: 200ms\n"),
       "",
       {"cluster.yaml:3:1: unknown key \"hearbeat_interval\"; did you mean "
        "\"heartbeat_interval\"?"}},
      {"UnknownNodeKeyListsTheKnownOnes",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101], colour: red}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:4:45: unknown key \"colour\"; expected one of: name, addresses, role, "
        "capacity, inventory, inventory_file, state_dir, metrics_address"}},
      {"UnknownPackageKey",
       kClusterWithPackage,
       kPackage + "auto_rnu: true\n",
       {"pkg/package.yaml:5:1: unknown key \"auto_rnu\"; did you mean \"auto_run\"?"}},
      {"MissingClusterName",
       "security: {key_file: cluster.key}\n" + std::string(kNodes),
       "",
       {"cluster.yaml:1:1: missing required key \"cluster_name\""}},
      {"MissingNodes",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\n",
       "",
       {"cluster.yaml:1:1: missing required key \"nodes\""}},
      {"MissingKeyFile",
       Base("cluster_name: c1\nsecurity: {}\n"),
       "",
       {"cluster.yaml:2:11: missing required key \"key_file\""}},
      {"NodeWithoutAddresses",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - name: n3\n",
       "",
       {"cluster.yaml:6:5: missing required key \"addresses\""}},
      {"PackageWithoutScripts",
       kClusterWithPackage,
       "name: p1\nnodes: [n1]\n",
       {"pkg/package.yaml:1:1: missing required key \"halt_script\"",
        "pkg/package.yaml:1:1: missing required key \"run_script\""}},
      {"AddressesEmpty",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: []}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:4:27: addresses: empty; expected at least one IP:PORT, e.g. "
        "[127.0.0.1:7101]"}},
      {"ClusterNameEmpty",
       Base("cluster_name: \"\"\nsecurity: {key_file: cluster.key}\n"),
       "",
       {"cluster.yaml:1:15: cluster_name: empty; expected a name"}},
      {"AccessRuleWithUserAndGroup",
       kCluster + "access:\n  - {user: root, group: wheel, role: full_admin}\n",
       "",
       {"cluster.yaml:8:5: access rule: expected exactly one of user and group"}},
      {"NodesEmpty",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes: []\n",
       "",
       {"cluster.yaml:3:8: nodes: empty; expected at least one node"}},
      {"NodesWithoutValue",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n",
       "",
       {"cluster.yaml:3:1: nodes: empty; expected at least one node"}},
      {"AddressesWithoutValue",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - name: n1\n"
       "    addresses:\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:5:5: addresses: empty; expected at least one IP:PORT, e.g. "
        "[127.0.0.1:7101]"}},
  };
}

std::vector<BrokenInput> Types() {
  return {
      {"NodesIsAScalar",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes: n1\n",
       "",
       {"cluster.yaml:3:8: nodes: expected a list, got \"n1\""}},
      {"ClusterNameIsAList",
       Base("cluster_name: [a, b]\nsecurity: {key_file: cluster.key}\n"),
       "",
       {"cluster.yaml:1:15: cluster_name: expected a name, got a list"}},
      {"BooleanMisspelled",
       kClusterWithPackage,
       kPackage + "auto_run: maybe\n",
       {"pkg/package.yaml:5:11: auto_run: \"maybe\" is not a boolean; expected true or false"}},
      {"CountIsAWord",
       kClusterWithPackage,
       kPackage + "guest: {vcpus: two}\n",
       {"pkg/package.yaml:5:16: vcpus: \"two\" is not a whole number; expected 0 or more, "
        "e.g. 3"}},
      {"CountIsNegative",
       kClusterWithPackage,
       kPackage + "max_restarts: -1\n",
       {"pkg/package.yaml:5:15: max_restarts: \"-1\" is not a whole number; expected 0 or "
        "more, e.g. 3"}},
      {"CountTooLarge",
       kClusterWithPackage,
       kPackage + "max_restarts: 4294967296\n",
       {"pkg/package.yaml:5:15: max_restarts: \"4294967296\" is too large; expected at most "
        "4294967295"}},
      {"GuestIsAScalar",
       kClusterWithPackage,
       kPackage + "guest: big\n",
       {"pkg/package.yaml:5:8: guest: expected a mapping of keys, got \"big\""}},
      {"EnumValueUnknown",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\n"
            "fence_action: shoot\n"),
       "",
       {"cluster.yaml:3:15: fence_action: \"shoot\" is not one of kill, reboot"}},
      {"EnumValueMisspelled",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101], role: arbitrater}\n",
       "",
       {"cluster.yaml:6:51: role: \"arbitrater\" is not one of member, arbitrator; did you mean "
        "\"arbitrator\"?"}},
  };
}

std::vector<BrokenInput> Values() {
  return {
      {"DurationWithoutUnit",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\nheartbeat_interval: 200\n"),
       "",
       {"cluster.yaml:3:21: heartbeat_interval: \"200\" is not a duration; expected a number "
        "with a unit, e.g. 200ms or 2s"}},
      {"DurationInWords",
       kClusterWithPackage,
       kPackage + "run_timeout: 5 minutes\n",
       {"pkg/package.yaml:5:14: run_timeout: \"5 minutes\" is not a duration; expected a "
        "number with a unit, e.g. 200ms or 2s"}},
      {"SizeWithoutBinaryUnit",
       kClusterWithPackage,
       kPackage + "guest:\n  memory: 3G\n",
       {"pkg/package.yaml:6:11: memory: \"3G\" is not a size; expected a number with a unit, "
        "e.g. 512MiB or 3GiB"}},
      {"AddressWithoutPort",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:4:28: addresses: \"127.0.0.1\" is not an address; expected IP:PORT, "
        "e.g. 127.0.0.1:7101 or [::1]:7101"}},
      {"MetricsAddressIsAHostName",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\n"
            "metrics_address: localhost:9650\n"),
       "",
       {"cluster.yaml:3:18: metrics_address: \"localhost:9650\" is not an address; expected "
        "IP:PORT, e.g. 127.0.0.1:7101 or [::1]:7101"}},
      {"WwidTooShortInInventory",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - name: n1\n"
       "    addresses: [127.0.0.1:7101]\n"
       "    inventory:\n"
       "      disks: [{path: /dev/sdb, wwid: 0x6005}]\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:7:38: wwid: \"0x6005\" is not a WWID; expected 0x or naa. with 16 or 32 "
        "hex digits, eui. with 16 or 32, or t10. with text"}},
      {"WwidNotHexInPackage",
       kClusterWithPackage,
       kPackage + "guest:\n  storage:\n    - {path: /dev/sdb, wwid: 0xZZ00000000000000}\n",
       {"pkg/package.yaml:7:30: wwid: \"0xZZ00000000000000\" is not a WWID; expected 0x or "
        "naa. with 16 or 32 hex digits, eui. with 16 or 32, or t10. with text"}},
      {"PercentageWithoutSign",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\nclock_drift_max: 0.1\n"),
       "",
       {"cluster.yaml:3:18: clock_drift_max: \"0.1\" is not a percentage; expected 0% to 100% "
        "with at most 4 decimals, e.g. 0.1%"}},
  };
}

std::vector<BrokenInput> Names() {
  return {
      {"ClusterNameWithASpace",
       Base("cluster_name: my cluster\nsecurity: {key_file: "
            "cluster.key}\n"),
       "",
       {"cluster.yaml:1:15: cluster_name \"my cluster\" breaks the name rule; expected 1 to 39 "
        "letters, digits, '_', '.' or '-', starting with a letter or digit"}},
      {"NodeNameTooLong",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: a234567890123456789012345678901234567890, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:6:12: node name \"a234567890123456789012345678901234567890\" breaks the "
        "name rule; expected 1 to 39 letters, digits, '_', '.' or '-', starting with a letter "
        "or digit"}},
      {"PackageNameStartsWithADash",
       kClusterWithPackage,
       "name: \"-p1\"\nnodes: [n1]\nrun_script: run.sh\nhalt_script: halt.sh\n",
       {"pkg/package.yaml:1:7: package name \"-p1\" breaks the name rule; expected 1 to 39 "
        "letters, digits, '_', '.' or '-', starting with a letter or digit"}},
      {"DuplicateNodeName",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n1, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:6:12: node name \"n1\" is used twice (first at cluster.yaml:4); expected "
        "unique node names"}},
      {"DuplicateAddress",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.1:7101]}\n",
       "",
       {"cluster.yaml:6:28: address 127.0.0.1:7101 of node n3 is already used by n1; expected "
        "one address per heartbeat network and node"}},
      {"NodeMetricsAddressIsAHeartbeatAddress",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101], metrics_address: 127.0.0.2:7101}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:4:62: metrics_address 127.0.0.2:7101 of node n1 is also a node address; "
        "expected a port of its own"}},
      {"NodeMetricsAddressUsedTwice",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101], metrics_address: 127.0.0.1:9650}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101], metrics_address: 127.0.0.1:9650}\n"
       "  - {name: n3, addresses: [127.0.0.3:7101]}\n",
       "",
       {"cluster.yaml:5:62: metrics_address 127.0.0.1:9650 of node n2 is already the "
        "metrics_address of n1; expected a port of its own"}},
      {"DuplicatePackageName",
       kCluster + "packages: [pkg, pkg2]\n",
       kPackage,
       {"pkg2/package.yaml:1:7: package name \"p1\" is used twice (first in "
        "pkg/package.yaml); expected unique package names"},
       [](testing::TempDir& dir) {
         dir.Write("pkg2/package.yaml", kPackage);
         dir.Write("pkg2/run.sh", "#!/bin/sh\n", 0755);
         dir.Write("pkg2/halt.sh", "#!/bin/sh\n", 0755);
       }},
  };
}

std::vector<BrokenInput> References() {
  return {
      {"PackageNamesAnUnknownNode",
       kClusterWithPackage,
       "name: p1\nnodes: [n1, n4]\nrun_script: run.sh\nhalt_script: halt.sh\n",
       {"pkg/package.yaml:2:13: node \"n4\" is not a node of cluster c1; did you mean \"n1\"?"}},
      {"PackageNamesAnArbitrator",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
       "  - {name: q, addresses: [127.0.0.3:7101], role: arbitrator}\n"
       "packages: [pkg]\n",
       "name: p1\nnodes: [n1, q]\nrun_script: run.sh\nhalt_script: halt.sh\n",
       {"pkg/package.yaml:2:13: node \"q\" is an arbitrator; arbitrators vote but run no "
        "packages, expected a member"}},
      {"StarMixedWithNames",
       kClusterWithPackage,
       "name: p1\nnodes: [\"*\", n1]\nrun_script: run.sh\nhalt_script: halt.sh\n",
       {"pkg/package.yaml:2:8: nodes: \"*\" means every member and stands alone; expected "
        "[\"*\"] or a list of node names"}},
      {"DependsOnAnUnknownPackage",
       kClusterWithPackage,
       kPackage + "depends_on:\n  - {package: p2}\n",
       {"pkg/package.yaml:6:15: depends_on: package \"p2\" is not configured in cluster c1; "
        "did you mean \"p1\"?"}},
      {"DependencyCycle",
       kCluster + "packages: [pkg, pkg2]\n",
       kPackage + "depends_on: [{package: p2}]\n",
       {"pkg/package.yaml:5:14: dependency cycle: p1 -> p2 -> p1; expected packages that can "
        "start one after another"},
       [](testing::TempDir& dir) {
         dir.Write("pkg2/package.yaml",
                   "name: p2\nnodes: [n1]\nrun_script: run.sh\n"
                   "halt_script: halt.sh\ndepends_on: [{package: p1}]\n");
         dir.Write("pkg2/run.sh", "#!/bin/sh\n", 0755);
         dir.Write("pkg2/halt.sh", "#!/bin/sh\n", 0755);
       }},
      {"PackageFolderWithoutPackageYaml",
       kCluster + "packages: [pkg, empty]\n",
       kPackage,
       {"cluster.yaml:7:17: packages: folder empty has no package.yaml"},
       [](testing::TempDir& dir) { std::filesystem::create_directories(dir / "empty"); }},
      {"PackageFolderMissing",
       kCluster + "packages: [pkg, nowhere]\n",
       kPackage,
       {"cluster.yaml:7:17: packages: folder nowhere does not exist; expected a package "
        "folder holding package.yaml"}},
      {"PackageFolderListedTwiceUnderTwoSpellings",
       kCluster + "packages:\n  - pkg\n  - ./pkg/\n",
       kPackage,
       {"cluster.yaml:9:5: packages: folder ./pkg/ is listed twice (first at line 8)"}},
      {"PackageFolderIsAFile",
       kCluster + "packages: [pkg, cluster.key]\n",
       kPackage,
       {"cluster.yaml:7:17: packages: folder cluster.key is not a folder; expected a package "
        "folder holding package.yaml"}},
  };
}

// Storage two packages name; the WWID comparison ignores case.
std::vector<BrokenInput> SharedStorage() {
  return {
      {"StorageUsedByTwoPackagesWithoutShared",
       kCluster + "packages: [pkg, pkg2]\n",
       kPackage + "guest:\n  storage: [{path: /dev/sdb, shared: true}]\n",
       {"pkg2/package.yaml:6:13: storage /dev/sdb is also used by package p1 "
        "(pkg/package.yaml:6); expected shared: true in both packages if they may really use "
        "it together"},
       [](testing::TempDir& dir) {
         dir.Write("pkg2/package.yaml",
                   "name: p2\nnodes: [n1]\nrun_script: run.sh\n"
                   "halt_script: halt.sh\nguest:\n"
                   "  storage: [{path: /dev/sdb}]\n");
         dir.Write("pkg2/run.sh", "#!/bin/sh\n", 0755);
         dir.Write("pkg2/halt.sh", "#!/bin/sh\n", 0755);
       }},
      {"WwidUsedByTwoPackagesWithoutShared",
       kCluster + "packages: [pkg, pkg2]\n",
       kPackage + "guest:\n  storage: [{path: /dev/sdb, wwid: 0x600508b4000156d7}]\n",
       {"pkg2/package.yaml:6:13: WWID 0x600508b4000156d7 is also used by package p1 "
        "(pkg/package.yaml:6); expected shared: true in both packages if they may really use "
        "it together"},
       [](testing::TempDir& dir) {
         dir.Write("pkg2/package.yaml",
                   "name: p2\nnodes: [n1]\nrun_script: run.sh\n"
                   "halt_script: halt.sh\nguest:\n"
                   "  storage: [{path: /dev/sdc, wwid: "
                   "0x600508B4000156D7}]\n");
         dir.Write("pkg2/run.sh", "#!/bin/sh\n", 0755);
         dir.Write("pkg2/halt.sh", "#!/bin/sh\n", 0755);
       }},
  };
}

std::vector<BrokenInput> Rules() {
  return {
      {"HeartbeatTooSlowForNodeTimeout",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\nnode_timeout: 2s\n"
            "heartbeat_interval: 500ms\nfence_timeout: 100ms\n"),
       "",
       {"cluster.yaml:4:21: heartbeat_interval (500ms) exceeds node_timeout / 5 (400ms); "
        "expected at most a fifth of node_timeout, so one lost heartbeat never costs a lease"}},
      {"FenceTimeoutTooLong",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\nnode_timeout: 1s\n"
            "heartbeat_interval: 200ms\nfence_timeout: 300ms\n"),
       "",
       {"cluster.yaml:5:16: fence_timeout (300ms) + 3 × heartbeat_interval (600ms) + 300ms = "
        "1.2s exceeds node_timeout (1s); lower fence_timeout or heartbeat_interval, or raise "
        "node_timeout"}},
      {"WatchdogTooSlowForReboot",
       Base("cluster_name: c1\nsecurity: {key_file: cluster.key}\nnode_timeout: 1500ms\n"
            "heartbeat_interval: 200ms\nfence_timeout: 200ms\nfence_action: reboot\n"),
       "",
       {"cluster.yaml:6:15: fence_action reboot: watchdog_timeout (1s) + 2 × "
        "heartbeat_interval (400ms) + 300ms = 1.7s exceeds node_timeout (1.5s); lower "
        "watchdog_timeout or heartbeat_interval, or raise node_timeout"}},
      {"TwoMembersWithoutArbitrator",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
       "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
       "  - {name: n2, addresses: [127.0.0.2:7101]}\n",
       "",
       {"cluster.yaml:4:3: nodes: a cluster of two members needs a third vote; add a node with "
        "role arbitrator, or set allow_two_node_without_arbitrator: true (then losing either "
        "member stops the other)"}},
  };
}

void WriteScript(testing::TempDir& dir, const char* name, unsigned mode) {
  dir.Write(name, "#!/bin/sh\nexit 0\n", mode);
}

std::vector<BrokenInput> Files() {
  return {
      {"RunScriptMissing",
       kClusterWithPackage,
       kPackage,
       {"pkg/package.yaml:3:13: run_script: run.sh does not exist; expected an executable in "
        "the package folder"},
       [](testing::TempDir& dir) { std::filesystem::remove(dir / "pkg/run.sh"); }},
      {"HaltScriptNotExecutable",
       kClusterWithPackage,
       kPackage,
       {"pkg/package.yaml:4:14: halt_script: halt.sh is not executable; expected chmod +x "
        "halt.sh"},
       [](testing::TempDir& dir) { WriteScript(dir, "pkg/halt.sh", 0644); }},
      {"ServiceCommandMissing",
       kClusterWithPackage,
       kPackage + "services:\n  - {name: mon, command: ./monitor.sh --quiet}\n",
       {"pkg/package.yaml:6:26: command: ./monitor.sh does not exist; expected an "
        "executable in the package folder"}},
      {"ServiceWithEmptyNameAndBlankCommand",
       kClusterWithPackage,
       kPackage + "services:\n  - {name: '', command: '   '}\n",
       {"pkg/package.yaml:6:12: service name: empty; expected a name, e.g. guestmon",
        "pkg/package.yaml:6:25: command: empty; expected a command to run, e.g. ./monitor.sh"}},
      {"EmptyStringsWherePathsAndNamesBelong",
       kClusterWithPackage,
       "name: p1\nnodes: [n1]\nrun_script: ''\nhalt_script: ''\nguest:\n"
       "  storage: [{path: ''}]\n  networks: [{vswitch: '', nic: ''}]\n"
       "  devices: [{path: ''}]\n",
       {"pkg/package.yaml:3:13: run_script: empty; expected a script in the package folder",
        "pkg/package.yaml:4:14: halt_script: empty; expected a script in the package folder",
        "pkg/package.yaml:6:20: path: empty; expected a storage path",
        "pkg/package.yaml:7:24: vswitch: empty; expected a vswitch name",
        "pkg/package.yaml:7:33: nic: empty; expected a NIC name",
        "pkg/package.yaml:8:20: path: empty; expected a device path"}},
      {"EmptyStringsInTheClusterFile",
       "cluster_name: c1\nsecurity: {key_file: cluster.key}\nwatchdog_device: ''\nnodes:\n"
       "  - name: n1\n    addresses: [127.0.0.1:7101]\n"
       "    inventory: {disks: [{path: ''}], vswitches: [{name: lan, nic: ''}]}\n"
       "allow_two_node_without_arbitrator: true\n",
       "",
       {"cluster.yaml:3:18: watchdog_device: empty; expected a device path",
        "cluster.yaml:7:32: path: empty; expected a device path",
        "cluster.yaml:7:67: nic: empty; expected a NIC name"}},
      {"KeyFileMissing",
       kCluster,
       "",
       {"cluster.yaml:2:22: key_file: cluster.key does not exist; create it: head -c 32 "
        "/dev/urandom > cluster.key; chmod 600 cluster.key"},
       [](testing::TempDir& dir) { std::filesystem::remove(dir / "cluster.key"); }},
      {"KeyFileTooShort",
       kCluster,
       "",
       {"cluster.yaml:2:22: key_file: cluster.key holds 8 bytes; expected at least 32 random "
        "bytes: head -c 32 /dev/urandom > cluster.key; chmod 600 cluster.key"},
       [](testing::TempDir& dir) { dir.Write("cluster.key", "12345678", 0600); }},
      {"KeyFileReadableByOthers",
       kCluster,
       "",
       {"cluster.yaml:2:22: key_file: cluster.key is open to group or others (mode 0644); "
        "expected mode 0600: chmod 600 cluster.key"},
       [](testing::TempDir& dir) { ::chmod((dir / "cluster.key").c_str(), 0644); }},
  };
}

std::vector<BrokenInput> Inventories() {
  const std::string head =
      "cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n"
      "  - name: n1\n    addresses: [127.0.0.1:7101]\n";
  const std::string tail =
      "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
      "  - {name: n3, addresses: [127.0.0.3:7101]}\n";
  return {
      {"InventoryDiskWithoutPath",
       head + "    inventory:\n      disks: [{wwid: 0x600508b4000156d7}]\n" + tail,
       "",
       {"cluster.yaml:7:15: missing required key \"path\""}},
      {"InventoryVswitchListedTwice",
       head +
           "    inventory:\n      vswitches:\n        - {name: vlan2, nic: lan0}\n"
           "        - {name: vlan2, nic: lan1}\n" +
           tail,
       "",
       {"cluster.yaml:9:18: vswitch \"vlan2\" is listed twice (first at line 8)"}},
      {"InventoryProbeMisspelled",
       head + "    inventory: prob\n" + tail,
       "",
       {"cluster.yaml:6:16: inventory: \"prob\" is not an inventory; expected a mapping "
        "(disks, lvols, vswitches, shared_devices) or probe; did you mean \"probe\"?"}},
      {"InventoryAndInventoryFileBoth",
       head + "    inventory: probe\n    inventory_file: n1.yaml\n" + tail,
       "",
       {"cluster.yaml:7:21: inventory_file: give either inventory or inventory_file, not "
        "both"}},
      {"InventoryFileMissing",
       head + "    inventory_file: n1.yaml\n" + tail,
       "",
       {"cluster.yaml:6:21: inventory_file: n1.yaml does not exist; expected a YAML file "
        "shaped like an inline inventory"}},
      {"InventoryFileIsADevice",
       head + "    inventory_file: /dev/null\n" + tail,
       "",
       {"cluster.yaml:6:21: inventory_file: /dev/null is not a regular file; expected a YAML "
        "file shaped like an inline inventory"}},
      {"InventoryFileWithUnknownKey",
       head + "    inventory_file: inv/n1.yaml\n" + tail,
       "",
       {"inv/n1.yaml:2:1: unknown key \"disk\"; did you mean \"disks\"?"},
       [](testing::TempDir& dir) {
         dir.Write("inv/n1.yaml", "vswitches: [{name: vlan2, nic: lan0}]\ndisk: []\n");
       }},
      {"InventoryFileIsAList",
       head + "    inventory_file: n1.yaml\n" + tail,
       "",
       {"n1.yaml: inventory: expected a mapping of keys, got a list"},
       [](testing::TempDir& dir) { dir.Write("n1.yaml", "- /dev/sdb\n"); }},
  };
}

std::vector<BrokenInput> AllRows() {
  std::vector<BrokenInput> rows;
  for (auto group :
       {Syntax, Keys, Types, Values, Names, References, SharedStorage, Rules, Files, Inventories}) {
    for (BrokenInput& row : group()) rows.push_back(std::move(row));
  }
  return rows;
}

// Error lines as printed, with the test folder left out of every path.
std::vector<std::string> ErrorLines(const LoadedConfig& loaded, const std::string& folder) {
  std::vector<std::string> lines;
  for (const auto& diagnostic : loaded.diagnostics) {
    if (diagnostic.severity != cmcl::config::Severity::kError) continue;
    std::string line = cmcl::config::FormatDiagnostic(diagnostic);
    for (size_t at = line.find(folder); at != std::string::npos; at = line.find(folder)) {
      line.erase(at, folder.size());
    }
    lines.push_back(line);
  }
  return lines;
}

// gtest prints a failing row by its name rather than its bytes.
void PrintTo(const BrokenInput& row, std::ostream* out) { *out << row.name; }

class BrokenInputTest : public ::testing::TestWithParam<BrokenInput> {};

TEST_P(BrokenInputTest, ReportsExactlyTheExpectedErrors) {
  const BrokenInput& row = GetParam();
  testing::TempDir dir;
  dir.Write("cluster.yaml", row.cluster);
  dir.Write("cluster.key", std::string(32, 'k'), 0600);
  if (!row.package.empty()) {
    dir.Write("pkg/package.yaml", row.package);
    WriteScript(dir, "pkg/run.sh", 0755);
    WriteScript(dir, "pkg/halt.sh", 0755);
  }
  if (row.setup) row.setup(dir);

  const LoadedConfig loaded = LoadCluster(dir / "cluster.yaml");

  EXPECT_THAT(ErrorLines(loaded, dir.path() + "/"), ElementsAreArray(row.expected));
  EXPECT_FALSE(loaded.ok());
}

INSTANTIATE_TEST_SUITE_P(Config, BrokenInputTest, ::testing::ValuesIn(AllRows()),
                         [](const auto& row) { return row.param.name; });

TEST(BrokenInputs, CoverAtLeastFortyDistinctInputs) {
  std::set<std::string> names;
  for (const BrokenInput& row : AllRows()) names.insert(row.name);

  EXPECT_GE(names.size(), 40u);
  EXPECT_EQ(names.size(), AllRows().size()) << "row names must be unique";
}

}  // namespace
}  // namespace cmcl::io::config
