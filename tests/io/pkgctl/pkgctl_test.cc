// pkgctl as operators run it: the built binary, its exit statuses and output
// (INTERFACE.md "pkgctl"), its usage errors, and its Serviceguard/HPVM aliases.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace cmcl::pkgctl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Outcome {
  int exit_status = -1;
  std::string out;
  std::string err;
};

class PkgctlTest : public ::testing::Test {
 protected:
  // Runs `environment pkgctl arguments` through the shell.
  Outcome Run(const std::string& arguments, const std::string& environment = "") {
    const std::string command = "cd " + dir_.path() + " && env -u CMCL_CONFIG " + environment +
                                " " PKGCTL_BINARY " " + arguments + " >out.txt 2>err.txt";
    const int status = std::system(command.c_str());
    Outcome outcome;
    outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.out = Slurp("out.txt");
    outcome.err = Slurp("err.txt");
    return outcome;
  }
  std::string Slurp(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  void CopyDemo() {
    for (const char* folder : {"config", "packages"}) {
      std::filesystem::copy(std::filesystem::path(CMCL_SOURCE_DIR) / folder, dir_ / folder,
                            std::filesystem::copy_options::recursive);
    }
    dir_.Write("config/demo/cluster.key", std::string(32, 'x'), 0600);
    dir_.Write("config/hpvm/cluster.key", std::string(32, 'x'), 0600);
  }

  testing::TempDir dir_;
};

TEST_F(PkgctlTest, ConfigCheckOfTheDemoExitsZeroWithASummary) {
  CopyDemo();

  const Outcome outcome = Run("config check config/demo/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, StartsWith("config/demo/cluster.yaml: cluster demo is valid (3 "
                                      "nodes, 3 packages"));
  EXPECT_THAT(outcome.out, HasSubstr("node1           member      127.0.0.1:7101"));
}

TEST_F(PkgctlTest, ConfigCheckOfABrokenFileExitsTwoWithEveryError) {
  dir_.Write("cluster.yaml", "cluster_name: c1\nhearbeat_interval: 1s\nsecurity: {}\n");

  const Outcome outcome = Run("config check cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.err,
            "cluster.yaml:1:1: missing required key \"nodes\"\n"
            "cluster.yaml:2:1: unknown key \"hearbeat_interval\"; did you mean "
            "\"heartbeat_interval\"?\n"
            "cluster.yaml:3:11: missing required key \"key_file\"\n"
            "pkgctl: cluster.yaml: 3 errors; the configuration is not valid\n");
}

TEST_F(PkgctlTest, ErrorsNameFilesRelativeToWhereTheUserStands) {
  dir_.Write("etc/cluster.yaml",
             "cluster_name: c1\nsecurity: {key_file: k}\nallow_two_node_without_arbitrator: "
             "true\nnodes: [{name: a, addresses: [127.0.0.1:7101]}]\npackages: [../pkg]\n");
  dir_.Write("etc/k", std::string(32, 'k'), 0600);
  dir_.Write("pkg/package.yaml",
             "name: p\nnodes: [a]\nrun_script: run.sh\nhalt_script: "
             "halt.sh\ndriver: process\nguest: {vcpu: 2}\n");
  dir_.Write("pkg/run.sh", "#!/bin/sh\n", 0755);
  dir_.Write("pkg/halt.sh", "#!/bin/sh\n", 0755);

  const Outcome outcome = Run("config check etc/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_THAT(outcome.err, HasSubstr("\npkg/package.yaml:6:9: unknown key \"vcpu\"; did you "
                                     "mean \"vcpus\"?\n"));
}

TEST_F(PkgctlTest, ConfigCheckWithJsonOutputPrintsTheErrorObject) {
  dir_.Write("cluster.yaml", "cluster_name: c1\nsecurity: {key_file: k}\n");
  dir_.Write("k", std::string(32, 'k'), 0600);

  const Outcome outcome = Run("-o json config check cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.out,
            "{\"error\":{\"code\":\"invalid_config\",\"message\":\"cluster.yaml: 1 error; the "
            "configuration is not valid\",\"diagnostics\":[{\"file\":\"cluster.yaml\","
            "\"line\":1,\"column\":1,\"severity\":\"error\",\"message\":\"missing required key "
            "\\\"nodes\\\"\"}],\"warnings\":[]}}\n");
}

