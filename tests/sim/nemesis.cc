#include "tests/sim/nemesis.h"

#include <algorithm>
#include <utility>

namespace cmcl::sim {
namespace {

Duration Around(Rng& rng, Duration mean) {  // Uniform in [mean / 2, 3/2 x mean].
  return Duration(rng.Between(mean.count() / 2, mean.count() * 3 / 2));
}

std::vector<size_t> Shuffled(Rng& rng, size_t n) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  for (size_t i = n; i > 1; --i) {
    std::swap(order[i - 1], order[rng.Uniform(i)]);
  }
  return order;
}

// Both directions between every node of `a` and every node of `b`.
std::set<Link> Between(const std::vector<NodeName>& a, const std::vector<NodeName>& b) {
  std::set<Link> links;
  for (const NodeName& x : a) {
    for (const NodeName& y : b) {
      links.insert({x, y});
      links.insert({y, x});
    }
  }
  return links;
}

// A random split in two non-empty sides, or the leader (if any) against the rest.
std::set<Link> RandomSplit(NemesisHost& host, Rng& rng, std::string& text) {
  const std::vector<NodeName>& names = host.Names();
  const std::optional<size_t> leader = host.LeaderIndex();
  std::vector<NodeName> side_a;
  std::vector<NodeName> side_b;
  if (leader && rng.Chance(1, 2)) {
    side_a.push_back(names[*leader]);
  } else {
    side_a.push_back(names[rng.Uniform(names.size())]);
  }
  for (const NodeName& name : names) {
    if (name != side_a.front()) {
      (side_a.size() + 1 < names.size() && rng.Chance(1, 3) ? side_a : side_b).push_back(name);
    }
  }
  text = "split";
  for (const NodeName& name : side_a) {
    text += " " + name.value();
  }
  text += " |";
  return Between(side_a, side_b);
}

// Per-node nemeses encode (generation, node, step) in the tag, so that a step scheduled
// for an earlier episode of a node is recognised and ignored.
uint64_t Tag(uint64_t generation, size_t node, uint64_t step) {
  return (generation << 16) | (static_cast<uint64_t>(node) << 4) | step;
}
size_t TagNode(uint64_t tag) { return static_cast<size_t>((tag >> 4) & 0xfff); }
uint64_t TagStep(uint64_t tag) { return tag & 0xf; }
uint64_t TagGeneration(uint64_t tag) { return tag >> 16; }

// Daemon crash (kCrashRestart) or node crash (kNodeCrash), then a restart.
class CrashRestart final : public Nemesis {
 public:
  CrashRestart(const SimOptions& options, Rng rng, size_t index, NemesisKind kind)
      : options_(options),
        rng_(std::move(rng)),
        index_(index),
        kind_(kind),
        interval_(kind == NemesisKind::kNodeCrash ? options.node_crash_interval_mean
                                                  : options.crash_interval_mean) {}
  NemesisKind kind() const override { return kind_; }
  void Start(NemesisHost& host) override {
    for (size_t node = 0; node < host.Names().size(); ++node) {
      const Duration first = Duration(rng_.Between(0, 2 * interval_.count()));
      host.ScheduleNemesis(host.Now() + first, index_, Tag(0, node, 0));
    }
  }
  void Act(NemesisHost& host, uint64_t tag) override {
    const size_t node = TagNode(tag);
    if (TagStep(tag) == 1) {
      if (!host.IsRunning(node)) {
        host.RestartNode(node);
      }
      return;
    }
    if (host.IsRunning(node)) {
      if (kind_ == NemesisKind::kNodeCrash) {
        host.CrashWholeNode(node);
      } else {
        host.CrashNode(node);
      }
      const Duration down =
          Duration(rng_.Between(options_.downtime_min.count(), options_.downtime_max.count()));
      host.ScheduleNemesis(host.Now() + down, index_, Tag(0, node, 1));
    }
    host.ScheduleNemesis(host.Now() + Around(rng_, interval_), index_, Tag(0, node, 0));
  }
  void Heal(NemesisHost& host) override {
    for (size_t node = 0; node < host.Names().size(); ++node) {
      if (!host.IsRunning(node)) {
        host.RestartNode(node);
      }
    }
  }

