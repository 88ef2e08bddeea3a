// The libvirt guest driver (packages/drivers/libvirt) and `pkgctl guest import --libvirt`
// against a real libvirtd running real, diskless, software-emulated QEMU guests (issue 12;
// the full tier, run through libvirt_real_test.sh, which installs Debian's libvirt and
// QEMU first). The error paths a real libvirtd cannot be made to take on demand (down,
// hanging, odd states) are in libvirt_driver_test.cc against the fake virsh; this test
// checks what the fake cannot: that the driver's virsh calls, and its reading of virsh's
// answers, hold for the real thing.
//
// The test starts its own libvirtd and never touches a system one. A libvirtd running as
// root is the system instance, whose state paths (/run/libvirt, /var/lib/libvirt/qemu)
// are compiled in and shared with any other; an unprivileged one serves qemu:///session
// and keeps its socket, configuration, state and QEMU pid files under the XDG folders it
// is given. So the daemon runs as `nobody` (as the test's own user when that is not root)
// with every XDG folder in a private directory, and root's virsh reaches it by
// `qemu+unix:///session?socket=PATH`, passed to the driver in CMCL_LIBVIRT_URI. It is
// stopped by its pid at the end, and any QEMU it left is killed by the pid in libvirt's
// pid file; should the test process die first, the kernel sends the daemon SIGTERM
// (PR_SET_PDEATHSIG) and the next run kills the QEMU it left (CleanUpEarlierRuns).
//
// The test skips (with the reason) only when libvirtd, virsh or QEMU is not installed or
// the daemon cannot start here; past that point everything is asserted.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "guest_test_support.h"

