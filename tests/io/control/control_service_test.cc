// The control API end to end (cmcld/io/control/control_service.h): a real node::Node
// (a one-voter cluster, tests/support/node_cluster.h, its fake host running guests at
// once) behind a ControlService on a Unix socket in a temporary folder, driven on an io
// thread by real time, and called by the built pkgctl binary as operators call it.
//
// The configuration has a second member, n2, that is not a voter and never runs: the
// node elects itself, places p1 (auto_run) on n1, leaves p2 (auto_run false) down, and
// any move to n2 is refused by validation (n2 is not an up member).
#include "cmcld/io/control/control_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>

#include "cmcld/io/bundle/bundle.h"
#include "tests/support/node_cluster.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io {
namespace {

using node::testing::NodeCluster;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// CoreAccess around the test cluster's node n1. Proposals go in as NodeCluster's client,
// at the leader; the reply is the one it answered while the cluster settled.
class FakeCore : public CoreAccess {
 public:
  explicit FakeCore(NodeCluster& cluster) : cluster_(cluster) {}

  node::Node& node() override { return cluster_.node("n1"); }
  const config::ClusterConfig& config() const override { return cluster_.config(); }
  Time Now() const override { return cluster_.now; }
  void Propose(node::OpBatch ops, Time /*deadline*/,
               std::function<void(const raft::ClientReply&)> done) override {
    ++proposals;
    const size_t before = cluster_.replies.size();
    // The leader takes it (a runtime's Node forwards it there and retries until then).
    cluster_.ProposeOps(cluster_.Leader().value_or("n1"), ops);
    for (size_t i = before; i < cluster_.replies.size(); ++i) {
      if (cluster_.replies[i].client_id == raft::ClientId(77)) return done(cluster_.replies[i]);
    }
    done(raft::ClientReply{.client_id = raft::ClientId(77),
                           .sequence = 0,
                           .code = raft::ReplyCode::kNotLeader,
                           .applied_index = {},
                           .leader_hint = std::nullopt,
                           .detail = {}});
  }
  std::string AppliedBundleDir() const override { return bundle_dir; }
  std::string StateDirPath() const override { return state_dir; }
  std::string KeyFile() const override { return key_file; }
  std::map<NodeName, std::vector<NetworkStatus>> Networks() const override {
    return {{NodeName("n2"),
             {NetworkStatus{.address = SocketAddress{"127.0.0.1", 7102, false},
                            .up = false,
                            .last_heard_age = Duration(0)}}}};
  }

  int proposals = 0;
  std::string bundle_dir;
  std::string state_dir;
  std::string key_file;