TEST_F(PkgctlTest, ConfigCheckWithJsonOutputSummarizesAValidCluster) {
  CopyDemo();

  const Outcome outcome = Run("config check --output=json config/demo/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 0);
  EXPECT_THAT(outcome.out, StartsWith("{\"file\":\"config/demo/cluster.yaml\",\"cluster\":"
                                      "\"demo\",\"nodes\":[{\"name\":\"node1\",\"role\":"
                                      "\"member\",\"addresses\":[\"127.0.0.1:7101\"]}"));
}

TEST_F(PkgctlTest, ClusterYamlDefaultsToCmclConfig) {
  CopyDemo();

  const Outcome outcome = Run("config check", "CMCL_CONFIG=config/demo/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, StartsWith("config/demo/cluster.yaml: cluster demo is valid"));
}

TEST_F(PkgctlTest, HelpReadsLikeAManualPage) {
  const Outcome main_help = Run("--help");
  const Outcome config_help = Run("config --help");

  EXPECT_EQ(main_help.exit_status, 0);
  EXPECT_EQ(config_help.exit_status, 0);
  for (const char* section : {"NAME\n", "SYNOPSIS\n", "DESCRIPTION\n", "COMMANDS\n", "OPTIONS\n",
                              "EXIT STATUS\n", "ENVIRONMENT\n", "EXAMPLES\n"}) {
    EXPECT_THAT(main_help.out, HasSubstr(section));
    EXPECT_THAT(config_help.out, HasSubstr(section));
  }
}

TEST_F(PkgctlTest, UnknownCommandIsAUsageErrorWithASuggestion) {
  const Outcome outcome = Run("confg check");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.err,
            "pkgctl: unknown command \"confg\"; did you mean \"config\"? (see pkgctl --help)\n");
}

TEST_F(PkgctlTest, GuestNeedsASubcommand) {
  const Outcome outcome = Run("guest frob");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.err, "pkgctl: guest: unknown subcommand \"frob\" (see pkgctl guest --help)\n");
}

TEST_F(PkgctlTest, DisarmArmAndExplainCheckTheirArgumentsBeforeCallingTheDaemon) {
  const std::string socket = "--socket " + dir_.path() + "/none.sock ";

  const Outcome no_for = Run(socket + "cluster disarm");
  const Outcome bad_for = Run(socket + "cluster disarm --for soon");
  const Outcome arm_extra = Run(socket + "cluster arm --for 1h");
  const Outcome no_package = Run(socket + "explain");
  const Outcome two = Run(socket + "explain p1 p2");
  const Outcome disarm = Run(socket + "cluster disarm --for=30m");
  const Outcome explain = Run(socket + "explain p1");
  const Outcome help = Run("explain --help");
  const Outcome cluster_help = Run("cluster --help");

  EXPECT_EQ(no_for.exit_status, 2);
  EXPECT_THAT(no_for.err, HasSubstr("cluster disarm: --for DURATION is required"));
  EXPECT_EQ(bad_for.exit_status, 2);
  EXPECT_THAT(bad_for.err, HasSubstr("--for: \"soon\" is not a positive duration"));
  EXPECT_EQ(arm_extra.exit_status, 2);
  EXPECT_THAT(arm_extra.err, HasSubstr("cluster arm: unexpected --for"));
  EXPECT_EQ(no_package.exit_status, 2);
  EXPECT_THAT(no_package.err, HasSubstr("explain: missing PKG"));
  EXPECT_EQ(two.exit_status, 2);
  EXPECT_EQ(disarm.exit_status, 3);  // Well formed: it went for the daemon.
  EXPECT_EQ(explain.exit_status, 3);
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_THAT(help.out,
              HasSubstr("SYNOPSIS\n    pkgctl [--socket PATH] [-o table|json] explain PKG"));
  EXPECT_THAT(cluster_help.out, HasSubstr("cluster disarm --for DURATION"));
}

TEST_F(PkgctlTest, AdminCommandsCheckTheirArgumentsBeforeCallingTheDaemon) {
  const std::string socket = "--socket " + dir_.path() + "/none.sock ";

  const Outcome node = Run(socket + "node hlt n1");
  const Outcome cluster = Run(socket + "cluster halt --now");
  const Outcome enable = Run(socket + "enable");
  const Outcome reachable = Run(socket + "enable p1 -n n2");

  EXPECT_EQ(node.exit_status, 2);
  EXPECT_EQ(node.err, "pkgctl: node: unknown subcommand \"hlt\"; did you mean \"halt\"?\n");
  EXPECT_EQ(cluster.exit_status, 2);
  EXPECT_THAT(cluster.err, HasSubstr("cluster halt: unexpected --now"));
  EXPECT_EQ(enable.exit_status, 2);
  EXPECT_THAT(enable.err, HasSubstr("enable: missing PKG"));
  EXPECT_EQ(reachable.exit_status, 3);  // Well formed: it went for the daemon.
}

