// The libvirt guest driver (packages/drivers/libvirt; its README section) against a fake
// virsh (tests/io/guest/fake_virsh: domains as files, knobs for a libvirtd that is down
// or hangs): the exit codes of each verb, the epoch in the domain's metadata, and the
// driver behind a GuestRunner. libvirt_real_test.cc runs it against a real libvirtd and
// real QEMU guests (the full tier).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "guest_test_support.h"

namespace cmcl::io::testing {
namespace {

using node::GuestStatus;
using node::GuestVerb;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kDriver = std::string(CMCL_SOURCE_DIR) + "/packages/drivers/libvirt";
const std::string kFakeVirsh = std::string(CMCL_SOURCE_DIR) + "/tests/io/guest/fake_virsh";
constexpr const char* kMetadataUri = "https://cmcl.invalid/guest/1";

std::string DomainXml(const std::string& name, const std::string& extra = "") {
  return "<domain type='qemu'>\n"
         "  <name>" +
         name +
         "</name>\n"
         "  <memory unit='KiB'>65536</memory>\n"
         "  <vcpu placement='static'>1</vcpu>\n" +
         extra +
         "  <os>\n"
         "    <type arch='x86_64' machine='pc'>hvm</type>\n"
         "  </os>\n"
         "</domain>\n";
}

struct DriverRun {
  int code = -1;
  std::string out;
  std::string err;
};

class LibvirtDriverTest : public GuestRunnerTest {
 protected:
  LibvirtDriverTest() {
    package_dir_ = dir_ + "/packages/vm1";
    virsh_dir_ = dir_ + "/virsh";
    WriteFile(package_dir_ + "/domain.xml", DomainXml("vm1"));
    WriteFile(virsh_dir_ + "/calls", "");
  }

  // Runs the driver as a halt or run script would: in the package folder, with the
  // CMCL_* environment and the fake virsh.
  DriverRun Run(const std::string& args, uint64_t epoch = 12, const std::string& env = "") {
    const std::string out = dir_ + "/driver.out";
    const std::string err = dir_ + "/driver.err";
    const std::string command =
        "cd '" + package_dir_ + "' && env -i PATH=\"$PATH\"" +
        " CMCL_PACKAGE=vm1 CMCL_NODE=n1 CMCL_EPOCH=" + std::to_string(epoch) + " CMCL_STATE_DIR='" +
        state_dir_ + "' CMCL_VIRSH='" + kFakeVirsh + "' FAKE_VIRSH_DIR='" + virsh_dir_ +
        "' CMCL_LIBVIRT_STOP_WAIT=1 " + env + " '" + kDriver + "' " + args + " >'" + out + "' 2>'" +
        err + "'";
    const int status = std::system(command.c_str());
    DriverRun run;
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out);
    run.err = ReadFile(err);
    return run;
  }
  int Code(const std::string& args, uint64_t epoch = 12) { return Run(args, epoch).code; }

  // The fake's knobs and its domains.
  void Knob(const std::string& name) { WriteFile(virsh_dir_ + "/" + name, ""); }
  void Unknob(const std::string& name) { std::remove((virsh_dir_ + "/" + name).c_str()); }
  void Domain(const std::string& name, const std::string& state, const std::string& xml) {
    WriteFile(virsh_dir_ + "/domains/" + name + ".xml", xml);
    WriteFile(virsh_dir_ + "/domains/" + name + ".state", state + "\n");
  }
  std::string State(const std::string& name) const {
    return ReadFile(virsh_dir_ + "/domains/" + name + ".state");
  }
  std::string CreatedXml() const { return ReadFile(virsh_dir_ + "/domains/vm1.xml"); }
  // The calls the fake saw, without the connection URI.
  std::vector<std::string> Verbs() const {
    std::vector<std::string> verbs;
    std::istringstream in(ReadFile(virsh_dir_ + "/calls"));
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string uri, verb;
      words >> uri >> verb;
      verbs.push_back(verb);
    }
    return verbs;
  }
  size_t Count(const std::string& verb) const {
    const auto verbs = Verbs();
    return static_cast<size_t>(std::count(verbs.begin(), verbs.end(), verb));
  }