 private:
  NodeCluster& cluster_;
};

std::shared_ptr<config::ClusterConfig> TwoMemberConfig(const config::ClusterConfig& base) {
  auto config = std::make_shared<config::ClusterConfig>(base);
  config->cluster_start_wait = Duration(50);
  // daemon (uid 1) may read; nobody (uid 65534) is not listed: refused everything.
  config->access.push_back(config::AccessRule{
      .user = "daemon", .group = std::nullopt, .role = config::AccessRole::kMonitor, .where = {}});
  config->nodes.front().addresses = {SocketAddress{"127.0.0.1", 7101, false}};
  if (config->FindNode(NodeName("n2")) == nullptr) {
    config::NodeSpec n2;
    n2.name = NodeName("n2");
    config->nodes.push_back(n2);
  }
  config->nodes.back().addresses = {SocketAddress{"127.0.0.1", 7102, false}};
  for (config::PackageSpec& package : config->packages) {
    package.all_nodes = false;
    package.nodes = {NodeName("n1"), NodeName("n2")};
    package.failover_policy = config::FailoverPolicy::kConfiguredNode;
    package.auto_run = package.name.value() == "p1";
  }
  return config;
}

struct Outcome {
  int exit_status = -1;
  std::string out;
  std::string err;
  std::chrono::milliseconds took{0};
};

class ControlServiceFixture : public ::testing::Test {
 protected:
  // `voters`: 1 (n2 is configured but never runs) or 2 (n2 runs too).
  explicit ControlServiceFixture(size_t voters) : cluster_(voters, {"p1", "p2"}), core_(cluster_) {
    ::chmod(dir_.path().c_str(), 0755);  // A caller of another uid reaches the socket.
    cluster_.options().raft.election_timeout_min = Duration(150);
    cluster_.options().raft.heartbeat_interval = Duration(30);
    cluster_.options().config = TwoMemberConfig(cluster_.config());
    cluster_.StartAll();
  }
  ~ControlServiceFixture() override {
    OnIo([this] {
      service_.reset();
      return 0;
    });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Starts the io thread, the clock that drives the node, and the service; waits until
  // p1 runs on n1.
  void StartService() {
    thread_ = std::thread([this] { io_.run(); });
    const Status started = OnIo([this] {
      service_ = std::make_unique<ControlService>(
          io_, core_,
          ControlService::Options{.socket_path = socket_,
                                  .default_timeout = std::chrono::seconds(10)});
      Tick();
      return service_->Start();
    });
    ASSERT_TRUE(started.ok()) << started.message();
    ASSERT_TRUE(WaitFor([this] {
      return cluster_.node("n1").state().StatusOf(PackageName("p1")) == node::PackageStatus::kUp;
    })) << "p1 did not come up";
  }

  // Every 5 ms of real time: the node's time follows, then the waiters are checked, as
  // the runtime does after every input.
  void Tick() {
    cluster_.RunUntil(Time::FromMilliseconds(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count()));
    if (service_) service_->OnApplied();
    timer_.expires_after(std::chrono::milliseconds(5));
    timer_.async_wait([this](const boost::system::error_code& error) {
      if (!error) Tick();
    });
  }

  // Runs `f` on the io thread (where the node lives) and returns its result.
  template <typename F>
  std::invoke_result_t<F> OnIo(F f) {
    if (!thread_.joinable()) return f();
    std::packaged_task<std::invoke_result_t<F>()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

  template <typename F>
  bool WaitFor(F condition) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (OnIo(condition)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  node::PackageStatus StatusOf(const std::string& package) {
    return OnIo([&] { return cluster_.node("n1").state().StatusOf(PackageName(package)); });
  }

  // `prefix pkgctl --socket SOCKET arguments`, through the shell; its output goes to
  // NAME.out and NAME.err (distinct names for calls made in parallel).
  // An alias: pkgctl through a symlink named `alias`, with $CMCL_SOCKET set.
  Outcome Alias(const std::string& alias, const std::string& arguments) {
    const std::filesystem::path link = dir_.path() + "/bin/" + alias;
    std::filesystem::create_directories(link.parent_path());
    if (!std::filesystem::exists(link)) std::filesystem::create_symlink(PKGCTL_BINARY, link);
    const std::string command = "CMCL_SOCKET=" + socket_ + " " + link.string() + " " + arguments +
                                " >" + (dir_ / "alias.out") + " 2>" + (dir_ / "alias.err");
    const int status = std::system(command.c_str());
    Outcome outcome;
    outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.out = Slurp("alias.out");
    outcome.err = Slurp("alias.err");
    return outcome;
  }

  Outcome Pkgctl(const std::string& arguments, const std::string& prefix = "",
                 const std::string& socket = "", const std::string& name = "pkgctl") {
    const std::string command = prefix + " " PKGCTL_BINARY " --socket " +
                                (socket.empty() ? socket_ : socket) + " " + arguments + " >" +
                                (dir_ / (name + ".out")) + " 2>" + (dir_ / (name + ".err"));
    const auto began = Clock::now();
    const int status = std::system(command.c_str());
    Outcome outcome;
    outcome.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
    outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.out = Slurp(name + ".out");
    outcome.err = Slurp(name + ".err");
    return outcome;
  }
  std::string Slurp(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static boost::property_tree::ptree Json(const std::string& text) {
    boost::property_tree::ptree tree;
    std::istringstream in(text);
    boost::property_tree::read_json(in, tree);
    return tree;
  }

  testing::TempDir dir_;
  std::string socket_ = dir_ / "run/cmcld.sock";
  NodeCluster cluster_;
  FakeCore core_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  boost::asio::steady_timer timer_{io_};
  Clock::time_point start_ = Clock::now();
  std::unique_ptr<ControlService> service_;
  std::thread thread_;
};

class ControlServiceTest : public ControlServiceFixture {
 protected:
  ControlServiceTest() : ControlServiceFixture(1) {}
};

// Both nodes run: n1 (the one the service serves on) may be a follower.
class TwoVoterControlServiceTest : public ControlServiceFixture {
 protected:
  TwoVoterControlServiceTest() : ControlServiceFixture(2) {}
};

TEST_F(TwoVoterControlServiceTest, AMoveWaitsUntilTheGuestRunsOnTheTarget) {
  StartService();

  const Outcome outcome = Pkgctl("move p1 -n n2 --memory 2GiB");

  EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("n2"));
  EXPECT_EQ(OnIo([this] { return cluster_.Holders("p1"); }), std::vector<std::string>{"n2"});
  const std::optional<uint64_t> memory_mb = OnIo(
      [this] { return cluster_.node("n1").state().FindPackage(PackageName("p1"))->memory_mb; });
  EXPECT_EQ(memory_mb, std::optional<uint64_t>(2048));
}

TEST_F(ControlServiceTest, ViewJsonHasTheDocumentedFields) {
  StartService();

  const Outcome outcome = Pkgctl("-o json view");

  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const boost::property_tree::ptree view = Json(outcome.out);
  EXPECT_EQ(view.get<std::string>("as_of.node"), "n1");
  EXPECT_GT(view.get<uint64_t>("as_of.applied_index"), 0U);
  EXPECT_EQ(view.get<std::string>("cluster.name"), "test");
  EXPECT_EQ(view.get<std::string>("cluster.status"), "up");
  EXPECT_EQ(view.get<std::string>("cluster.coordinator"), "n1");
  EXPECT_EQ(view.get<std::string>("cluster.quorum"), "true");
  EXPECT_EQ(view.get<std::string>("cluster.mode"), "normal");
  std::map<std::string, std::string> nodes;
  for (const auto& [unused, node] : view.get_child("nodes")) {
    nodes[node.get<std::string>("name")] =
        node.get<std::string>("status") + "/" + node.get<std::string>("state");
  }
  EXPECT_EQ(nodes,
            (std::map<std::string, std::string>{{"n1", "up/running"}, {"n2", "down/unknown"}}));
  std::map<std::string, std::string> packages;
  for (const auto& [unused, package] : view.get_child("packages")) {
    packages[package.get<std::string>("name")] =
        package.get<std::string>("status") + "@" + package.get<std::string>("node");
    EXPECT_EQ(package.get<std::string>("guest.memory_mb"), "1024");
    EXPECT_EQ(package.get_child("switching").size(), 2U);
  }
  EXPECT_EQ(packages, (std::map<std::string, std::string>{{"p1", "up@n1"}, {"p2", "down@null"}}));
}

TEST_F(ControlServiceTest, ViewTableListsPackagesAndAnUnknownNameGetsASuggestion) {
  StartService();

  const Outcome table = Pkgctl("view");
  const Outcome unknown = Pkgctl("view p3");

  EXPECT_EQ(table.exit_status, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("PACKAGE"));
  EXPECT_THAT(table.out, HasSubstr("p1       up      running  n1"));
  EXPECT_EQ(unknown.exit_status, 1);
  EXPECT_THAT(unknown.err, HasSubstr("\"p3\" is neither a package nor a node; did you mean"));
}

TEST_F(ControlServiceTest, RunAndHaltWaitForTheOutcomeAndPrintIt) {
  StartService();

  const Outcome run = Pkgctl("run p2");
  const node::PackageStatus after_run = StatusOf("p2");
  const Outcome halt = Pkgctl("-o json halt p2");
  const node::PackageStatus after_halt = StatusOf("p2");

  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("n1"));
  EXPECT_EQ(after_run, node::PackageStatus::kUp);
  EXPECT_EQ(halt.exit_status, 0) << halt.err;
  EXPECT_EQ(Json(halt.out).get<std::string>("ok"), "true");
  EXPECT_EQ(after_halt, node::PackageStatus::kDown);
}

TEST_F(ControlServiceTest, EventsRecordWhoIssuedACommand) {
  StartService();
  ASSERT_EQ(Pkgctl("run p2").exit_status, 0);

  const Outcome events = Pkgctl("-o json events --limit 2");

  ASSERT_EQ(events.exit_status, 0) << events.err;
  const boost::property_tree::ptree list = Json(events.out);
  EXPECT_LE(list.size(), 2U);
  EXPECT_THAT(Pkgctl("events").out, HasSubstr("p2: run (root@n1)"));
}

TEST_F(ControlServiceTest, NoWaitAnswersOnceCommitted) {
  StartService();
  OnIo([this] { return cluster_.host("n1").hold.insert(PackageName("p2")).second; });

  const Outcome outcome = Pkgctl("run p2 --no-wait");

  EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("run p2: committed at index"));
  EXPECT_EQ(StatusOf("p2"), node::PackageStatus::kStarting);
}

TEST_F(ControlServiceTest, ATimeoutExitsFourWhileTheOperationGoesOn) {
  StartService();
  // The run script never ends: the package stays starting.
  OnIo([this] { return cluster_.host("n1").hold.insert(PackageName("p2")).second; });

  const Outcome outcome = Pkgctl("run p2 --timeout 300ms");

  EXPECT_EQ(outcome.exit_status, 4) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("no outcome within 300ms; it was committed and goes on"));
  EXPECT_LT(outcome.took, std::chrono::seconds(3));
  EXPECT_EQ(StatusOf("p2"), node::PackageStatus::kStarting);
}

TEST_F(ControlServiceTest, AnUnknownPackageIsRefusedWithDidYouMean) {
  StartService();

  const Outcome outcome = Pkgctl("halt q1");
  const Outcome json = Pkgctl("-o json run p1 -n nx2");

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_EQ(outcome.err, "pkgctl: unknown package \"q1\"; did you mean \"p1\"?\n");
  EXPECT_EQ(json.exit_status, 1);
  EXPECT_EQ(Json(json.out).get<std::string>("error.code"), "not_found");
  EXPECT_THAT(json.out, HasSubstr("unknown node \\\"nx2\\\"; did you mean \\\"n2\\\"?"));
  EXPECT_EQ(core_.proposals, 0);
}

TEST_F(ControlServiceTest, AMoveRefusedByValidationListsTheViolationsAndHaltsNothing) {
  StartService();

  const Outcome json = Pkgctl("-o json move p1 -n n2");
  const Outcome table = Pkgctl("move p1 -n n2");

  EXPECT_EQ(json.exit_status, 1);
  const boost::property_tree::ptree error = Json(json.out);
  EXPECT_EQ(error.get<std::string>("error.code"), "validation_failed");
  std::vector<std::string> codes;
  for (const auto& [unused, violation] : error.get_child("error.violations")) {
    EXPECT_EQ(violation.get<std::string>("node"), "n2");
    codes.push_back(violation.get<std::string>("code"));
  }
  EXPECT_THAT(codes, ::testing::Contains("target_not_member"));
  EXPECT_EQ(table.exit_status, 1);
  EXPECT_THAT(table.err, HasSubstr("keeps running on n1\nn2: target_not_member: "));
  EXPECT_EQ(core_.proposals, 0);
  EXPECT_EQ(StatusOf("p1"), node::PackageStatus::kUp);
}

TEST_F(ControlServiceTest, CheckAndReadinessAnswerFromTheLiveState) {
  StartService();

  const Outcome check = Pkgctl("check p1 -n n2");
  const Outcome readiness = Pkgctl("-o json readiness");

  EXPECT_EQ(check.exit_status, 1);
  EXPECT_THAT(check.out, HasSubstr("check p1 (source n1)\n  n2: target_not_member: "));
  EXPECT_EQ(readiness.exit_status, 0) << readiness.err;
  const boost::property_tree::ptree list = Json(readiness.out);
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list.front().second.get<std::string>("package"), "p1");
}

