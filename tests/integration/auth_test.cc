// Authentication and authorization on real daemons (issue 11 item 3), the parts the
// other tests leave out: a node of another cluster (another cluster_name, so another
// cluster_id) that has the SAME key cannot join, vote or disturb anything; garbage on a
// daemon's peer port is dropped while the cluster stays whole; and the control socket
// cmcld creates is one any local user may connect to, whatever the umask, because the
// caller's peer credentials and the access list decide (RolesTest in operator_test.cc
// shows the refusals). The wrong key: ClusterTest.NodeWithTheWrongClusterKeyCannotJoin;
// replayed and forged frames and their counters: tests/io/peer/hostile_client_test.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

LocalCluster::Options TwoGuests() {
  LocalCluster::Options options;
  options.cluster_start_wait = "1s";
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "g2", .nodes = {"node2", "node1", "node3"}},
  };
  return options;
}

bool UpOn(const LocalCluster& cluster, int from, const std::string& package,
          const std::string& node) {
  const JsonValue entry = cluster.Package(from, package);
  return entry["status"].String() == "up" && entry["node"].String() == node;
}

std::string CoordinatorSeenBy(const LocalCluster& cluster, int node) {
  const std::optional<JsonValue> view = cluster.View(node);
  return view ? (*view)["cluster"]["coordinator"].String() : "";
}

// The ledger sizes of g1 and g2: unchanged means no guest was stopped or started.
std::map<std::string, size_t> LedgerSizes(const LocalCluster& cluster) {
  return {{"g1", cluster.Ledger("g1").size()}, {"g2", cluster.Ledger("g2").size()}};
}

// A copy of the cluster file named `other` (so another cluster_id) with the same key
// file, nodes, addresses and packages; the path of the copy.
std::string OtherClusterCopy(LocalCluster& cluster) {
  std::string yaml = Slurp(cluster.config_path());
  ReplaceAll(yaml, "cluster_name: it\n", "cluster_name: other\n");
  ReplaceAll(yaml, "key_file: cluster.key", "key_file: " + cluster.FilePath("cluster.key"));
  ReplaceAll(yaml, "  - packages/", "  - " + cluster.FilePath("packages") + "/");
  cluster.WriteFile("other-cluster/cluster.yaml", yaml);
  return cluster.FilePath("other-cluster/cluster.yaml");
}

TEST(AuthenticationTest, ANodeOfAnotherClusterWithTheSameKeyCannotJoinVoteOrDisturb) {
  LocalCluster cluster(TwoGuests());
  cluster.Start(0);
  cluster.Start(1);
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return UpOn(cluster, 0, "g1", "node1") && UpOn(cluster, 0, "g2", "node2"); },
      seconds(30)));
  const std::string coordinator = CoordinatorSeenBy(cluster, 0);
  const std::map<std::string, size_t> ledgers = LedgerSizes(cluster);

  // node3 as a member of cluster "other": same key, same addresses, its own elections.
  cluster.Start(2, {"--config", OtherClusterCopy(cluster)});
  std::this_thread::sleep_for(seconds(5));  // Five node_timeouts of its campaigns.

  for (int i = 0; i < 2; ++i) {
    const std::optional<JsonValue> view = cluster.View(i);
    ASSERT_TRUE(view.has_value());
    EXPECT_NE(view->Named("nodes", "node3")["status"].String(), "up") << cluster.Name(i);
    EXPECT_EQ((*view)["cluster"]["coordinator"].String(), coordinator) << cluster.Name(i);
  }
  EXPECT_EQ(LedgerSizes(cluster), ledgers) << "a guest was stopped or started";
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  EXPECT_EQ(cluster.RunningCopies("g2"), 1);
  const std::optional<JsonValue> outsider = cluster.View(2);
  ASSERT_TRUE(outsider.has_value());
  EXPECT_FALSE((*outsider)["cluster"]["quorum"].Bool());
  const std::string logs =
      Slurp(cluster.dir() + "/node1/cmcld.log") + Slurp(cluster.dir() + "/node2/cmcld.log");
  EXPECT_NE(logs.find("peer node3 belongs to another cluster"), std::string::npos)
      << "the refusal was not logged";
}