namespace cmcl::io::testing {
namespace {

namespace fs = std::filesystem;
using node::GuestStatus;
using node::GuestVerb;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kDriver = std::string(CMCL_SOURCE_DIR) + "/packages/drivers/libvirt";
constexpr const char* kMetadataUri = "https://cmcl.invalid/guest/1";

std::string Quote(const std::string& word) {
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// An unprivileged virsh whose session daemon is not there spawns one itself (root's never
// does): a daemon this test could not stop by a pid of its own.
constexpr const char* kNoAutostart = "LIBVIRT_AUTOSTART=0";

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
  milliseconds took{0};
};

// Runs a shell command, its output captured in files under `scratch` (named apart, so
// that two threads may run commands at once).
Outcome Shell(const std::string& command, const std::string& scratch) {
  static std::atomic<int> counter{0};
  const std::string base = scratch + "/cmd" + std::to_string(counter++);
  const auto began = steady_clock::now();
  const int status = std::system(
      ("(" + command + ") >" + Quote(base + ".out") + " 2>" + Quote(base + ".err")).c_str());
  Outcome run;
  run.took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - began);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadFile(base + ".out");
  run.err = ReadFile(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  return run;
}

// `name` on PATH, then in the sbin folders a non-root PATH lacks (libvirtd is in
// /usr/sbin); "" when nowhere.
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream folders(std::string(path != nullptr ? path : "") + ":/usr/sbin:/sbin");
  for (std::string folder; std::getline(folders, folder, ':');) {
    if (folder.empty()) continue;
    const std::string candidate = folder + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string LastLines(const std::string& text, size_t count) {
  size_t at = text.size();
  for (size_t lines = 0; at > 0 && lines <= count;) {
    if (text[--at] == '\n') ++lines;
  }
  return text.substr(at);
}

// A libvirtd of the test's own (see the top of the file).
class PrivateLibvirtd {
 public:
  PrivateLibvirtd() = default;
  PrivateLibvirtd(const PrivateLibvirtd&) = delete;
  PrivateLibvirtd& operator=(const PrivateLibvirtd&) = delete;
  ~PrivateLibvirtd() { Stop(); }

  // Starts the daemon and waits until it answers; "" then, else why it cannot run here.
  std::string Start() {
    const std::string libvirtd = FindProgram("libvirtd");
    if (libvirtd.empty()) {
      return "libvirtd is not installed (Debian: libvirt-daemon, libvirt-daemon-driver-qemu)";
    }
    if (FindProgram("virsh").empty()) return "virsh is not installed (Debian: libvirt-clients)";
    if (FindProgram("qemu-system-x86_64").empty()) {
      return "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)";
    }
    CleanUpEarlierRuns();
    uid_ = ::geteuid();
    gid_ = ::getegid();
    if (uid_ == 0) {
      const passwd* nobody = ::getpwnam("nobody");
      if (nobody == nullptr) return "there is no user 'nobody' to run an unprivileged libvirtd as";
      uid_ = nobody->pw_uid;
      gid_ = nobody->pw_gid;
    }
    // In /tmp, not $TMPDIR: the socket's path must stay below the 108 bytes of sun_path.
    char pattern[] = "/tmp/cmcl-libvirtd-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return std::string("mkdtemp failed in /tmp");
    dir_ = pattern;
    WriteFile(dir_ + "/owner", std::to_string(::getpid()) + "\n");
    for (const char* sub : {"home", "config/libvirt", "run", "cache", "data", "disks", "scratch"}) {
      fs::create_directories(dir_ + "/" + sub);
    }
    // QEMU's output to a file: the default, virtlogd, would be spawned by libvirtd itself,
    // a process this test could not stop by a pid of its own.
    WriteFile(dir_ + "/config/libvirt/qemu.conf", "stdio_handler = \"file\"\n");
    ::chmod((dir_ + "/run").c_str(), 0700);  // XDG_RUNTIME_DIR's rule.
    if (::lchown(dir_.c_str(), uid_, gid_) != 0) return "cannot chown " + dir_;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (entry.path().filename() == "scratch") continue;
      if (::lchown(entry.path().c_str(), uid_, gid_) != 0) return "cannot chown " + dir_;
    }
    uri_ = "qemu+unix:///session?socket=" + dir_ + "/run/libvirt/libvirt-sock";

    const std::string log = dir_ + "/libvirtd.log";
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      // The death signal after the uid change: changing credentials clears it.
      if ((::getuid() == 0 &&
           (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) ||
          ::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent ||
          ::chdir(dir_.c_str()) != 0) {
        _exit(126);
      }
      const std::string env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                 "HOME=" + dir_ + "/home",
                                 "XDG_CONFIG_HOME=" + dir_ + "/config",
                                 "XDG_RUNTIME_DIR=" + dir_ + "/run",
                                 "XDG_CACHE_HOME=" + dir_ + "/cache",
                                 "XDG_DATA_HOME=" + dir_ + "/data",
                                 "LC_ALL=C"};
      std::vector<char*> envp;
      for (const std::string& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
      envp.push_back(nullptr);
      const std::string pid_file = dir_ + "/libvirtd.pid";
      char* argv[] = {const_cast<char*>(libvirtd.c_str()), const_cast<char*>("--pid-file"),
                      const_cast<char*>(pid_file.c_str()), nullptr};
      ::execve(argv[0], argv, envp.data());
      _exit(127);
    }

    // It answers once its socket is up and the QEMU driver has probed the emulator.
    const auto deadline = steady_clock::now() + seconds(60);
    std::string last_error;
    while (steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "libvirtd exited at start (" +
               std::string(WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                             : "signal " + std::to_string(WTERMSIG(status))) +
               "); the end of its log " + log + ":\n" + LastLines(ReadFile(log), 10);
      }
      if (fs::exists(dir_ + "/run/libvirt/libvirt-sock")) {
        const Outcome version = Virsh("version");
        if (version.code == 0 &&
            version.out.find("Running hypervisor: QEMU") != std::string::npos) {
          return "";
        }
        last_error = version.out + version.err;
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
    const std::string log_tail = LastLines(ReadFile(log), 10);
    Stop();
    return "libvirtd did not serve qemu:///session within 60s (is libvirt-daemon-driver-qemu "
           "installed?); virsh said: " +
           last_error + "; the end of its log:\n" + log_tail;
  }

  // Destroys and undefines every domain, stops the daemon by its pid (SIGTERM, SIGKILL
  // after 10s), then kills any QEMU left behind by the pid in libvirt's pid files.
  void Stop() {
    if (dir_.empty()) return;
    if (pid_ > 0) {
      std::istringstream names(Virsh("list --all --name").out);
      for (std::string name; std::getline(names, name);) {
        if (name.empty()) continue;
        Virsh("destroy " + Quote(name));
        Virsh("undefine " + Quote(name));
      }
      ::kill(pid_, SIGTERM);
      const auto deadline = steady_clock::now() + seconds(10);
      while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
        if (steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(milliseconds(50));
      }
      pid_ = -1;
    }
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(dir_ + "/run/libvirt/qemu/run", ignored)) {
      if (entry.path().extension() != ".pid") continue;
      if (const auto pid = QemuPidFrom(entry.path(), dir_)) ::kill(*pid, SIGKILL);
    }
    fs::remove_all(dir_, ignored);
    dir_.clear();
  }

  // What an earlier run left when it died before its cleanup (SIGKILL, a ctest timeout):
  // the kernel sent its libvirtd SIGTERM, but QEMU outlives libvirtd by design. Such a
  // QEMU is found by the pid files in that run's folder and killed; then the folder goes.
  // A folder whose test (the pid in its "owner" file) still runs is left alone.
  static void CleanUpEarlierRuns() {
    std::error_code ignored;
    for (const auto& run : fs::directory_iterator("/tmp", ignored)) {
      const std::string folder = run.path();
      if (run.path().filename().string().rfind("cmcl-libvirtd-", 0) != 0) continue;
      const std::string owner = ReadFile(folder + "/owner");
      if (owner.empty()) {
        // Just made, its owner file not yet written; or not ours after all.
        const auto age = fs::file_time_type::clock::now() - fs::last_write_time(folder, ignored);
        if (ignored || age < std::chrono::minutes(1)) continue;
      } else if (owner.find_first_not_of("0123456789\n") != std::string::npos ||
                 ReadFile("/proc/" + owner.substr(0, owner.find('\n')) + "/cmdline")
                         .find("libvirt_real_test") != std::string::npos) {
        continue;
      }
      for (const auto& entry : fs::directory_iterator(folder + "/run/libvirt/qemu/run", ignored)) {
        if (entry.path().extension() != ".pid") continue;
        if (const auto pid = QemuPidFrom(entry.path(), folder)) {
          std::cout << "killing QEMU " << *pid << " left by an earlier run in " << folder << "\n";
          ::kill(*pid, SIGKILL);
        }
      }
      fs::remove_all(folder, ignored);
    }
  }

  Outcome Virsh(const std::string& args) const {
    return Shell("LC_ALL=C " + std::string(kNoAutostart) + " timeout 60 virsh -c " + Quote(uri_) +
                     " " + args,
                 dir_ + "/scratch");
  }

  // The pid of the QEMU process running `domain`, from libvirt's pid file, when it lives
  // and is that guest's QEMU (not a reused pid).
  std::optional<pid_t> QemuPid(const std::string& domain) const {
    return QemuPidFrom(dir_ + "/run/libvirt/qemu/run/" + domain + ".pid", dir_);
  }

  const std::string& uri() const { return uri_; }
  const std::string& dir() const { return dir_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }

 private:
  // The pid in libvirt's pid file `file` when it is a live QEMU for that domain, started
  // by the daemon of `folder` (its command line names files there): not a reused pid.
  static std::optional<pid_t> QemuPidFrom(const fs::path& file, const std::string& folder) {
    const std::string text = ReadFile(file);
    if (text.empty() || text.find_first_not_of("0123456789\n") != std::string::npos) {
      return std::nullopt;
    }
    const auto pid = static_cast<pid_t>(std::stol(text));
    const std::string name = file.stem();
    std::string command = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(command.begin(), command.end(), '\0', ' ');
    if (pid <= 1 || !ProcessAlive(pid) || command.find("qemu-system") == std::string::npos ||
        command.find("guest=" + name + ",") == std::string::npos ||
        command.find(folder + "/") == std::string::npos) {
      return std::nullopt;
    }
    return pid;
  }

  pid_t pid_ = -1;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string dir_;
  std::string uri_;
};

// A guest that only has to run: no disk, no network, 64 MiB, one vCPU, TCG (type 'qemu',
// no /dev/kvm needed). SeaBIOS finds nothing to boot and waits; there is no OS to answer
// an ACPI shutdown.
std::string GuestXml(const std::string& name, const std::string& devices = "") {
  return "<domain type='qemu'>\n"
         "  <name>" +
         name +
         "</name>\n"
         "  <memory unit='MiB'>64</memory>\n"
         "  <vcpu>1</vcpu>\n"
         "  <os>\n"
         "    <type arch='x86_64' machine='pc'>hvm</type>\n"
         "  </os>\n"
         "  <devices>\n" +
         devices +
         "    <memballoon model='none'/>\n"
         "  </devices>\n"
         "</domain>\n";
}

// One daemon for the whole binary, stopped when the tests end, failed or not.
PrivateLibvirtd* g_libvirtd = nullptr;
std::string g_skip_reason;

class LibvirtdEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_libvirtd = new PrivateLibvirtd;
    const auto began = steady_clock::now();
    g_skip_reason = g_libvirtd->Start();
    if (g_skip_reason.empty()) {
      std::cout << "libvirtd (uid " << g_libvirtd->uid() << ") answers at " << g_libvirtd->uri()
                << " after "
                << std::chrono::duration_cast<milliseconds>(steady_clock::now() - began).count()
                << " ms\n";
    }
  }
  void TearDown() override {
    delete g_libvirtd;  // Stops it.
    g_libvirtd = nullptr;
  }
};
::testing::Environment* const kLibvirtdEnvironment =
    ::testing::AddGlobalTestEnvironment(new LibvirtdEnvironment);

class LibvirtRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_skip_reason.empty()) GTEST_SKIP() << "no libvirtd to test against: " << g_skip_reason;
    daemon_ = g_libvirtd;
    // In the daemon's folder, so that a run that dies leaves one folder to clean up.
    std::string pattern = daemon_->dir() + "/tests/test-XXXXXX";
    fs::create_directories(daemon_->dir() + "/tests");
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    state_dir_ = dir_ + "/state";
  }
  void TearDown() override {
    if (daemon_ != nullptr) {
      for (const std::string& name : domains_) {
        daemon_->Virsh("destroy " + name);
        daemon_->Virsh("undefine " + name);
      }
    }
    if (!dir_.empty()) {
      std::error_code ignored;
      fs::remove_all(dir_, ignored);
    }
  }

  // A package folder with the domain XML, as the run and halt scripts see it.
  std::string Package(const std::string& name, const std::string& xml) {
    domains_.push_back(name);
    const std::string folder = dir_ + "/packages/" + name;
    WriteFile(folder + "/domain.xml", xml);
    return folder;
  }

  // Runs the driver as a run or halt script would: in the package folder, with only
  // PATH and the CMCL_* environment (cmcld passes no more; and kNoAutostart), so with
  // the real virsh.
  Outcome Driver(const std::string& folder, const std::string& args, uint64_t epoch = 12,
                 const std::string& env = "") const {
    const std::string package = fs::path(folder).filename();
    return Shell(
        "cd " + Quote(folder) + " && env -i PATH=\"$PATH\" " + kNoAutostart +
            " CMCL_PACKAGE=" + package + " CMCL_NODE=n1 CMCL_EPOCH=" + std::to_string(epoch) +
            " CMCL_STATE_DIR=" + Quote(state_dir_) + " CMCL_LIBVIRT_URI=" + Quote(daemon_->uri()) +
            " " + env + " timeout 120 " + Quote(kDriver) + " " + args,
        dir_);
  }

  Outcome Virsh(const std::string& args) const { return daemon_->Virsh(args); }

  std::string Metadata(const std::string& name) const {
    return Virsh("metadata " + name + " " + kMetadataUri).out;
  }

  bool Listed(const std::string& name) const {
    std::istringstream names(Virsh("list --all --name").out);
    for (std::string line; std::getline(names, line);) {
      if (line == name) return true;
    }
    return false;
  }

  PrivateLibvirtd* daemon_ = nullptr;
  std::string dir_;
  std::string state_dir_;
  std::vector<std::string> domains_;
};