  std::string package_dir_;
  std::string virsh_dir_;
};

TEST_F(LibvirtDriverTest, StartCreatesATransientDomainWithTheEpochInItsMetadata) {
  const auto start = Run("start");

  EXPECT_EQ(start.code, 0) << start.err;
  EXPECT_THAT(CreatedXml(), HasSubstr(std::string("<metadata><cmcl:guest xmlns:cmcl=\"") +
                                      kMetadataUri + "\" epoch=\"12\" node=\"n1\"/></metadata>"));
  EXPECT_THAT(CreatedXml(), HasSubstr("<name>vm1</name>"));
  EXPECT_THAT(ReadFile(virsh_dir_ + "/calls"),
              HasSubstr("qemu:///system create " + state_dir_ + "/guests/vm1.xml"));
  EXPECT_EQ(Code("status"), 0);
  EXPECT_THAT(Run("status -v").out, HasSubstr("vm1: running epoch=12 node=n1"));
}

TEST_F(LibvirtDriverTest, StartAddsToAnExistingMetadataAndReplacesAnOldAssignment) {
  WriteFile(package_dir_ + "/domain.xml",
            DomainXml("vm1",
                      "  <metadata>\n"
                      "    <libosinfo:libosinfo xmlns:libosinfo=\"http://libosinfo.org/\"/>\n"
                      "    <cmcl:guest xmlns:cmcl=\"https://cmcl.invalid/guest/1\" epoch=\"3\" "
                      "node=\"n2\"/>\n"
                      "  </metadata>\n"));

  ASSERT_EQ(Code("start"), 0);

  EXPECT_THAT(CreatedXml(), HasSubstr("<libosinfo:libosinfo"));
  EXPECT_THAT(CreatedXml(), HasSubstr("epoch=\"12\" node=\"n1\""));
  EXPECT_THAT(CreatedXml(), Not(HasSubstr("epoch=\"3\"")));
}

TEST_F(LibvirtDriverTest, StartOfAGuestRunningForTheSameEpochSucceedsWithoutASecondCreate) {
  ASSERT_EQ(Code("start"), 0);

  const auto again = Run("start");

  EXPECT_EQ(again.code, 0);
  EXPECT_THAT(again.out, HasSubstr("already running for epoch 12"));
  EXPECT_EQ(Count("create"), 1U);
}

// A guest of another assignment holds the disks: the cluster must kill it first.
TEST_F(LibvirtDriverTest, StartRefusesAGuestRunningForAnotherEpoch) {
  ASSERT_EQ(Code("start", 12), 0);

  const auto other = Run("start", 13);

  EXPECT_EQ(other.code, 1);
  EXPECT_THAT(other.err, HasSubstr("for epoch 12 (node n1), not epoch 13; refusing to start"));
  EXPECT_EQ(Count("create"), 1U);
  EXPECT_THAT(CreatedXml(), HasSubstr("epoch=\"12\""));
}

TEST_F(LibvirtDriverTest, StartRefusesARunningDomainCmclDidNotStart) {
  Domain("vm1", "running", DomainXml("vm1"));

  const auto start = Run("start");

  EXPECT_EQ(start.code, 1);
  EXPECT_THAT(start.err, HasSubstr("for epoch none (node none), not epoch 12; refusing"));
  EXPECT_EQ(Count("create"), 0U);
}

TEST_F(LibvirtDriverTest, StartRefusesADomainXmlNamingAnotherDomain) {
  WriteFile(package_dir_ + "/domain.xml", DomainXml("other"));

  const auto start = Run("start");

  EXPECT_EQ(start.code, 1);
  EXPECT_THAT(start.err, HasSubstr("names the domain 'other', not 'vm1'"));
  EXPECT_EQ(Count("create"), 0U);
}