TEST_F(ControlServiceTest, AMonitorMayReadButNotRun) {
  StartService();
  const std::string monitor = "setpriv --reuid=1 --regid=1 --clear-groups";

  const Outcome run = Pkgctl("run p2", monitor);
  const Outcome view = Pkgctl("view p2", monitor);
  const Outcome events = Pkgctl("events", monitor);

  EXPECT_EQ(run.exit_status, 1) << run.err;
  EXPECT_EQ(run.err,
            "pkgctl: permission denied: daemon (uid 1) has role monitor; this command needs "
            "package_admin\n");
  EXPECT_EQ(core_.proposals, 0);
  EXPECT_EQ(StatusOf("p2"), node::PackageStatus::kDown);
  EXPECT_EQ(view.exit_status, 0) << view.err;
  EXPECT_EQ(events.exit_status, 0) << events.err;
}

// DESIGN.md section 9: anyone not listed is refused, reading included.
TEST_F(ControlServiceTest, ACallerNotInTheAccessListMayNotEvenRead) {
  StartService();
  const std::string other = "setpriv --reuid=65534 --regid=65534 --clear-groups";

  std::vector<Outcome> reads;
  for (const char* read : {"view", "view p2", "check p1", "readiness", "events", "config show"}) {
    reads.push_back(Pkgctl(read, other));
  }
  const Outcome json = Pkgctl("-o json view", other);

  for (const Outcome& read : reads) {
    EXPECT_EQ(read.exit_status, 1) << read.out;
    EXPECT_EQ(read.out, "");
    EXPECT_EQ(read.err,
              "pkgctl: permission denied: nobody (uid 65534) is not in the cluster's access "
              "list; this command needs role monitor (or higher)\n");
  }
  EXPECT_EQ(json.exit_status, 1);
  EXPECT_EQ(Json(json.out).get<std::string>("error.code"), "permission_denied");
}

