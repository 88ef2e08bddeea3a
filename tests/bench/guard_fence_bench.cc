// guard_fence_bench: how soon after its deadline the real cmcl-guard fences, with cmcld
// gone (DESIGN.md section 4, F4). Not a test: it prints one JSON line.
//
//   guard_fence_bench GUARD_BINARY [--guests N] [--rounds R]
//
// Each round: a fresh state dir, GuardClient::Attach starts a guard, N guests are
// registered, each with a shell driver (kill touches a file, status then says 7 =
// stopped), the deadline is set 300 ms ahead, the client is destroyed (a cmcld crash),
// and the bench waits until the guard's log says every guest stopped. From the guard's
// log (CLOCK_BOOTTIME, millisecond resolution): `start` = how late each fence began
// ("deadline passed by X ms"), `stopped` = deadline -> "stopped" (kill and status both
// ran and exited). The guard is SIGKILLed at the end of each round.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cmcld/io/clock.h"
#include "cmcld/io/guard/guard_client.h"

namespace {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The integers that follow `marker` and precede `unit` on each log line with `marker`.
std::vector<long> Numbers(const std::string& log, const std::string& marker,
                          const std::string& unit) {
  std::vector<long> numbers;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    const size_t end = line.find(unit, at + marker.size());
    if (end == std::string::npos) continue;
    const std::string text = line.substr(at + marker.size(), end - at - marker.size());
    const size_t digits = text.find_last_of(' ');
    numbers.push_back(
        std::strtol(text.c_str() + (digits == std::string::npos ? 0 : digits + 1), nullptr, 10));
  }
  return numbers;
}

long Percentile(std::vector<long> values, double p) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[index];
}

// One round; appends its start and stop latencies. False if the guests did not all stop.
bool Round(const std::string& binary, int guests, std::vector<long>& start,
           std::vector<long>& stopped) {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/cmcl-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return false;
  const std::string dir = pattern;
  boost::asio::io_context io;
  auto client = cmcl::io::GuardClient::Attach(
      io, {.state_dir = dir, .guard_binary = binary, .fence_timeout = 300ms}, {}, {});
  if (!client.ok()) {
    std::fprintf(stderr, "attach: %s\n", client.status().ToString().c_str());
    return false;
  }
  const pid_t guard = (*client)->guard_pid();
  const std::string driver = dir + "/driver";
  std::ofstream(driver) << "#!/bin/sh\ncase \"$1\" in\n  kill) touch \"" << dir
                        << "/killed.$CMCL_PACKAGE\"; exit 0;;\n  status) [ -e \"" << dir
                        << "/killed.$CMCL_PACKAGE\" ] && exit 7; exit 0;;\nesac\nexit 1\n";
  std::filesystem::permissions(driver, std::filesystem::perms::owner_all);
  uint64_t id = 0;
  for (int i = 0; i < guests; ++i) {
    const std::string name = "guest" + std::to_string(i);
    const cmcl::io::GuardGuest guest{
        .guest = {.resource = cmcl::PackageName(name), .epoch = cmcl::raft::LogIndex(1)},
        .driver = driver,
        .work_dir = dir,
        .env = {"CMCL_PACKAGE=" + name}};
    (*client)->Submit({.id = ++id, .request = cmcl::node::Register{.guest = guest.guest}}, &guest);
  }
  (*client)->Submit(
      {.id = ++id, .request = cmcl::node::SetDeadline{.deadline = cmcl::io::BootNow() + 300ms}});
  client.value().reset();  // Flushes the requests and closes: a crash, to the guard.
  const auto until = std::chrono::steady_clock::now() + 5s;
  std::string log;
  while (std::chrono::steady_clock::now() < until) {
    log = ReadFile(dir + "/guard.log");
    if (static_cast<int>(Numbers(log, "stopped (", " after the deadline").size()) >= guests) break;
    std::this_thread::sleep_for(5ms);
  }
  ::kill(guard, SIGKILL);
  ::waitpid(guard, nullptr, 0);
  std::filesystem::remove_all(dir);
  const std::vector<long> round_start = Numbers(log, "deadline passed by", " ms;");
  const std::vector<long> round_stopped = Numbers(log, "stopped (", " ms after the deadline");
  start.insert(start.end(), round_start.begin(), round_start.end());
  stopped.insert(stopped.end(), round_stopped.begin(), round_stopped.end());
  return static_cast<int>(round_stopped.size()) == guests;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: guard_fence_bench GUARD_BINARY [--guests N] [--rounds R]\n");
    return 2;
  }
  int guests = 8;
  int rounds = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--guests") == 0) guests = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::warn);  // stdout carries the one JSON line.
  std::vector<long> start;
  std::vector<long> stopped;
  int complete = 0;
  for (int round = 0; round < rounds; ++round) complete += Round(argv[1], guests, start, stopped);
  std::printf(
      "{\"bench\":\"guard_fence\",\"guests\":%d,\"rounds\":%d,\"complete_rounds\":%d,"
      "\"start_late_ms\":{\"p50\":%ld,\"max\":%ld},"
      "\"stopped_after_deadline_ms\":{\"p50\":%ld,\"p90\":%ld,\"max\":%ld}}\n",
      guests, rounds, complete, Percentile(start, 0.5), Percentile(start, 1.0),
      Percentile(stopped, 0.5), Percentile(stopped, 0.9), Percentile(stopped, 1.0));
  return 0;
}