TEST_F(LibvirtDriverTest, StartFailsWithoutCreatingWhenLibvirtdIsDown) {
  Knob("down");

  const auto start = Run("start");

  EXPECT_EQ(start.code, 1);
  EXPECT_THAT(start.err, HasSubstr("domain state is 'unknown'"));
  EXPECT_EQ(Count("create"), 0U);
}

TEST_F(LibvirtDriverTest, StartFailsWhenCreateFails) {
  Knob("fail_create");

  const auto start = Run("start");

  EXPECT_EQ(start.code, 1);
  EXPECT_THAT(start.err, HasSubstr("virsh create failed"));
}

// Without CMCL_VIRSH (as on a real node) the driver runs `virsh` from PATH. A shell
// function of that name once made it call itself until the shell died: exit 2 for every
// verb, seen only against the real virsh (libvirt_real_test.cc).
TEST_F(LibvirtDriverTest, WithoutCmclVirshTheVirshOnPathIsRun) {
  const std::string bin = dir_ + "/bin";
  std::filesystem::create_directories(bin);
  std::filesystem::create_symlink(kFakeVirsh, bin + "/virsh");
  const std::string env = "CMCL_VIRSH= PATH='" + bin + "':\"$PATH\"";

  EXPECT_EQ(Run("status", 12, env).code, 7);
  EXPECT_EQ(Run("start", 12, env).code, 0);
  EXPECT_EQ(Run("status", 12, env).code, 0);
  EXPECT_EQ(Run("kill", 12, env).code, 0);
  EXPECT_EQ(Count("create"), 1U);
  EXPECT_EQ(Count("destroy"), 1U);
}

TEST_F(LibvirtDriverTest, TheXmlPathAndTheUriComeFromTheEnvironment) {
  WriteFile(dir_ + "/elsewhere.xml", DomainXml("vm1"));

  const auto start =
      Run("start", 12,
          "CMCL_LIBVIRT_XML='" + dir_ + "/elsewhere.xml' CMCL_LIBVIRT_URI=qemu+ssh://n1/system");

  EXPECT_EQ(start.code, 0) << start.err;
  EXPECT_THAT(ReadFile(virsh_dir_ + "/calls"), HasSubstr("qemu+ssh://n1/system create"));
  EXPECT_THAT(ReadFile(virsh_dir_ + "/calls"), Not(HasSubstr("qemu:///system")));
}

TEST_F(LibvirtDriverTest, StopShutsTheGuestDownGracefully) {
  ASSERT_EQ(Code("start"), 0);

  const auto stop = Run("stop");

  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(Code("status"), 7);
  EXPECT_EQ(Count("shutdown"), 1U);
  EXPECT_EQ(Count("destroy"), 0U);
}

// Stop is graceful only: destroying a guest that ignores the shutdown is kill's, and the
// cluster's decision.
TEST_F(LibvirtDriverTest, StopOfAGuestThatIgnoresShutdownExitsOneAfterTheBound) {
  ASSERT_EQ(Code("start"), 0);
  Knob("ignore_shutdown");

  const auto began = std::chrono::steady_clock::now();
  const auto stop = Run("stop");
  const auto took = std::chrono::steady_clock::now() - began;

  EXPECT_EQ(stop.code, 1);
  EXPECT_THAT(stop.err, HasSubstr("domain still 'running' 1s after virsh shutdown"));
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(10));  // Generous: a loaded CI machine.
  EXPECT_EQ(Count("destroy"), 0U);
  EXPECT_EQ(Code("status"), 0);
}

