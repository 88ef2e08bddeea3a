// TapHub: a userspace Ethernet hub between network namespaces, with per-direction loss
// and delay — what `tc netem` would do, on a kernel that has no sch_netem (issue 11;
// netns_lab.h uses it when asked for a lossy network).
//
// For node k and network m the hub creates a TAP device named ethM inside node k's
// namespace (a thread enters the namespace with setns and opens /dev/net/tun there; the
// device lives as long as the hub holds its descriptor). One thread polls every TAP:
// a frame read from node k's ethM is offered to every other node j's ethM (a hub: the
// receiving kernel ignores frames for another MAC), each copy dropped with the
// probability set for k→j, or delayed by the delay set for k→j (frames of one direction
// keep their order), and dropped outright while k's or j's cable on m is pulled. The
// random drops come from a generator seeded with a fixed seed per hub, so a run's
// pattern depends only on the traffic.
//
// The destructor stops the thread and closes every TAP (the devices go with it).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cmcl::testing {

class TapHub {
 public:
  struct Impairment {
    double loss = 0;   // Probability that a frame is dropped, 0..1.
    int delay_ms = 0;  // Added to every frame that is not dropped.
  };

  // `netns[k]` is node k's /run/netns path. ok() false (and error()) when a TAP could not
  // be made; the caller then deletes what it made.
  TapHub(const std::vector<std::string>& netns, int networks);
  ~TapHub();
  TapHub(const TapHub&) = delete;
  TapHub& operator=(const TapHub&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  static std::string Device(int network) { return "eth" + std::to_string(network); }

  // Frames from `from` to `to`, on every network, or on `network` only.
  void Set(int from, int to, Impairment impairment, int network = -1);
  void SetCable(int node, int network, bool up);
  // Frames the hub dropped on purpose (loss and pulled cables) and passed, so far.
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t passed() const { return passed_.load(); }

 private:
  struct Pending;
  void Run();
  size_t Link(int network, int from, int to) const {
    return static_cast<size_t>((network * nodes_ + from) * nodes_ + to);
  }
  int Fd(int node, int network) const {
    return fds_[static_cast<size_t>(node * networks_ + network)];
  }

  int nodes_;
  int networks_;
  std::string error_;
  std::vector<int> fds_;  // node * networks + network.
  int stop_fd_ = -1;      // An eventfd: the thread ends when it is written.
  mutable std::mutex mu_;
  std::vector<Impairment> impairments_;  // (network * nodes + from) * nodes + to.
  std::vector<bool> cables_;             // node * networks + network.
  std::mt19937_64 random_{20261126};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> passed_{0};
  std::thread thread_;
};

}  // namespace cmcl::testing