// The Serviceguard/HPVM names: a symlink to pkgctl in a folder of the test.
class AliasTest : public PkgctlTest {
 protected:
  Outcome Alias(const std::string& name, const std::string& arguments) {
    const std::filesystem::path link = dir_ / name;
    if (!std::filesystem::exists(link)) std::filesystem::create_symlink(PKGCTL_BINARY, link);
    const std::string command = "cd " + dir_.path() + " && env -u CMCL_CONFIG CMCL_SOCKET=" +
                                dir_.path() + "/none.sock " + link.string() + " " + arguments +
                                " >out.txt 2>err.txt";
    const int status = std::system(command.c_str());
    Outcome outcome;
    outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.out = Slurp("out.txt");
    outcome.err = Slurp("err.txt");
    return outcome;
  }
};

TEST_F(AliasTest, UnknownFlagsAreUsageErrorsThatPrintTheAliasUsage) {
  const Outcome cmviewcl = Alias("cmviewcl", "-x");
  const Outcome hpvmmigrate = Alias("hpvmmigrate", "-P guest1");
  const Outcome cmmodpkg = Alias("cmmodpkg", "p1");
  const Outcome cmrunpkg = Alias("cmrunpkg", "p1 p2");
  const Outcome format = Alias("cmviewcl", "-f xml");

  EXPECT_EQ(cmviewcl.exit_status, 2);
  EXPECT_EQ(cmviewcl.err,
            "cmviewcl: unknown option -x\nusage: cmviewcl [-v] [-f table|line] [-p PKG | -n "
            "NODE]\n");
  EXPECT_EQ(hpvmmigrate.exit_status, 2);
  EXPECT_THAT(hpvmmigrate.err, HasSubstr("needs -P GUEST and -h HOST"));
  EXPECT_EQ(cmmodpkg.exit_status, 2);
  EXPECT_THAT(cmmodpkg.err, HasSubstr("needs one of -e or -d"));
  EXPECT_EQ(cmrunpkg.exit_status, 2);
  EXPECT_THAT(cmrunpkg.err, HasSubstr("usage: cmrunpkg [-n NODE] PKG"));
  EXPECT_EQ(format.exit_status, 2);
}

TEST_F(AliasTest, HelpPrintsTheUsageAndExitsZero) {
  const Outcome cmhaltcl = Alias("cmhaltcl", "-h");
  const Outcome hpvmstatus = Alias("hpvmstatus", "--help");

  EXPECT_EQ(cmhaltcl.exit_status, 0);
  EXPECT_EQ(cmhaltcl.out, "usage: cmhaltcl [-f]\n");
  EXPECT_EQ(hpvmstatus.exit_status, 0);
  EXPECT_EQ(hpvmstatus.out, "usage: hpvmstatus [-P GUEST]\n");
}

TEST_F(AliasTest, WellFormedAliasesGoToTheDaemonAtCmclSocket) {
  const Outcome cmviewcl = Alias("cmviewcl", "-v -p p1");
  const Outcome cmhaltnode = Alias("cmhaltnode", "");

  EXPECT_EQ(cmviewcl.exit_status, 3);
  EXPECT_THAT(cmviewcl.err, HasSubstr("cannot reach cmcld at " + dir_.path() + "/none.sock"));
  EXPECT_EQ(cmhaltnode.exit_status, 3);
}

TEST_F(AliasTest, CmcheckconfChecksTheFileOfDashCAndCmapplyconfAppliesIt) {
  CopyDemo();

  const Outcome check = Alias("cmcheckconf", "-C config/demo/cluster.yaml");
  const Outcome apply = Alias("cmapplyconf", "-C config/demo/cluster.yaml");

  EXPECT_EQ(check.exit_status, 0) << check.err;
  EXPECT_EQ(apply.exit_status, 3) << "a valid file: it went for the daemon";
  EXPECT_THAT(apply.err, HasSubstr("cannot reach cmcld at " + dir_.path() + "/none.sock"));
}

TEST_F(AliasTest, CmapplyconfOfABrokenFileIsAConfigurationError) {
  dir_.Write("broken.yaml", "cluster_name: x\nnodes: []\n");

  const Outcome apply = Alias("cmapplyconf", "-C broken.yaml");

  EXPECT_EQ(apply.exit_status, 2);
  EXPECT_THAT(apply.err, HasSubstr("broken.yaml"));
}