 private:
  SimOptions options_;
  Rng rng_;
  size_t index_;
  NemesisKind kind_;
  Duration interval_;
};

class Pause final : public Nemesis {
 public:
  Pause(const SimOptions& options, Rng rng, size_t index)
      : options_(options), rng_(std::move(rng)), index_(index) {}
  NemesisKind kind() const override { return NemesisKind::kPause; }
  void Start(NemesisHost& host) override {
    generation_.assign(host.Names().size(), 0);
    for (size_t node = 0; node < host.Names().size(); ++node) {
      const Duration first = Duration(rng_.Between(0, 2 * options_.pause_interval_mean.count()));
      host.ScheduleNemesis(host.Now() + first, index_, Tag(0, node, 0));
    }
  }
  void Act(NemesisHost& host, uint64_t tag) override {
    const size_t node = TagNode(tag);
    if (TagStep(tag) == 1) {  // Resume, if this is still the pause that scheduled it.
      if (TagGeneration(tag) == generation_[node] && host.IsPaused(node)) {
        host.ResumeNode(node);
      }
      return;
    }
    if (host.IsRunning(node) && !host.IsPaused(node)) {
      host.PauseNode(node);
      ++generation_[node];
      // Short stalls (a GC, a slow disk) and stalls far beyond node_timeout.
      const Duration paused = Duration(rng_.Between(1, options_.pause_max.count()));
      host.ScheduleNemesis(host.Now() + paused, index_, Tag(generation_[node], node, 1));
    }
    host.ScheduleNemesis(host.Now() + Around(rng_, options_.pause_interval_mean), index_,
                         Tag(0, node, 0));
  }
  void Heal(NemesisHost& host) override {
    for (size_t node = 0; node < host.Names().size(); ++node) {
      if (host.IsPaused(node)) {
        host.ResumeNode(node);
      }
    }
  }

 private:
  SimOptions options_;
  Rng rng_;
  size_t index_;
  std::vector<uint64_t> generation_;
};

class Partition final : public Nemesis {
 public:
  Partition(const SimOptions& options, Rng rng, size_t index)
      : options_(options), rng_(std::move(rng)), index_(index) {}
  NemesisKind kind() const override { return NemesisKind::kPartition; }
  void Start(NemesisHost& host) override {
    host.ScheduleNemesis(host.Now() + options_.partition_interval_min, index_, 0);
  }
  void Act(NemesisHost& host, uint64_t) override {
    std::string text;
    host.Network().SetBlocked("partition", Choose(host, text));
    host.TraceNemesis("-", "partition", text);
    const int64_t min = options_.partition_interval_min.count();
    host.ScheduleNemesis(host.Now() + Duration(rng_.Between(min, 2 * min)), index_, 0);
  }
  void Heal(NemesisHost& host) override { host.Network().SetBlocked("partition", {}); }

 private:
  std::set<Link> Choose(NemesisHost& host, std::string& text) {
    const std::vector<NodeName>& names = host.Names();
    const uint64_t mode = rng_.Uniform(4);
    if (mode == 0) {
      text = "heal";
      return {};
    }
    if (mode == 1 || mode == 2) {  // Symmetric: isolate one node (often the leader), or split.
      return RandomSplit(host, rng_, text);
    }
    std::set<Link> links;  // Asymmetric: each directed link blocked with probability 1/3.
    text = "one-way";
    for (const NodeName& from : names) {
      for (const NodeName& to : names) {
        if (from != to && rng_.Chance(1, 3)) {
          links.insert({from, to});
          text += " " + from.value() + ">" + to.value();
        }
      }
    }
    return links;
  }