TEST_F(ControlServiceTest, AnUnreachableDaemonExitsThreeFast) {
  // Nobody listens on a socket file that is left behind.
  const std::string stale = dir_ / "stale.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, stale.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);

  const Outcome missing = Pkgctl("view", "", dir_ / "missing.sock");
  const Outcome refused = Pkgctl("-o json run p1", "", stale);

  EXPECT_EQ(missing.exit_status, 3);
  EXPECT_EQ(missing.err, "pkgctl: cannot reach cmcld at " + (dir_ / "missing.sock") +
                             ": No such file or directory\n");
  EXPECT_LT(missing.took, std::chrono::milliseconds(500));
  EXPECT_EQ(refused.exit_status, 3);
  EXPECT_THAT(refused.out, HasSubstr("Connection refused"));
  EXPECT_LT(refused.took, std::chrono::milliseconds(500));
}

TEST_F(ControlServiceTest, StartRefusesALongPathAndASocketADaemonAnswersOn) {
  StartService();
  const std::string long_path = dir_.path() + "/" + std::string(120, 's') + ".sock";

  const Status too_long = OnIo([&] {
    return ControlService(io_, core_, ControlService::Options{.socket_path = long_path}).Start();
  });
  const Status taken = OnIo([&] {
    return ControlService(io_, core_, ControlService::Options{.socket_path = socket_}).Start();
  });

  EXPECT_EQ(too_long.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.message(), HasSubstr("a Unix socket path holds 1 to 107"));
  EXPECT_EQ(taken.code(), StatusCode::kUnavailable);
  EXPECT_THAT(taken.message(), HasSubstr("another cmcld answers"));
  EXPECT_EQ(Pkgctl("view").exit_status, 0);  // The first one still serves.
}

TEST_F(ControlServiceTest, AStaleSocketFileIsReplacedAndTheSocketIsOpenToEveryone) {
  ASSERT_EQ(::mkdir((dir_ / "run").c_str(), 0755), 0);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, socket_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);

  StartService();
  struct stat info {};
  ASSERT_EQ(::stat(socket_.c_str(), &info), 0);

  EXPECT_EQ(info.st_mode & 0777, 0666U);
  EXPECT_EQ(Pkgctl("view").exit_status, 0);
}