TEST_F(PkgctlTest, ConfigApplyChecksTheFilesBeforeCallingTheDaemon) {
  CopyDemo();
  const std::string socket = "--socket " + dir_.path() + "/none.sock ";

  const Outcome broken = Run(socket + "config apply config/none.yaml");
  const Outcome two = Run(socket + "config apply a.yaml b.yaml");
  const Outcome option = Run(socket + "config apply --now config/demo/cluster.yaml");
  const Outcome timeout = Run(socket + "config apply --timeout soon config/demo/cluster.yaml");
  const Outcome valid = Run(socket + "config apply config/demo/cluster.yaml --timeout 5s");

  EXPECT_EQ(broken.exit_status, 2);
  EXPECT_THAT(broken.err, HasSubstr("config/none.yaml"));
  EXPECT_EQ(two.exit_status, 2);
  EXPECT_THAT(two.err, HasSubstr("expected at most one CLUSTER_YAML, got 2"));
  EXPECT_EQ(option.exit_status, 2);
  EXPECT_THAT(option.err, HasSubstr("config apply: unknown option --now"));
  EXPECT_EQ(timeout.exit_status, 2);
  EXPECT_THAT(timeout.err, HasSubstr("is not a duration"));
  EXPECT_EQ(valid.exit_status, 3) << valid.err;  // Built the bundle, went for the daemon.
}

TEST_F(PkgctlTest, ConfigApplyOfABrokenFileWithJsonPrintsTheDiagnostics) {
  dir_.Write("broken.yaml", "cluster_name: x\nnodes: []\n");

  const Outcome outcome = Run("-o json config apply broken.yaml");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_THAT(outcome.out, HasSubstr("\"code\":\"invalid_config\""));
  EXPECT_THAT(outcome.out, HasSubstr("\"diagnostics\""));
}

TEST_F(PkgctlTest, ConfigApplyHelpIsAManualPage) {
  const Outcome outcome = Run("config apply --help");

  EXPECT_EQ(outcome.exit_status, 0);
  EXPECT_THAT(outcome.out, StartsWith("NAME\n    pkgctl config apply - "));
  EXPECT_THAT(outcome.out, HasSubstr("EXIT STATUS"));
  EXPECT_THAT(outcome.out, HasSubstr("cmapplyconf [-C CLUSTER_YAML]"));
}

TEST_F(PkgctlTest, DaemonCommandsWithoutADaemonExitThreeNamingTheSocket) {
  const Outcome outcome = Run("--socket " + dir_.path() + "/none.sock view");

  EXPECT_EQ(outcome.exit_status, 3);
  EXPECT_EQ(outcome.err, "pkgctl: cannot reach cmcld at " + dir_.path() +
                             "/none.sock: No such file or directory\n");
}

TEST_F(PkgctlTest, CheckOfflineRefusesTheHpvmGuestForItsSharedDvd) {
  CopyDemo();

  const Outcome outcome = Run("check hpvm1 -n ivmcl02 --offline config/hpvm/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_EQ(outcome.out,
            "check hpvm1 (offline; source ivmcl01)\n"
            "  ivmcl02: shared_device: Device /dev/rdsk/c1t4d0 is shared. Guest with shared "
            "storage devices cannot be migrated.\n"
            "hpvm1: 1 of 1 node(s) refused\n");
}

TEST_F(PkgctlTest, CheckOfflinePassesWhereStorageAndNetworksMatch) {
  CopyDemo();

  const Outcome outcome = Run("check guest1 --offline config/demo/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "check guest1 (offline; source node1)\n  node2: ok\n  node3: ok\n"
            "guest1 may run on every node checked\n");
}

TEST_F(PkgctlTest, CheckOfflineOfAOneNodePackageSaysNoNodeWasChecked) {
  dir_.Write("cluster.yaml",
             "cluster_name: c\nsecurity: {key_file: cluster.key}\n"
             "nodes:\n  - {name: n1, addresses: [127.0.0.1:7101]}\npackages: [p]\n");
  dir_.Write("cluster.key", std::string(32, 'x'), 0600);
  dir_.Write("p/package.yaml",
             "name: p\nnodes: [n1]\nrun_script: run.sh\nhalt_script: halt.sh\n"
             "driver: process\nguest: {storage: [{path: /dev/nowhere}]}\n");
  dir_.Write("p/run.sh", "#!/bin/sh\n", 0755);
  dir_.Write("p/halt.sh", "#!/bin/sh\n", 0755);

  const Outcome outcome = Run("check p --offline cluster.yaml");

  EXPECT_EQ(outcome.out,
            "check p (offline; source n1)\n"
            "p: no node checked; its node list holds only its source n1 (check it with -n n1)\n");
}