TEST_F(LibvirtRealTest, StartRunsATransientDomainWithTheEpochInItsMetadata) {
  const std::string vm = Package("cmclrt1", GuestXml("cmclrt1"));

  const Outcome before = Driver(vm, "status -v");
  EXPECT_EQ(before.code, 7) << before.err;
  EXPECT_EQ(before.out, "cmclrt1: absent epoch=none node=none\n");

  const Outcome start = Driver(vm, "start", 12);
  ASSERT_EQ(start.code, 0) << start.out << start.err;
  EXPECT_THAT(start.out, HasSubstr("cmclrt1: started as a transient domain for epoch 12"));
  std::cout << "start took " << start.took.count() << " ms\n";

  // Ground truth beside the driver's word: libvirt runs a QEMU for the guest, the domain
  // is transient, and libvirtd holds the assignment.
  const auto qemu = daemon_->QemuPid("cmclrt1");
  ASSERT_TRUE(qemu.has_value()) << "no QEMU process for cmclrt1";
  EXPECT_EQ(Virsh("domstate cmclrt1").out, "running\n\n");
  EXPECT_THAT(Virsh("dominfo cmclrt1").out, ContainsRegex("Persistent: +no"));
  EXPECT_THAT(Metadata("cmclrt1"), HasSubstr("epoch=\"12\""));
  EXPECT_THAT(Metadata("cmclrt1"), HasSubstr("node=\"n1\""));
  EXPECT_THAT(Virsh("dumpxml cmclrt1").out,
              HasSubstr("<cmcl:guest xmlns:cmcl=\"https://cmcl.invalid/guest/1\" epoch=\"12\" "
                        "node=\"n1\"/>"));

  const Outcome status = Driver(vm, "status -v");
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_EQ(status.out, "cmclrt1: running epoch=12 node=n1\n");
  EXPECT_EQ(Driver(vm, "status").out, "");  // Quiet: cmcld asks every monitor_interval.

  // A retried start of the same assignment: success, and the same QEMU.
  const Outcome again = Driver(vm, "start", 12);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already running for epoch 12"));
  EXPECT_EQ(daemon_->QemuPid("cmclrt1"), qemu);

  // Another assignment's start is refused: this guest holds the disks.
  const Outcome other = Driver(vm, "start", 13);
  EXPECT_EQ(other.code, 1);
  EXPECT_THAT(other.err, HasSubstr("cmclrt1: domain already running on this node for epoch 12 "
                                   "(node n1), not epoch 13; refusing to start"));
  EXPECT_EQ(daemon_->QemuPid("cmclrt1"), qemu);
  EXPECT_THAT(Metadata("cmclrt1"), HasSubstr("epoch=\"12\""));
}