TEST_F(ControlServiceTest, AWaitingRunIsAnsweredWhenTheServiceStops) {
  StartService();
  OnIo([this] { return cluster_.host("n1").hold.insert(PackageName("p2")).second; });
  std::future<Outcome> run = std::async(std::launch::async, [this] { return Pkgctl("run p2"); });
  ASSERT_TRUE(WaitFor([this] {
    return cluster_.node("n1").state().StatusOf(PackageName("p2")) ==
           node::PackageStatus::kStarting;
  }));

  OnIo([this] {
    service_.reset();
    return 0;
  });
  const Outcome outcome = run.get();

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_EQ(outcome.err, "pkgctl: run p2: cmcld is shutting down; the operation may go on\n");
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

TEST_F(ControlServiceTest, ReadsAnswerAtOnceWhileARunWaits) {
  StartService();
  OnIo([this] { return cluster_.host("n1").hold.insert(PackageName("p2")).second; });
  std::future<Outcome> run =
      std::async(std::launch::async, [this] { return Pkgctl("run p2 --timeout 1500ms"); });
  ASSERT_TRUE(WaitFor([this] {
    return cluster_.node("n1").state().StatusOf(PackageName("p2")) ==
           node::PackageStatus::kStarting;
  }));

  std::vector<std::future<Outcome>> views;
  for (int i = 0; i < 4; ++i) {
    views.push_back(std::async(std::launch::async, [this, i] {
      return Pkgctl("-o json view p2", "", "", "view" + std::to_string(i));
    }));
  }

  for (std::future<Outcome>& view : views) {
    const Outcome outcome = view.get();
    EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
    EXPECT_EQ(Json(outcome.out).get<std::string>("packages..status"), "starting");
    EXPECT_LT(outcome.took, std::chrono::seconds(1));
  }
  EXPECT_EQ(run.get().exit_status, 4);
}

// --- Issue 9: the administration commands ------------------------------------------

TEST_F(ControlServiceTest, DisableDashNTurnsNodeSwitchingOffAndEnableStartsAHaltedPackage) {
  StartService();

  const Outcome disable = Pkgctl("disable p1 -n n2");
  const Outcome enable = Pkgctl("-o json enable p2");

  EXPECT_EQ(disable.exit_status, 0) << disable.err;
  EXPECT_EQ(disable.out, "switching disabled\n");
  EXPECT_TRUE(OnIo([this] {
    return cluster_.node("n1").state().FindPackage(PackageName("p1"))->switching_off.contains(
        NodeName("n2"));
  }));
  EXPECT_EQ(enable.exit_status, 0) << enable.err;
  EXPECT_EQ(Json(enable.out).get<std::string>("package"), "p2");
  EXPECT_EQ(Json(enable.out).get<std::string>("message"), "switching enabled");
  EXPECT_TRUE(WaitFor([this] {
    return cluster_.node("n1").state().StatusOf(PackageName("p2")) == node::PackageStatus::kUp;
  })) << "cmmodpkg -e starts a halted package";
}

TEST_F(ControlServiceTest, ClearOfAPackageWithNothingToClearSaysSoAndUnknownNamesGetASuggestion) {
  StartService();

  const Outcome clear = Pkgctl("clear p2");
  const Outcome owner = Pkgctl("clear p1 --owner-is-down nx1");
  const Outcome package = Pkgctl("enable q2");
  const Outcome node = Pkgctl("node halt m1");

  EXPECT_EQ(clear.exit_status, 0) << clear.err;
  EXPECT_EQ(clear.out, "nothing to clear\n");
  EXPECT_EQ(owner.exit_status, 1);
  EXPECT_EQ(owner.err, "pkgctl: unknown node \"nx1\"; did you mean \"n1\"?\n");
  EXPECT_EQ(package.exit_status, 1);
  EXPECT_EQ(package.err, "pkgctl: unknown package \"q2\"; did you mean \"p2\"?\n");
  EXPECT_EQ(node.exit_status, 1);
  EXPECT_EQ(node.err, "pkgctl: unknown node \"m1\"; did you mean \"n1\"?\n");
  EXPECT_EQ(core_.proposals, 1);  // The clear alone.
}

TEST_F(ControlServiceTest, ClearOfAHaltFailedPackageWaitsForTheOwnerOrTakesTheOperatorsWord) {
  StartService();
  // The halt script fails and leaves the guest up, and no kill stops it: halt_failed.
  OnIo([this] {
    node::testing::FakeHost& host = cluster_.host("n1");
    host.halt_exit[PackageName("p1")] = 1;
    host.survives_kill.insert(PackageName("p1"));
    return host.survives_halt.insert(PackageName("p1")).second;
  });
  const Outcome halt = Pkgctl("halt p1 --timeout 4s");
  ASSERT_EQ(StatusOf("p1"), node::PackageStatus::kHaltFailed) << halt.err;

  const Outcome asked = Pkgctl("clear p1 --timeout 4s");
  const node::PackageStatus after_asking = StatusOf("p1");
  const Outcome declared = Pkgctl("-o json clear p1 --owner-is-down n1 --timeout 4s");

  EXPECT_EQ(halt.exit_status, 1);
  EXPECT_EQ(asked.exit_status, 1) << asked.out;
  EXPECT_THAT(asked.err, HasSubstr("clear p1 failed: "));
  EXPECT_EQ(after_asking, node::PackageStatus::kHaltFailed);
  EXPECT_EQ(declared.exit_status, 0) << declared.err;
  EXPECT_EQ(Json(declared.out).get<std::string>("message"), "cleared: n1 declared down by root@n1");
  EXPECT_EQ(StatusOf("p1"), node::PackageStatus::kFailed);
}

TEST_F(ControlServiceTest, NodeHaltWaitsUntilNoPackageRunsThereAndCmrunnodeBringsItBack) {
  StartService();

  const Outcome halt = Pkgctl("-o json node halt n1 --timeout 4s");
  const node::PackageStatus after_halt = StatusOf("p1");
  const Outcome run = Alias("cmrunnode", "");  // No NODE: the daemon's own node.

  EXPECT_EQ(halt.exit_status, 0) << halt.err << halt.out;
  EXPECT_EQ(Json(halt.out).get<std::string>("node"), "n1");
  EXPECT_EQ(Json(halt.out).get<std::string>("message"), "n1 halted; no package runs on it");
  EXPECT_NE(after_halt, node::PackageStatus::kUp);
  EXPECT_NE(after_halt, node::PackageStatus::kHalting);
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(run.out, "n1 is back in service\n");
  EXPECT_FALSE(OnIo([this] { return cluster_.node("n1").state().NodeHalted(NodeName("n1")); }));
}

TEST_F(ControlServiceTest, ClusterHaltIsRefusedWhilePackagesRunAndForceHaltsThem) {
  StartService();

  const Outcome refused = Pkgctl("cluster halt");
  const Outcome refused_no_wait = Pkgctl("cluster halt --no-wait");
  const node::PackageStatus after_refusal = StatusOf("p1");
  const Outcome forced = Pkgctl("cluster halt --force --timeout 4s");
  const node::PackageStatus after_force = StatusOf("p1");
  const Outcome down = Pkgctl("cluster run -n n2");
  const Outcome run = Pkgctl("-o json cluster run");

  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_THAT(refused.err, HasSubstr("cluster halt refused: packages are running (p1 on n1)"));
  EXPECT_EQ(refused_no_wait.exit_status, 1);
  EXPECT_EQ(refused_no_wait.err, refused.err);
  EXPECT_EQ(after_refusal, node::PackageStatus::kUp);
  EXPECT_EQ(forced.exit_status, 0) << forced.err;
  EXPECT_EQ(forced.out, "cluster test halted; no package runs\n");
  EXPECT_EQ(after_force, node::PackageStatus::kDown);
  EXPECT_EQ(down.exit_status, 1);
  EXPECT_THAT(down.err, HasSubstr("cluster run: n2 not heard from"));
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(Json(run.out).get<std::string>("cluster"), "test");
}

TEST_F(ControlServiceTest, ConfigShowPrintsTheAppliedClusterYamlMarkedWithItsVersion) {
  dir_.Write("bundle/v1/cluster.yaml", "cluster_name: test\n", 0644);
  core_.bundle_dir = dir_ / "bundle/v1";
  StartService();

  const Outcome json = Pkgctl("-o json config show");
  const std::string monitor = "setpriv --reuid=1 --regid=1 --clear-groups";
  const Outcome table = Pkgctl("config show", monitor);

  ASSERT_EQ(json.exit_status, 0) << json.err;
  EXPECT_EQ(Json(json.out).get<std::string>("cluster_yaml"), "cluster_name: test\n");
  EXPECT_EQ(Json(json.out).get<std::string>("bundle_dir"), core_.bundle_dir);
  EXPECT_EQ(Json(json.out).get<uint64_t>("version"),
            OnIo([this] { return cluster_.node("n1").state().config_version(); }));
  EXPECT_EQ(table.exit_status, 0) << table.err;  // A read: any role.
  EXPECT_THAT(table.out, HasSubstr("configuration version"));
  EXPECT_THAT(table.out, HasSubstr("\ncluster_name: test\n"));
}

TEST_F(ControlServiceTest, ANonRootCallerMayNotChangeSwitchingNodesOrTheCluster) {
  StartService();
  const std::string other = "setpriv --reuid=65534 --regid=65534 --clear-groups";

  const Outcome enable = Pkgctl("enable p2", other);
  const Outcome node = Pkgctl("node halt n1", other);
  const Outcome cluster = Pkgctl("cluster halt --force", other);
  const Outcome clear = Pkgctl("clear p1", other);

  for (const Outcome& outcome : {enable, node, cluster, clear}) {
    EXPECT_EQ(outcome.exit_status, 1) << outcome.err;
    EXPECT_THAT(outcome.err, HasSubstr("permission denied: nobody (uid 65534) is not in the cluster's access list"));
  }
  EXPECT_EQ(core_.proposals, 0);
  EXPECT_EQ(StatusOf("p1"), node::PackageStatus::kUp);
}

TEST_F(ControlServiceTest, ViewVerboseReadsLikeCmviewclDashV) {
  StartService();
  ASSERT_EQ(Pkgctl("disable p1 -n n2").exit_status, 0);

  const Outcome tree = Pkgctl("view -v");
  const Outcome one = Pkgctl("view -v p1");

  ASSERT_EQ(tree.exit_status, 0) << tree.err;
  EXPECT_THAT(tree.out,
              HasSubstr("  NODE  STATUS  STATE    ROLE\n  n1    up      running  member"));
  EXPECT_THAT(tree.out, HasSubstr("PRIMARY    up      127.0.0.1:7101"));
  EXPECT_THAT(tree.out, HasSubstr("    p1       up      running  enabled   n1"));
  EXPECT_THAT(tree.out, HasSubstr("Node_Switching_Parameters:"));
  EXPECT_THAT(tree.out, HasSubstr("Primary    up      enabled    n1  (current)"));
  EXPECT_THAT(tree.out, HasSubstr("Alternate  down    disabled   n2"));
  EXPECT_THAT(tree.out, HasSubstr("UNOWNED_PACKAGES\n\n    PACKAGE"));
  EXPECT_THAT(tree.out, HasSubstr("p2       down    halted  disabled  unowned"));
  EXPECT_EQ(one.exit_status, 0) << one.err;
  EXPECT_THAT(one.out, HasSubstr("Alternate  down    disabled   n2"));
  EXPECT_THAT(one.out, ::testing::Not(HasSubstr("p2")));
}

TEST_F(ControlServiceTest, CmviewclDashFLinePrintsKeyValueLines) {
  StartService();

  const Outcome all = Alias("cmviewcl", "-f line");
  const Outcome one = Alias("cmviewcl", "-f line -p p1");

  ASSERT_EQ(all.exit_status, 0) << all.err;
  EXPECT_THAT(all.out, ::testing::StartsWith("name=test\nstatus=up\n"));
  EXPECT_THAT(all.out, HasSubstr("\nnode:n1|status=up\n"));
  EXPECT_THAT(all.out, HasSubstr("\nnode:n2|status=down\n"));
  EXPECT_THAT(all.out, HasSubstr("\npackage:p1|status=up\npackage:p1|state=running\n"));
  EXPECT_THAT(all.out, HasSubstr("\npackage:p1|node:n2|switching=enabled\n"));
  EXPECT_THAT(all.out, HasSubstr("\npackage:p2|autorun=disabled\n"));
  EXPECT_EQ(one.exit_status, 0) << one.err;
  EXPECT_THAT(one.out, ::testing::Not(HasSubstr("package:p2")));
}

TEST_F(ControlServiceTest, CmrunpkgStartsWithoutEnablingSwitchingAndCmmodpkgEnablesIt) {
  StartService();
  const auto switching = [this] {
    return OnIo([this] {
      const node::PackageRecord* record =
          cluster_.node("n1").state().FindPackage(PackageName("p2"));
      return record != nullptr && record->Switching(false);
    });
  };

  const Outcome run = Alias("cmrunpkg", "-n n1 p2");
  const bool switching_after_run = switching();
  const Outcome modify = Alias("cmmodpkg", "-e p2");

  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(StatusOf("p2"), node::PackageStatus::kUp);
  EXPECT_FALSE(switching_after_run);
  EXPECT_EQ(modify.exit_status, 0) << modify.err;
  EXPECT_TRUE(switching());
}

TEST_F(ControlServiceTest, HpvmmigratePrintsTheViolationsOneALineAndHpvmstatusTheGuests) {
  StartService();

  const Outcome migrate = Alias("hpvmmigrate", "-P p1 -h n2 -c 2");
  const Outcome status = Alias("hpvmstatus", "");
  const Outcome one = Alias("hpvmstatus", "-P p2");

  EXPECT_EQ(migrate.exit_status, 1);
  EXPECT_THAT(migrate.err, HasSubstr("hpvmmigrate: move of p1 to n2 refused by migration"));
  EXPECT_THAT(migrate.err, HasSubstr("\nhpvmmigrate: n2: target_not_member: "));
  EXPECT_EQ(core_.proposals, 0);
  ASSERT_EQ(status.exit_status, 0) << status.err;
  EXPECT_THAT(status.out, ::testing::StartsWith("[Virtual Machines]\nVirtual Machine Name  VM #"));
  EXPECT_THAT(status.out, HasSubstr("#VCPUs  #Devs  #Nets  Memory   Runsysid"));
  EXPECT_THAT(status.out, ::testing::ContainsRegex("p1 +1 +UNKNOWN +On \\(OS\\) +1 .* 1 GB +n1"));
  EXPECT_THAT(one.out, HasSubstr("p2 "));
  EXPECT_THAT(one.out, ::testing::Not(HasSubstr("p1 ")));
}

}  // namespace
}  // namespace cmcl::io

