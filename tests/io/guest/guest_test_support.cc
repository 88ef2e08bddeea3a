#include "guest_test_support.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cmcl::io::testing {
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text, bool executable) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
  if (executable) chmod(path.c_str(), 0755);
}

namespace {

// Fields of /proc/PID/stat after the command name: state, ppid, pgrp.
bool StatOf(const std::string& pid, char& state, long& pgid) {
  const std::string stat = ReadFile("/proc/" + pid + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream rest(stat.substr(paren + 2));
  long ppid = 0;
  rest >> state >> ppid >> pgid;
  return static_cast<bool>(rest);
}

void KillRecorded(const std::string& file) {
  std::istringstream in(ReadFile(file));
  long pid = 0;
  while (in >> pid) {
    if (pid <= 1) continue;
    kill(static_cast<pid_t>(-pid), SIGKILL);
    kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

}  // namespace

bool GroupAlive(pid_t pgid) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return false;
  bool alive = false;
  while (dirent* entry = readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    char state = 0;
    long group = 0;
    if (StatOf(name, state, group) && group == pgid && state != 'Z' && state != 'X') {
      alive = true;
      break;
    }
  }
  closedir(proc);
  return alive;
}

bool GroupGoneWithin(pid_t pgid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (GroupAlive(pgid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    usleep(5000);
  }
  return true;
}

bool ProcessAlive(pid_t pid) {
  char state = 0;
  long group = 0;
  return StatOf(std::to_string(pid), state, group) && state != 'Z' && state != 'X';
}

GuestRunnerTest::GuestRunnerTest() : work_(boost::asio::make_work_guard(io_)) {
  char pattern[] = "/tmp/cmcl-guest-test-XXXXXX";
  dir_ = mkdtemp(pattern);
  state_dir_ = dir_ + "/state";
  driver_dir_ = dir_ + "/drivers";
  fs::create_directories(driver_dir_);
}

GuestRunnerTest::~GuestRunnerTest() {
  runner_.reset();  // SIGKILLs the groups of scripts still running.
  for (const pid_t group : groups_) kill(-group, SIGKILL);
  KillRecorded(dir_ + "/pids");
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(dir_, error)) {
    if (entry.path().extension() == ".pid") KillRecorded(entry.path());
  }
  fs::remove_all(dir_, error);
}

config::PackageSpec GuestRunnerTest::Package(const std::string& name, const std::string& run_body,
                                             const std::string& halt_body) {
  auto expand = [this](std::string body) {
    for (auto at = body.find("%D%"); at != std::string::npos; at = body.find("%D%", at)) {
      body.replace(at, 3, dir_);
    }
    return "#!/bin/sh\n" + body + "\n";
  };
  config::PackageSpec spec;
  spec.name = PackageName(name);
  spec.folder = dir_ + "/packages/" + name;
  spec.run_script = "run.sh";
  spec.halt_script = "halt.sh";
  spec.run_timeout = std::chrono::seconds(5);
  spec.halt_timeout = std::chrono::seconds(5);
  spec.kill_timeout = std::chrono::seconds(2);
  spec.guest.vcpus = 2;
  spec.guest.memory = ByteSize::FromMebibytes(512);
  spec.guest.label = "test guest";
  spec.guest.storage.push_back(
      {dir_ + "/disks/" + name + ".img", config::StorageType::kDisk, std::nullopt, false, {}});
  WriteFile(spec.folder + "/run.sh", expand(run_body), true);
  WriteFile(spec.folder + "/halt.sh", expand(halt_body), true);
  return spec;
}

void GuestRunnerTest::Driver(const std::string& name, const std::string& body) {
  std::string text = body;
  for (auto at = text.find("%D%"); at != std::string::npos; at = text.find("%D%", at)) {
    text.replace(at, 3, dir_);
  }
  WriteFile(driver_dir_ + "/" + name, "#!/bin/sh\n" + text + "\n", true);
}

GuestRunner::Options GuestRunnerTest::RunnerOptions(const std::string& node) const {
  GuestRunner::Options options;
  options.node = NodeName(node);
  options.state_dir = state_dir_;
  options.driver_dir = driver_dir_;
  options.monitor_interval = std::chrono::milliseconds(50);
  return options;
}

GuestRunner& GuestRunnerTest::Runner(std::optional<GuestRunner::Options> options) {
  if (!runner_) {
    runner_ = std::make_unique<GuestRunner>(
        io_, options.value_or(RunnerOptions()),
        [this](const node::GuestRef& guest, node::GuestVerb verb, const node::GuestResult& result) {
          reports_.push_back({guest, verb, result, std::chrono::steady_clock::now()});
        },
        [this](const PackageName&, int pgid) { groups_.push_back(pgid); });
  }
  return *runner_;
}

node::GuestAction GuestRunnerTest::Action(const std::string& package, node::GuestVerb verb,
                                          uint64_t epoch) const {
  node::GuestAction action;
  action.guest = {PackageName(package), raft::LogIndex(epoch)};
  action.verb = verb;
  return action;
}

void GuestRunnerTest::Submit(const node::GuestAction& action, const config::PackageSpec& package) {
  Runner().Submit(action, package, package.folder);
}

bool GuestRunnerTest::WaitReports(size_t count, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (reports_.size() < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

void GuestRunnerTest::RunFor(std::chrono::milliseconds time) { io_.run_for(time); }

ReportRecord GuestRunnerTest::Do(const node::GuestAction& action,
                                 const config::PackageSpec& package) {
  const size_t before = reports_.size();
  Submit(action, package);
  if (!WaitReports(before + 1)) {
    ADD_FAILURE() << "no report within 10s";
    return {};
  }
  return reports_.at(before);
}

}  // namespace cmcl::io::testing