// The wait is bounded by the clock, not by counting sleeps: with slow virsh calls a
// counted wait overran (2 s took about 7 s here), and the default 50 s must stay below
// the usual halt_timeout of 60 s.
TEST_F(LibvirtDriverTest, StopsWaitIsBoundedByTheClockWhenVirshIsSlow) {
  ASSERT_EQ(Code("start"), 0);
  Knob("ignore_shutdown");
  Knob("slow");

  const auto began = std::chrono::steady_clock::now();
  const auto stop = Run("stop", 12, "CMCL_LIBVIRT_STOP_WAIT=2");
  const auto took = std::chrono::steady_clock::now() - began;

  EXPECT_EQ(stop.code, 1);
  EXPECT_THAT(stop.err, HasSubstr("domain still 'running' 2s after virsh shutdown"));
  EXPECT_GE(took, std::chrono::seconds(2));
  // The wait, one round (a probe and a sleep) past it, and the first probe and shutdown.
  EXPECT_LT(took, std::chrono::milliseconds(4500));
}

TEST_F(LibvirtDriverTest, StopOfAGuestNotRunningSucceeds) {
  const auto stop = Run("stop");

  EXPECT_EQ(stop.code, 0);
  EXPECT_THAT(stop.out, HasSubstr("not running"));
  EXPECT_EQ(Count("shutdown"), 0U);
}

TEST_F(LibvirtDriverTest, StopWhenLibvirtdIsDownIsNotSuccess) {
  ASSERT_EQ(Code("start"), 0);
  Knob("down");

  EXPECT_EQ(Code("stop"), 1);
}

TEST_F(LibvirtDriverTest, KillDestroysTheGuestAndIsIdempotent) {
  ASSERT_EQ(Code("start"), 0);

  const auto kill = Run("kill");
  const auto again = Run("kill");

  EXPECT_EQ(kill.code, 0) << kill.err;
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(Code("status"), 7);
  EXPECT_EQ(Count("destroy"), 2U);
  EXPECT_EQ(Count("shutdown"), 0U);
}

// A persistent domain of the package's name (say the one it was imported from) stays
// defined but shut off: that is stopped, for kill, status and a new start alike.
TEST_F(LibvirtDriverTest, APersistentDomainShutOffCountsAsStoppedAndCanBeStarted) {
  Domain("vm1", "running", DomainXml("vm1"));
  WriteFile(virsh_dir_ + "/domains/vm1.persistent", "");

  EXPECT_EQ(Code("kill"), 0);
  EXPECT_EQ(State("vm1"), "shut off\n");
  EXPECT_EQ(Code("status"), 7);
  EXPECT_EQ(Code("kill"), 0);
  EXPECT_EQ(Code("start"), 0);
  EXPECT_EQ(Code("status"), 0);
}

TEST_F(LibvirtDriverTest, KillWhenLibvirtdIsDownIsNotSuccess) {
  ASSERT_EQ(Code("start"), 0);
  Knob("down");

  const auto kill = Run("kill");

  EXPECT_EQ(kill.code, 1);
  EXPECT_THAT(kill.err, HasSubstr("domain still 'unknown' after virsh destroy"));
}

// DESIGN.md section 4: a wrong "stopped" lets the cluster start the guest twice.
TEST_F(LibvirtDriverTest, StatusIsUnknownNeverStoppedWhenVirshFails) {
  EXPECT_EQ(Code("status"), 7);  // libvirtd answered: no such domain.

  Knob("down");
  EXPECT_EQ(Code("status"), 1);  // Not even the list: unknown, though no domain exists.
  Unknob("down");

  ASSERT_EQ(Code("start"), 0);
  Knob("fail_domstate");
  EXPECT_EQ(Code("status"), 1);  // The list names it, its state cannot be read.
  Knob("fail_list");
  EXPECT_EQ(Code("status"), 1);
}

TEST_F(LibvirtDriverTest, StatusCountsPausedAsRunningAndCrashedAsUnknown) {
  Domain("vm1", "paused", DomainXml("vm1"));
  EXPECT_EQ(Code("status"), 0);
  Domain("vm1", "in shutdown", DomainXml("vm1"));
  EXPECT_EQ(Code("status"), 0);
  Domain("vm1", "crashed", DomainXml("vm1"));
  EXPECT_EQ(Code("status"), 1);
  Domain("vm1", "shut off", DomainXml("vm1"));
  EXPECT_EQ(Code("status"), 7);
}