  SimOptions options_;
  Rng rng_;
  size_t index_;
};

class FlappingPartition final : public Nemesis {
 public:
  FlappingPartition(const SimOptions& options, Rng rng, size_t index)
      : options_(options), rng_(std::move(rng)), index_(index) {}
  NemesisKind kind() const override { return NemesisKind::kFlappingPartition; }
  void Start(NemesisHost& host) override {
    host.ScheduleNemesis(host.Now() + Duration(rng_.Between(0, 5000)), index_, 0);
  }
  void Act(NemesisHost& host, uint64_t tag) override {
    if (tag == 0) {  // A new episode: one split, flapped `flaps_left_` times.
      std::string text;
      split_ = RandomSplit(host, rng_, text);
      flaps_left_ = rng_.Between(4, 16);
      up_ = false;
      host.TraceNemesis("-", "flap-start", text);
    }
    up_ = !up_ && flaps_left_ > 0;
    host.Network().SetBlocked("flapping", up_ ? split_ : std::set<Link>{});
    host.TraceNemesis("-", "flap", up_ ? "split on" : "split off");
    if (flaps_left_-- > 0) {
      host.ScheduleNemesis(host.Now() + Around(rng_, options_.flap_period), index_, 1);
    } else {
      host.ScheduleNemesis(host.Now() + Duration(rng_.Between(1000, 8000)), index_, 0);
    }
  }
  void Heal(NemesisHost& host) override { host.Network().SetBlocked("flapping", {}); }

 private:
  SimOptions options_;
  Rng rng_;
  size_t index_;
  std::set<Link> split_;
  int64_t flaps_left_ = 0;
  bool up_ = false;
};

class OneWayLoss final : public Nemesis {
 public:
  OneWayLoss(const SimOptions& options, Rng rng, size_t index)
      : options_(options), rng_(std::move(rng)), index_(index) {}
  NemesisKind kind() const override { return NemesisKind::kOneWayLoss; }
  void Start(NemesisHost& host) override {
    host.ScheduleNemesis(host.Now() + Duration(rng_.Between(0, 5000)), index_, 0);
  }
  void Act(NemesisHost& host, uint64_t tag) override {
    const std::vector<NodeName>& names = host.Names();
    if (tag == 1) {
      host.Network().SetLoss("one_way_loss", {});
      host.TraceNemesis("-", "loss-stop", "");
      host.ScheduleNemesis(host.Now() + Duration(rng_.Between(500, 5000)), index_, 0);
      return;
    }
    std::map<Link, double> loss;
    std::string text;
    const int64_t links = rng_.Between(1, 3);
    for (int64_t i = 0; i < links; ++i) {
      const NodeName& from = names[rng_.Uniform(names.size())];
      const NodeName& to = names[rng_.Uniform(names.size())];
      if (from != to) {
        loss[{from, to}] = options_.one_way_loss;
        text += " " + from.value() + ">" + to.value();
      }
    }
    host.Network().SetLoss("one_way_loss", loss);
    host.TraceNemesis("-", "loss-start", std::to_string(options_.one_way_loss) + text);
    host.ScheduleNemesis(host.Now() + Duration(rng_.Between(500, 8000)), index_, 1);
  }
  void Heal(NemesisHost& host) override { host.Network().SetLoss("one_way_loss", {}); }

 private:
  SimOptions options_;
  Rng rng_;
  size_t index_;
};

class FarDelay final : public Nemesis {
 public:
  explicit FarDelay(const SimOptions& options) : options_(options) {}
  NemesisKind kind() const override { return NemesisKind::kFarDelay; }
  void Start(NemesisHost& host) override { host.Network().SetFarDelay(options_.delay_far); }
  void Act(NemesisHost&, uint64_t) override {}
  void Heal(NemesisHost& host) override { host.Network().SetFarDelay(0); }

 private:
  SimOptions options_;
};

class SwizzleClog final : public Nemesis {
 public:
  SwizzleClog(const SimOptions& options, Rng rng, size_t index)
      : options_(options), rng_(std::move(rng)), index_(index) {}
  NemesisKind kind() const override { return NemesisKind::kSwizzleClog; }
  void Start(NemesisHost& host) override {
    host.ScheduleNemesis(host.Now() + Duration(rng_.Between(0, 5000)), index_, 0);
  }
  void Act(NemesisHost& host, uint64_t tag) override {
    const size_t n = host.Names().size();
    if (tag == 0) {  // A new episode: the nodes to clog, in order.
      order_ = Shuffled(rng_, n);
      order_.resize(static_cast<size_t>(rng_.Between(1, static_cast<int64_t>(n))));
      step_ = 0;
    }
    if (step_ < order_.size()) {  // Clog one more.
      clogged_.insert(order_[step_++]);
      if (step_ == order_.size()) {
        unclog_ = std::vector<size_t>(clogged_.begin(), clogged_.end());
        const std::vector<size_t> shuffle = Shuffled(rng_, unclog_.size());
        std::vector<size_t> reordered;
        for (const size_t i : shuffle) {
          reordered.push_back(unclog_[i]);
        }
        unclog_ = reordered;
      }
    } else if (!unclog_.empty()) {  // Unclog one, in random order.
      clogged_.erase(unclog_.back());
      unclog_.pop_back();
    }
    Apply(host);
    if (clogged_.empty()) {
      host.ScheduleNemesis(host.Now() + Duration(rng_.Between(1000, 8000)), index_, 0);
    } else {
      host.ScheduleNemesis(host.Now() + Around(rng_, options_.clog_step), index_, 1);
    }
  }
  void Heal(NemesisHost& host) override {
    clogged_.clear();
    Apply(host);
  }