// node1's peer port, from the cluster file ("addresses: [127.0.0.1:PORT]").
int PeerPortOfNode1(const LocalCluster& cluster) {
  const std::string yaml = Slurp(cluster.config_path());
  const size_t node = yaml.find("name: node1");
  const size_t at = yaml.find("127.0.0.1:", node);
  return at == std::string::npos ? -1 : std::atoi(yaml.c_str() + at + 10);
}

// Connects to 127.0.0.1:port and sends `bytes` (what the daemon accepts before it
// closes); returns the socket, still open.
int SendRaw(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  return fd;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string bytes(n, '\0');
  for (char& byte : bytes) byte = static_cast<char>(rng() & 0xff);
  return bytes;
}

TEST(AuthenticationTest, GarbageOnAPeerPortIsDroppedAndTheClusterStaysWhole) {
  LocalCluster cluster(TwoGuests());
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return UpOn(cluster, 0, "g1", "node1") && UpOn(cluster, 0, "g2", "node2"); },
      seconds(30)));
  const std::string coordinator = CoordinatorSeenBy(cluster, 0);
  const std::map<std::string, size_t> ledgers = LedgerSizes(cluster);
  const int port = PeerPortOfNode1(cluster);
  ASSERT_GT(port, 0);

  // Random bytes; an HTTP/2 preface then random frames; a preface, an empty SETTINGS
  // frame and a HEADERS frame of garbage; and connections left open, idle, meanwhile.
  std::mt19937_64 rng(11);
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const std::string settings("\0\0\0\4\0\0\0\0\0", 9);
  std::vector<int> open;
  for (int i = 0; i < 30; ++i) close(SendRaw(port, RandomBytes(rng, 64 * 1024)));
  for (int i = 0; i < 10; ++i) close(SendRaw(port, preface + RandomBytes(rng, 16 * 1024)));
  for (int i = 0; i < 10; ++i) {
    const std::string headers = std::string("\0\0\x40\1\4\0\0\0\1", 9) + RandomBytes(rng, 64);
    open.push_back(SendRaw(port, preface + settings + headers));
  }
  std::this_thread::sleep_for(seconds(3));
  for (const int fd : open) close(fd);

  EXPECT_TRUE(cluster.DaemonAlive(0));
  for (int i = 0; i < 3; ++i) {
    const std::optional<JsonValue> view = cluster.View(i);
    ASSERT_TRUE(view.has_value()) << cluster.Name(i);
    EXPECT_EQ((*view)["cluster"]["coordinator"].String(), coordinator) << cluster.Name(i);
    for (int n = 0; n < 3; ++n) {
      EXPECT_EQ(view->Named("nodes", cluster.Name(n))["status"].String(), "up")
          << cluster.Name(n) << " seen by " << cluster.Name(i);
    }
  }
  EXPECT_EQ(LedgerSizes(cluster), ledgers) << "a guest was stopped or started";
}

TEST(ControlSocketTest, AnyLocalUserMayConnectWhateverTheUmaskAndRootOwnsIt) {
  LocalCluster cluster(TwoGuests());
  const mode_t umask_before = umask(077);  // cmcld inherits it.
  cluster.Start(0);
  umask(umask_before);

  struct stat info {};
  ASSERT_EQ(lstat(cluster.Socket(0).c_str(), &info), 0) << cluster.Socket(0);

  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  // Connecting is open to every local user: the access list decides what a caller may
  // do (RolesTest: no role, refused even reading; monitor, read-only).
  EXPECT_EQ(info.st_mode & 07777, 0666U);
  EXPECT_EQ(info.st_uid, geteuid());
}

}  // namespace
}  // namespace cmcl::testing