namespace cmcl::io {
namespace {

// config apply's checks on the daemon side (control_engine_config.cc): the files below
// describe the test cluster as the node knows it (names, addresses, timing), so only
// what a test changes differs from the applied configuration.
class ConfigApplyControlTest : public ControlServiceTest {
 protected:
  ConfigApplyControlTest() {
    dir_.Write("etc/cluster.key", std::string(40, 'k'), 0600);
    core_.key_file = dir_ / "etc/cluster.key";
    core_.state_dir = dir_ / "state";
    WriteFiles(kNodes, {"p1", "p2"});
  }
  static constexpr const char* kNodes =
      "  - {name: n1, addresses: [127.0.0.1:7101]}\n"
      "  - {name: n2, addresses: [127.0.0.1:7102]}\n";
  void WriteFiles(const std::string& nodes, const std::vector<std::string>& packages,
                  const std::string& driver = "") {
    std::string yaml = "cluster_name: test\nsecurity: {key_file: cluster.key}\n"
                       "allow_two_node_without_arbitrator: true\nnodes:\n" +
                       nodes + "packages:\n";
    for (const std::string& package : packages) {
      yaml += "  - ../pkgs/" + package + "\n";
      dir_.Write("pkgs/" + package + "/package.yaml",
                 "name: " + package + "\nnodes: [n1, n2]\nrun_script: run.sh\n"
                 "halt_script: halt.sh\n" + (driver.empty() ? "" : "driver: " + driver + "\n"));
      dir_.Write("pkgs/" + package + "/run.sh", "#!/bin/sh\nexit 0\n", 0755);
      dir_.Write("pkgs/" + package + "/halt.sh", "#!/bin/sh\nexit 0\n", 0755);
    }
    dir_.Write("etc/cluster.yaml", yaml);
  }
  Outcome Apply() { return Pkgctl("config apply " + (dir_ / "etc/cluster.yaml")); }
  // The files as loaded (LoadBundleConfig loads any folder's cluster.yaml).
  config::ClusterConfig Files() {
    Result<config::ClusterConfig> loaded = LoadBundleConfig(dir_ / "etc", core_.key_file);
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return loaded.ok() ? *loaded : config::ClusterConfig{};
  }
};

TEST_F(ConfigApplyControlTest, TheSameFilesAsTheAppliedVersionAreNothingToDo) {
  Result<Bundle> bundle = BuildBundle(Files());
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  Result<std::string> v1 = MaterializeBundle(*bundle, 1, dir_ / "state");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  core_.bundle_dir = *v1;
  StartService();

  const Outcome outcome = Pkgctl("-o json config apply " + (dir_ / "etc/cluster.yaml"));

  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(Json(outcome.out).get<std::string>("message"),
            "configuration version 1 is applied already (same bundle); nothing to do");
  EXPECT_EQ(Json(outcome.out).get<std::string>("bundle_hash"), BundleHash(EncodeBundle(*bundle)));
  // Asked of the log (this node may be behind), which holds no second copy of the bytes.
  EXPECT_EQ(core_.proposals, 1);
  EXPECT_GT(Json(outcome.out).get<uint64_t>("index"), 0U);
  EXPECT_EQ(OnIo([this] { return cluster_.node("n1").state().config_version(); }), 1u);
  EXPECT_FALSE(OnIo([this] { return cluster_.node("n1").state().pending_config().has_value(); }));
}

TEST_F(ConfigApplyControlTest, AnAddedNodeIsRefusedAndNothingIsProposed) {
  WriteFiles(std::string(kNodes) + "  - {name: n3, addresses: [127.0.0.1:7103]}\n", {"p1", "p2"});
  StartService();

  const Outcome outcome = Apply();

  EXPECT_EQ(outcome.exit_status, 1) << outcome.err;
  EXPECT_THAT(outcome.err,
              HasSubstr("\npkgctl: config apply refused: adding, removing or changing the role "
                        "of a node is not supported in this version (node n3 added); "
                        "configuration version 1 stays applied\n"));
  EXPECT_EQ(core_.proposals, 0);
}

TEST_F(ConfigApplyControlTest, RemovingARunningPackageIsRefusedNamingItAndItsNode) {
  WriteFiles(kNodes, {"p2"});
  StartService();

  const Outcome outcome = Apply();

  EXPECT_EQ(outcome.exit_status, 1) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("package p1 is up on n1 and is not in the new version; "
                                     "halt it first"));
  EXPECT_EQ(core_.proposals, 0);
  EXPECT_EQ(StatusOf("p1"), node::PackageStatus::kUp);
}

TEST_F(ConfigApplyControlTest, ADriverThatIsNotInstalledHereIsRefused) {
  WriteFiles(kNodes, {"p1", "p2"}, "nosuch");
  StartService();

  const Outcome outcome = Apply();

  EXPECT_EQ(outcome.exit_status, 1) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("n1: driver nosuch of package p1 not found in "
                                     "/usr/lib/cmcl/drivers"));
  EXPECT_EQ(core_.proposals, 0);
}