TEST_F(LibvirtDriverTest, WithoutAPackageStatusIsUnknownAndOtherVerbsAreUsageErrors) {
  const std::string bare = "env -i PATH=\"$PATH\" '" + kDriver + "' ";

  EXPECT_EQ(WEXITSTATUS(std::system((bare + "status 2>/dev/null").c_str())), 1);
  EXPECT_EQ(WEXITSTATUS(std::system((bare + "kill 2>/dev/null").c_str())), 2);
  EXPECT_EQ(Code("frobnicate"), 2);
}

// --- Behind a GuestRunner, as cmcld uses it. -------------------------------------------

class LibvirtRunnerTest : public LibvirtDriverTest {
 protected:
  LibvirtRunnerTest() {
    // The runner passes only PATH, LANG and CMCL_*: a wrapper in the driver folder
    // points the real driver at the fake.
    Driver("libvirt", "CMCL_VIRSH='" + kFakeVirsh + "' FAKE_VIRSH_DIR='" + virsh_dir_ +
                          "' CMCL_LIBVIRT_STOP_WAIT=1 exec '" + kDriver + "' \"$@\"");
    package_ = Package("vm1", "exec \"$CMCL_DRIVER_DIR/libvirt\" start",
                       "exec \"$CMCL_DRIVER_DIR/libvirt\" stop");
    package_.driver = "libvirt";
    package_.kill_timeout = std::chrono::seconds(1);
  }
  config::PackageSpec package_;
};

TEST_F(LibvirtRunnerTest, RunStatusHaltAndKillThroughTheRunner) {
  const auto run = Do(Action("vm1", GuestVerb::kRun, 7), package_);
  const auto running = Do(Action("vm1", GuestVerb::kStatus, 7), package_);
  const auto halt = Do(Action("vm1", GuestVerb::kHalt, 7), package_);
  const auto halted = Do(Action("vm1", GuestVerb::kStatus, 7), package_);
  const auto rerun = Do(Action("vm1", GuestVerb::kRun, 8), package_);
  const auto kill = Do(Action("vm1", GuestVerb::kKill, 8), package_);

  EXPECT_EQ(run.result.status, GuestStatus::kRunning);
  EXPECT_EQ(running.result.status, GuestStatus::kRunning);
  EXPECT_EQ(halt.result.status, GuestStatus::kStopped);
  EXPECT_EQ(halted.result.status, GuestStatus::kStopped);
  EXPECT_EQ(rerun.result.status, GuestStatus::kRunning);
  EXPECT_EQ(kill.result.status, GuestStatus::kStopped);
  EXPECT_THAT(Verbs(), Contains("destroy"));
  EXPECT_THAT(ReadFile(state_dir_ + "/log/vm1.log"), HasSubstr("started as a transient domain"));
}

TEST_F(LibvirtRunnerTest, ALibvirtdThatIsDownMakesStatusAndKillUnknown) {
  ASSERT_EQ(Do(Action("vm1", GuestVerb::kRun), package_).result.status, GuestStatus::kRunning);
  Knob("down");

  EXPECT_EQ(Do(Action("vm1", GuestVerb::kStatus), package_).result.status, GuestStatus::kUnknown);
  EXPECT_EQ(Do(Action("vm1", GuestVerb::kKill), package_).result.status, GuestStatus::kUnknown);
}

// The driver does not bound virsh itself: the runner bounds every driver call by
// kill_timeout (cmcl-guard by fence_timeout) and kills it.
TEST_F(LibvirtRunnerTest, AHangingVirshIsBoundedByTheRunnerAndIsUnknown) {
  Knob("hang");

  const auto began = std::chrono::steady_clock::now();
  const auto status = Do(Action("vm1", GuestVerb::kStatus), package_);
  const auto took = std::chrono::steady_clock::now() - began;

  EXPECT_EQ(status.result.status, GuestStatus::kUnknown);
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace cmcl::io::testing