TEST_F(PkgctlTest, CheckOfflineJsonListsAWwidMismatch) {
  CopyDemo();

  const Outcome outcome =
      Run("-o json check guest3 -n node3 --offline", "CMCL_CONFIG=config/demo/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_EQ(outcome.out,
            "{\"package\":\"guest3\",\"source\":\"node1\",\"results\":[{\"node\":"
            "\"node3\",\"ok\":false,\"violations\":[{\"code\":\"wwid_mismatch\","
            "\"message\":\"device /tmp/cmcl-demo/disks/guest3.img: WWID "
            "0x60014051000000000000000000000003 on node1 but "
            "0x60014051000000000000000000000333 on node3 (hpvmmigrate: Device WWID does not "
            "match)\"}],\"unchecked\":[]}]}\n");
}

TEST_F(PkgctlTest, CheckOfAnUnknownPackageIsRefusedWithASuggestion) {
  CopyDemo();

  const Outcome outcome = Run("check gust1 --offline config/demo/cluster.yaml");

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_EQ(outcome.err, "pkgctl: gust1 is not a configured package name (did you mean guest1?)\n");
}

TEST_F(PkgctlTest, CheckWithoutOfflineAsksTheDaemon) {
  const Outcome outcome = Run("-o json check guest1 -n node2", "CMCL_SOCKET=" + dir_.path() +
                                                                   "/none.sock");

  EXPECT_EQ(outcome.exit_status, 3);
  EXPECT_THAT(outcome.out, HasSubstr(R"({"error":{"code":"unreachable","message":"cannot reach )"
                                     R"(cmcld at )"));
}

TEST_F(PkgctlTest, BadOutputFormatIsAUsageError) {
  const Outcome outcome = Run("-o yaml config check");

  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.err, "pkgctl: --output: \"yaml\" is not table or json\n");
}

// Issue 10: maintenance's arguments are checked before the daemon is called.
TEST_F(PkgctlTest, MaintenanceCommandsCheckTheirArgumentsBeforeCallingTheDaemon) {
  const std::string socket = "--socket " + dir_.path() + "/none.sock ";

  const Outcome missing = Run(socket + "node maintenance n1");
  const Outcome typo = Run(socket + "package maintenance p1 onn");
  const Outcome subcommand = Run(socket + "package maintenence p1 on");
  const Outcome freeze_off = Run(socket + "node maintenance n1 off --freeze");
  const Outcome package_freeze = Run(socket + "package maintenance p1 on --freeze");
  const Outcome reachable = Run(socket + "node maintenance n1 on --freeze --no-wait");

  EXPECT_EQ(missing.exit_status, 2);
  EXPECT_EQ(missing.err, "pkgctl: node maintenance: expected NODE on|off\n");
  EXPECT_EQ(typo.exit_status, 2);
  EXPECT_THAT(typo.err, HasSubstr("not \"onn\"; did you mean \"on\"?"));
  EXPECT_EQ(subcommand.exit_status, 2);
  EXPECT_THAT(subcommand.err, HasSubstr("did you mean \"maintenance\"?"));
  EXPECT_EQ(freeze_off.exit_status, 2);
  EXPECT_THAT(freeze_off.err, HasSubstr("--freeze goes with on"));
  EXPECT_EQ(package_freeze.exit_status, 2);
  EXPECT_THAT(package_freeze.err, HasSubstr("unknown option --freeze"));
  EXPECT_EQ(reachable.exit_status, 3);  // Well formed: it went for the daemon.
}

TEST_F(AliasTest, CmmodpkgDashMIsPackageMaintenance) {
  const Outcome on = Alias("cmmodpkg", "-m on p1");
  const Outcome both = Alias("cmmodpkg", "-m on -e p1");
  const Outcome bad = Alias("cmmodpkg", "-m maybe p1");

  EXPECT_EQ(on.exit_status, 3);  // Went for the daemon.
  EXPECT_EQ(both.exit_status, 2);
  EXPECT_THAT(both.err, HasSubstr("-m goes without -e, -d and -n"));
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_THAT(bad.err, HasSubstr("expected on or off"));
}

}  // namespace
}  // namespace cmcl::pkgctl