// Stop is graceful only. A guest with no OS ignores the ACPI shutdown: stop says so after
// its wait and leaves the guest running (destroying it is kill's, the cluster's call).
TEST_F(LibvirtRealTest, StopOfAGuestThatIgnoresTheShutdownFailsAndNeverDestroys) {
  const std::string vm = Package("cmclrt2", GuestXml("cmclrt2"));
  ASSERT_EQ(Driver(vm, "start").code, 0);
  const auto qemu = daemon_->QemuPid("cmclrt2");
  ASSERT_TRUE(qemu.has_value());

  const Outcome stop = Driver(vm, "stop", 12, "CMCL_LIBVIRT_STOP_WAIT=2");

  EXPECT_EQ(stop.code, 1) << stop.out;
  EXPECT_THAT(stop.err, HasSubstr("cmclrt2: domain still 'running' 2s after virsh shutdown"));
  EXPECT_GE(stop.took, milliseconds(2000));
  EXPECT_LT(stop.took, seconds(30));  // Generous: virsh calls on a loaded machine.
  EXPECT_EQ(Driver(vm, "status").code, 0);
  EXPECT_EQ(daemon_->QemuPid("cmclrt2"), qemu);
  EXPECT_EQ(Virsh("domstate cmclrt2").out, "running\n\n");
}

// Stop's wait ends as soon as the domain is gone. The guest cannot power itself off, so
// it is destroyed behind stop's back while stop waits: stop must see a transient domain
// that vanished from libvirt as stopped.
TEST_F(LibvirtRealTest, StopSucceedsOnceTheDomainIsGone) {
  const std::string vm = Package("cmclrt3", GuestXml("cmclrt3"));
  ASSERT_EQ(Driver(vm, "start").code, 0);

  Outcome stop;
  std::thread halt([&] { stop = Driver(vm, "stop", 12, "CMCL_LIBVIRT_STOP_WAIT=60"); });
  std::this_thread::sleep_for(seconds(2));
  const Outcome destroy = Virsh("destroy cmclrt3");
  halt.join();

  EXPECT_EQ(destroy.code, 0) << destroy.err;
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_THAT(stop.out, HasSubstr("cmclrt3: stopped"));
  EXPECT_LT(stop.took, seconds(30));
  EXPECT_EQ(Driver(vm, "status").code, 7);
}

TEST_F(LibvirtRealTest, KillDestroysTheGuestAndIsIdempotent) {
  const std::string vm = Package("cmclrt4", GuestXml("cmclrt4"));
  ASSERT_EQ(Driver(vm, "start").code, 0);
  const auto qemu = daemon_->QemuPid("cmclrt4");
  ASSERT_TRUE(qemu.has_value());

  const Outcome kill = Driver(vm, "kill");

  EXPECT_EQ(kill.code, 0) << kill.err;
  EXPECT_THAT(kill.out, HasSubstr("cmclrt4: killed"));
  std::cout << "kill took " << kill.took.count() << " ms\n";
  EXPECT_FALSE(ProcessAlive(*qemu)) << "QEMU " << *qemu << " still runs after kill";
  EXPECT_FALSE(Listed("cmclrt4"));  // Transient: libvirt forgot it.
  const Outcome status = Driver(vm, "status -v");
  EXPECT_EQ(status.code, 7);
  EXPECT_EQ(status.out, "cmclrt4: absent epoch=none node=none\n");

  const Outcome again = Driver(vm, "kill");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("cmclrt4: not running"));
  const Outcome stop = Driver(vm, "stop");
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_THAT(stop.out, HasSubstr("cmclrt4: not running"));
}