 private:
  // Clogs exactly the links that touch a clogged node.
  void Apply(NemesisHost& host) {
    const std::vector<NodeName>& names = host.Names();
    std::set<Link> want;
    std::string text;
    for (const size_t node : clogged_) {
      text += " " + names[node].value();
      for (const NodeName& other : names) {
        if (other != names[node]) {
          want.insert({names[node], other});
          want.insert({other, names[node]});
        }
      }
    }
    for (const Link& link : links_) {
      if (!want.contains(link)) {
        host.Unclog(link);
      }
    }
    for (const Link& link : want) {
      if (!links_.contains(link)) {
        host.Clog(link);
      }
    }
    links_ = want;
    host.TraceNemesis("-", "clogged", text.empty() ? " none" : text);
  }

  SimOptions options_;
  Rng rng_;
  size_t index_;
  std::vector<size_t> order_;
  size_t step_ = 0;
  std::set<size_t> clogged_;
  std::vector<size_t> unclog_;
  std::set<Link> links_;
};

class ClockDrift final : public Nemesis {
 public:
  ClockDrift(const SimOptions& options, Rng rng, size_t index)
      : options_(options), rng_(std::move(rng)), index_(index) {}
  NemesisKind kind() const override { return NemesisKind::kClockDrift; }
  void Start(NemesisHost& host) override {
    for (size_t node = 0; node < host.Names().size(); ++node) {
      host.ScheduleNemesis(host.Now() + Around(rng_, options_.clock_change_interval), index_,
                           Tag(0, node, 0));
    }
  }
  void Act(NemesisHost& host, uint64_t tag) override {
    const size_t node = TagNode(tag);
    const int64_t max = options_.clock_drift_max_ppm;
    host.SetClockDrift(node, rng_.Between(-max, max));
    host.ScheduleNemesis(host.Now() + Around(rng_, options_.clock_change_interval), index_, tag);
  }
  void Heal(NemesisHost&) override {}  // Drift within the bound is no fault to heal.

 private:
  SimOptions options_;
  Rng rng_;
  size_t index_;
};

}  // namespace

std::unique_ptr<Nemesis> MakeNemesis(NemesisKind kind, const SimOptions& options, Rng rng,
                                     size_t index) {
  switch (kind) {
    case NemesisKind::kCrashRestart:
    case NemesisKind::kNodeCrash:
      return std::make_unique<CrashRestart>(options, std::move(rng), index, kind);
    case NemesisKind::kPause:
      return std::make_unique<Pause>(options, std::move(rng), index);
    case NemesisKind::kPartition:
      return std::make_unique<Partition>(options, std::move(rng), index);
    case NemesisKind::kFlappingPartition:
      return std::make_unique<FlappingPartition>(options, std::move(rng), index);
    case NemesisKind::kOneWayLoss:
      return std::make_unique<OneWayLoss>(options, std::move(rng), index);
    case NemesisKind::kFarDelay:
      return std::make_unique<FarDelay>(options);
    case NemesisKind::kSwizzleClog:
      return std::make_unique<SwizzleClog>(options, std::move(rng), index);
    case NemesisKind::kClockDrift:
      return std::make_unique<ClockDrift>(options, std::move(rng), index);
  }
  return nullptr;
}

}  // namespace cmcl::sim