TEST_F(ConfigApplyControlTest, ABundleThatDoesNotLoadWithThisNodesKeyIsAConfigurationError) {
  core_.key_file = dir_ / "etc/missing.key";
  StartService();

  const Outcome outcome = Pkgctl("-o json config apply " + (dir_ / "etc/cluster.yaml"));

  EXPECT_EQ(outcome.exit_status, 2) << outcome.out;
  EXPECT_EQ(Json(outcome.out).get<std::string>("error.code"), "invalid_config");
  EXPECT_EQ(core_.proposals, 0);
}

TEST_F(ConfigApplyControlTest, ANonAdminCallerMayNotApply) {
  // The caller must read the key to load its files (0600: group and others may not).
  ASSERT_EQ(::chown((dir_ / "etc/cluster.key").c_str(), 65534, 65534), 0);
  StartService();

  const Outcome outcome =
      Pkgctl("config apply " + (dir_ / "etc/cluster.yaml"), "setpriv --reuid=65534 "
             "--regid=65534 --clear-groups");

  EXPECT_EQ(outcome.exit_status, 1) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("this command needs role full_admin"));
  EXPECT_EQ(core_.proposals, 0);
}

// Issue 10. n2 never runs, so p1 has nowhere to go: node maintenance leaves it up on n1
// and the answer says why; package maintenance through cmmodpkg -m marks it in the view.
TEST_F(ControlServiceTest, NodeMaintenanceKeepsAPackageNobodyCanTakeAndSaysWhy) {
  StartService();

  const Outcome on = Pkgctl("-o json node maintenance n1 on --timeout 4s");
  const Outcome view = Pkgctl("-o json view");
  const Outcome table = Pkgctl("view", "", "", "table");
  const Outcome typo = Pkgctl("node maintenance n11 on", "", "", "typo");
  const Outcome off = Pkgctl("node maintenance n1 off");

  EXPECT_EQ(on.exit_status, 0) << on.err << on.out;
  EXPECT_EQ(Json(on.out).get<std::string>("node"), "n1");
  EXPECT_NE(Json(on.out).get<std::string>("message").find("staying there: p1 ("),
            std::string::npos)
      << on.out;
  EXPECT_EQ(StatusOf("p1"), node::PackageStatus::kUp);
  std::map<std::string, std::string> states;
  const boost::property_tree::ptree tree = Json(view.out);  // Outlives the loop.
  for (const auto& [unused, node] : tree.get_child("nodes")) {
    states[node.get<std::string>("name")] = node.get<std::string>("state");
  }
  EXPECT_EQ(states["n1"], "maintenance");
  EXPECT_NE(table.out.find("maintenance"), std::string::npos) << table.out;
  EXPECT_EQ(typo.exit_status, 1);
  EXPECT_NE(typo.err.find("did you mean \"n1\""), std::string::npos) << typo.err;
  EXPECT_EQ(off.exit_status, 0) << off.err;
  EXPECT_FALSE(
      OnIo([this] { return cluster_.node("n1").state().NodeInMaintenance(NodeName("n1")); }));
}

TEST_F(ControlServiceTest, CmmodpkgDashMPutsAPackageInMaintenanceAndTheViewMarksIt) {
  StartService();

  const Outcome on = Alias("cmmodpkg", "-m on p1");
  const Outcome view = Pkgctl("-o json view");
  const Outcome off = Pkgctl("-o json package maintenance p1 off");

  EXPECT_EQ(on.exit_status, 0) << on.err;
  std::map<std::string, std::string> maintenance;
  const boost::property_tree::ptree tree = Json(view.out);  // Outlives the loop.
  for (const auto& [unused, package] : tree.get_child("packages")) {
    maintenance[package.get<std::string>("name")] = package.get<std::string>("maintenance");
  }
  EXPECT_EQ(maintenance,
            (std::map<std::string, std::string>{{"p1", "true"}, {"p2", "false"}}));
  EXPECT_EQ(off.exit_status, 0) << off.err;
  EXPECT_EQ(Json(off.out).get<std::string>("package"), "p1");
  EXPECT_FALSE(
      OnIo([this] { return cluster_.node("n1").state().PackageInMaintenance(PackageName("p1")); }));
  EXPECT_EQ(StatusOf("p1"), node::PackageStatus::kUp);
}

}  // namespace
}  // namespace cmcl::io