// A running domain without cmcl's metadata (started by hand) holds the disks: start
// refuses it, status counts it running, kill ends it.
TEST_F(LibvirtRealTest, StartRefusesADomainRunningWithoutCmclsMetadata) {
  const std::string vm = Package("cmclrt5", GuestXml("cmclrt5"));
  const Outcome create = Virsh("create " + Quote(vm + "/domain.xml"));
  ASSERT_EQ(create.code, 0) << create.err;

  const Outcome start = Driver(vm, "start", 12);

  EXPECT_EQ(start.code, 1);
  EXPECT_THAT(start.err, HasSubstr("cmclrt5: domain already running on this node for epoch "
                                   "none (node none), not epoch 12; refusing to start"));
  EXPECT_THAT(Virsh("dumpxml cmclrt5").out, Not(HasSubstr("cmcl.invalid")));
  EXPECT_EQ(Driver(vm, "status -v").out, "cmclrt5: running epoch=none node=none\n");
  EXPECT_EQ(Driver(vm, "kill").code, 0);
  EXPECT_EQ(Driver(vm, "status").code, 7);
}

// A libvirtd that cannot be reached proves nothing about the guest: never "stopped"
// (DESIGN.md section 4: a wrong 7 lets the cluster start the guest twice).
TEST_F(LibvirtRealTest, AnUnreachableLibvirtdIsUnknownNeverStopped) {
  const std::string vm = Package("cmclrt6", GuestXml("cmclrt6"));
  // A system URI: a client may spawn a session daemon itself when its socket is missing.
  const std::string nowhere = "CMCL_LIBVIRT_STOP_WAIT=2 CMCL_LIBVIRT_URI=" +
                              Quote("qemu+unix:///system?socket=" + dir_ + "/no-such-sock");

  const Outcome status = Driver(vm, "status -v", 12, nowhere);
  const Outcome start = Driver(vm, "start", 12, nowhere);
  const Outcome stop = Driver(vm, "stop", 12, nowhere);
  const Outcome kill = Driver(vm, "kill", 12, nowhere);

  EXPECT_EQ(status.code, 1);
  EXPECT_EQ(status.out, "cmclrt6: unknown epoch=none node=none\n");
  EXPECT_EQ(start.code, 1);
  EXPECT_THAT(start.err, HasSubstr("domain state is 'unknown'"));
  EXPECT_EQ(stop.code, 1);
  EXPECT_THAT(stop.err, HasSubstr("domain still 'unknown' 2s after virsh shutdown"));
  EXPECT_LT(stop.took, seconds(10));
  EXPECT_EQ(kill.code, 1);
  EXPECT_THAT(kill.err, HasSubstr("domain still 'unknown' after virsh destroy"));
  EXPECT_FALSE(Listed("cmclrt6"));
}

// --- `pkgctl guest import --libvirt` against a defined (persistent) domain. -------------

class LibvirtImportTest : public LibvirtRealTest {
 protected:
  Outcome Define(const std::string& name, const std::string& xml) {
    domains_.push_back(name);
    WriteFile(dir_ + "/define-" + name + ".xml", xml);
    return Virsh("define " + Quote(dir_ + "/define-" + name + ".xml"));
  }
  Outcome Import(const std::string& args) const {
    return Shell("cd " + Quote(dir_) + " && env -u CMCL_CONFIG CMCL_LIBVIRT_URI=" +
                     Quote(daemon_->uri()) + " CMCL_DISK_BY_ID=" + Quote(dir_ + "/by-id") +
                     " timeout 60 " PKGCTL_BINARY " guest import " + args,
                 dir_);
  }
  // A raw disk image the daemon's user can open.
  std::string DiskImage(const std::string& name) const {
    const std::string path = daemon_->dir() + "/disks/" + name;
    WriteFile(path, std::string(1 << 20, '\0'));
    EXPECT_EQ(::chown(path.c_str(), daemon_->uid(), daemon_->gid()), 0);
    return path;
  }
};

// libvirt writes the XML its own way (memory in KiB, a uuid, default devices added): the
// import must read what a real `virsh dumpxml` prints, not what the test wrote.
TEST_F(LibvirtImportTest, ImportWritesThePackageFolderFromARealDomain) {
  // A block disk named by a by-id link (a plain file stands in: define does not open it),
  // a file disk, a CD-ROM with media, a bridge and a user-mode interface.
  WriteFile(dir_ + "/dev/sdb", "");
  fs::create_directories(dir_ + "/by-id");
  fs::create_symlink("../dev/sdb", dir_ + "/by-id/wwn-0x5000c500deadbeef");
  const std::string data = DiskImage("cmclimp1-data.img");
  const std::string devices = "    <disk type='block' device='disk'>\n      <source dev='" + dir_ +
                              "/dev/sdb'/>\n      <target dev='vda' bus='virtio'/>\n"
                              "    </disk>\n"
                              "    <disk type='file' device='disk'>\n"
                              "      <driver name='qemu' type='raw'/>\n      <source file='" +
                              data +
                              "'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n"
                              "    <disk type='file' device='cdrom'>\n"
                              "      <source file='/srv/iso/install.iso'/>\n"
                              "      <target dev='hdc' bus='ide'/>\n      <readonly/>\n"
                              "    </disk>\n"
                              "    <interface type='bridge'>\n"
                              "      <source bridge='cmclbr0'/>\n"
                              "      <model type='virtio'/>\n    </interface>\n"
                              "    <interface type='user'>\n"
                              "      <model type='virtio'/>\n    </interface>\n";
  std::string xml = GuestXml("cmclimp1", devices);
  xml.replace(xml.find("<memory unit='MiB'>64</memory>"), 30, "<memory unit='MiB'>96</memory>");
  xml.replace(xml.find("<vcpu>1</vcpu>"), 14, "<vcpu current='2'>4</vcpu>");
  const Outcome define = Define("cmclimp1", xml);
  ASSERT_EQ(define.code, 0) << define.err;

  const Outcome import = Import("--libvirt cmclimp1 -d pkgs/cmclimp1 --nodes n1,n2");

  ASSERT_EQ(import.code, 0) << import.out << import.err;
  EXPECT_THAT(import.out, HasSubstr("Wrote package cmclimp1 to pkgs/cmclimp1/ (2 vCPUs, 96 MiB, "
                                    "2 disks, 1 networks, 1 devices)."));
  const std::string folder = dir_ + "/pkgs/cmclimp1";
  const std::string dumped = Virsh("dumpxml cmclimp1 --inactive").out;
  EXPECT_EQ(ReadFile(folder + "/domain.xml"), dumped);
  // libvirt's own writing, not the test's.
  EXPECT_THAT(dumped, HasSubstr("<memory unit='KiB'>98304</memory>"));
  EXPECT_THAT(dumped, HasSubstr("<uuid>"));
  const std::string yaml = ReadFile(folder + "/package.yaml");
  EXPECT_THAT(yaml, HasSubstr("name: cmclimp1\nnodes: [n1, n2]\nauto_run: false\n"));
  EXPECT_THAT(yaml, HasSubstr("driver: libvirt\n"));
  EXPECT_THAT(yaml, HasSubstr("  vcpus: 2\n  memory: 96MiB\n"));
  EXPECT_THAT(yaml, HasSubstr("  storage:\n    - {path: \"" + dir_ +
                              "/by-id/wwn-0x5000c500deadbeef\", type: disk}\n    - {path: \"" +
                              data + "\", type: file}\n"));
  EXPECT_THAT(yaml, HasSubstr("  networks:\n    - {vswitch: \"cmclbr0\"}\n"));
  EXPECT_THAT(yaml, HasSubstr("  devices:\n    - {path: \"/srv/iso/install.iso\", type: cdrom}\n"));
  EXPECT_THAT(import.err, HasSubstr("warning: an interface of type 'user' is not imported"));
  EXPECT_THAT(import.err, HasSubstr("warning: the cdrom /srv/iso/install.iso is a host-shared "
                                    "device"));
  EXPECT_EQ(::access((folder + "/run.sh").c_str(), X_OK), 0);
  EXPECT_EQ(::access((folder + "/halt.sh").c_str(), X_OK), 0);
  EXPECT_EQ(Virsh("domstate cmclimp1").out, "shut off\n\n");  // Import only reads.
}

// The imported folder is what the driver runs: its domain.xml (the default, in the
// folder), the same name and uuid as the defined domain. That domain, shut off, counts
// as stopped; start runs it with the package's XML and the assignment; once killed it is
// shut off again, still defined, and the assignment did not leak into its definition.
TEST_F(LibvirtImportTest, AnImportedPersistentDomainRunsFromItsPackageFolder) {
  const std::string disk = DiskImage("cmclimp2.img");
  const Outcome define = Define("cmclimp2", GuestXml("cmclimp2",
                                                     "    <disk type='file' device='disk'>\n"
                                                     "      <driver name='qemu' type='raw'/>\n"
                                                     "      <source file='" +
                                                         disk +
                                                         "'/>\n"
                                                         "      <target dev='vda' bus='virtio'/>\n"
                                                         "    </disk>\n"));
  ASSERT_EQ(define.code, 0) << define.err;
  ASSERT_EQ(Import("--libvirt cmclimp2 -d cmclimp2").code, 0);
  const std::string vm = dir_ + "/cmclimp2";

  const Outcome before = Driver(vm, "status -v", 5);
  EXPECT_EQ(before.code, 7);
  EXPECT_EQ(before.out, "cmclimp2: shut off epoch=none node=none\n");

  const Outcome start = Driver(vm, "start", 5);
  ASSERT_EQ(start.code, 0) << start.out << start.err;
  EXPECT_TRUE(daemon_->QemuPid("cmclimp2").has_value());
  EXPECT_THAT(Metadata("cmclimp2"), HasSubstr("epoch=\"5\""));
  EXPECT_THAT(Virsh("dominfo cmclimp2").out, ContainsRegex("Persistent: +yes"));
  EXPECT_EQ(Driver(vm, "status").code, 0);

  const Outcome kill = Driver(vm, "kill", 5);
  EXPECT_EQ(kill.code, 0) << kill.err;
  EXPECT_EQ(Virsh("domstate cmclimp2").out, "shut off\n\n");
  EXPECT_EQ(Driver(vm, "status").code, 7);
  EXPECT_THAT(Virsh("dumpxml cmclimp2 --inactive").out, Not(HasSubstr("cmcl.invalid")));

  // The next assignment starts it again, from the same folder.
  const Outcome restart = Driver(vm, "start", 6);
  ASSERT_EQ(restart.code, 0) << restart.out << restart.err;
  EXPECT_THAT(Metadata("cmclimp2"), HasSubstr("epoch=\"6\""));
  EXPECT_EQ(Driver(vm, "kill", 6).code, 0);
  EXPECT_EQ(Driver(vm, "status").code, 7);
}

// --- Behind a GuestRunner, as cmcld uses it. -------------------------------------------

// cmcld passes drivers only PATH, LANG and CMCL_*, and calls status and kill itself, not
// through the package's scripts: a wrapper in the driver folder sets the connection for
// every verb (packages/drivers/README.md).
class LibvirtRealRunnerTest : public GuestRunnerTest {
 protected:
  void SetUp() override {
    if (!g_skip_reason.empty()) GTEST_SKIP() << "no libvirtd to test against: " << g_skip_reason;
    Driver("libvirt", std::string(kNoAutostart) + " CMCL_LIBVIRT_URI='" + g_libvirtd->uri() +
                          "' CMCL_LIBVIRT_STOP_WAIT=2 exec '" + kDriver + "' \"$@\"");
    package_ = Package("cmclrt7", "exec \"$CMCL_DRIVER_DIR/libvirt\" start",
                       "exec \"$CMCL_DRIVER_DIR/libvirt\" stop");
    package_.driver = "libvirt";
    package_.run_timeout = seconds(60);
    package_.halt_timeout = seconds(30);
    package_.kill_timeout = seconds(30);  // Loose: QEMU under TCG on a loaded machine.
    WriteFile(package_.folder + "/domain.xml", GuestXml("cmclrt7"));
  }
  void TearDown() override {
    if (g_skip_reason.empty()) {
      g_libvirtd->Virsh("destroy cmclrt7");
    }
  }
  config::PackageSpec package_;
};

TEST_F(LibvirtRealRunnerTest, RunStatusHaltAndKillThroughTheRunner) {
  const auto run = Do(Action("cmclrt7", GuestVerb::kRun, 21), package_);
  const auto running = Do(Action("cmclrt7", GuestVerb::kStatus, 21), package_);
  const auto halt = Do(Action("cmclrt7", GuestVerb::kHalt, 21), package_);
  const auto kill = Do(Action("cmclrt7", GuestVerb::kKill, 21), package_);
  const auto stopped = Do(Action("cmclrt7", GuestVerb::kStatus, 21), package_);

  EXPECT_EQ(run.result.status, GuestStatus::kRunning) << ReadFile(state_dir_ + "/log/cmclrt7.log");
  EXPECT_EQ(running.result.status, GuestStatus::kRunning);
  // No OS to power off: the halt fails, the guest still runs, and kill ends it.
  EXPECT_NE(halt.result.status, GuestStatus::kStopped);
  EXPECT_EQ(kill.result.status, GuestStatus::kStopped);
  EXPECT_EQ(stopped.result.status, GuestStatus::kStopped);
  const std::string log = ReadFile(state_dir_ + "/log/cmclrt7.log");
  EXPECT_THAT(log, HasSubstr("cmclrt7: started as a transient domain for epoch 21"));
  EXPECT_THAT(log, HasSubstr("cmclrt7: domain still 'running' 2s after virsh shutdown"));
  EXPECT_EQ(g_libvirtd->Virsh("domstate cmclrt7").code, 1);  // Gone: transient.
}

}  // namespace
}  // namespace cmcl::io::testing
