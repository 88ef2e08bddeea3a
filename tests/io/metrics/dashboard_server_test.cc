// The dashboard's routes on a real MetricsServer (127.0.0.1, a free port), with render
// functions standing in for the daemon: status lines, content types, cache headers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "cmcld/io/metrics/dashboard_page.h"
#include "cmcld/io/metrics/metrics_server.h"

namespace cmcl::io::metrics {
namespace {

// Sends `request` to 127.0.0.1:port and reads until the server closes ("" on failure).
std::string Exchange(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) {
      out.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

std::string Get(uint16_t port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

std::string Head(const std::string& response) {
  return response.substr(0, response.find("\r\n\r\n") + 2);
}

std::string Body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

// A server on its own io thread; stopped (thread joined) before it is destroyed.
class Served {
 public:
  explicit Served(bool with_dashboard) {
    MetricsServer::RenderFn dashboard;
    if (with_dashboard) dashboard = [] { return std::string(R"({"dashboard":1})"); };
    Result<std::unique_ptr<MetricsServer>> started = MetricsServer::Start(
        io_, MetricsServer::Options{.address = SocketAddress{.host = "127.0.0.1", .port = 0}},
        [] { return std::string("cmcl_quorum 1\n"); }, dashboard);
    EXPECT_TRUE(started.ok());
    if (started.ok()) server_ = std::move(started).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Served() {
    io_.stop();
    thread_.join();
    server_.reset();  // The io thread has ended: this thread is now its only user.
  }
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;

  uint16_t port() const { return server_ ? server_->port() : 0; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<MetricsServer> server_;
  std::thread thread_;
};

// Regression guards on the page's text (the browser test, full tier, checks its behaviour):
// nothing from elsewhere, and data never parsed as markup.
TEST(DashboardPage, FetchesNothingFromElsewhere) {
  const std::string page(DashboardHtml());
  for (const char* outside : {"http:", "https:", "\"//", "'//", "src=", "@import", "url("}) {
    EXPECT_EQ(page.find(outside), std::string::npos) << outside;
  }
  EXPECT_NE(page.find("fetch(\"dashboard.json\""), std::string::npos);
}

TEST(DashboardPage, BuildsItsElementsAsTextNeverAsMarkup) {
  const std::string page(DashboardHtml());
  for (const char* markup : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                             "eval(", "new Function"}) {
    EXPECT_EQ(page.find(markup), std::string::npos) << markup;
  }
  EXPECT_NE(page.find("textContent"), std::string::npos);
}

TEST(DashboardPage, HasNothingToPressOrFillIn) {
  const std::string page(DashboardHtml());
  for (const char* control : {"<button", "<input", "<form", "<select", "<textarea", "<a "}) {
    EXPECT_EQ(page.find(control), std::string::npos) << control;
  }
}

TEST(DashboardServer, TheRootAndDashboardServeTheSelfContainedPage) {
  Served served(true);

  for (const char* path : {"/", "/dashboard", "/?x=1"}) {
    const std::string response = Get(served.port(), path);
    SCOPED_TRACE(path + std::string(":\n") + Head(response));
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(Head(response).find("\r\nContent-Type: text/html; charset=utf-8\r\n"),
              std::string::npos);
    EXPECT_NE(Head(response).find("\r\nCache-Control: no-store\r\n"), std::string::npos);
    EXPECT_NE(Head(response).find("\r\nContent-Security-Policy: default-src 'none';"),
              std::string::npos);
    EXPECT_EQ(Body(response), DashboardHtml());
  }
}

TEST(DashboardServer, TheDataIsJsonThatIsNeverCached) {
  Served served(true);

  const std::string response = Get(served.port(), "/dashboard.json");

  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(Head(response).find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(Head(response).find("\r\nCache-Control: no-store\r\n"), std::string::npos);
  EXPECT_EQ(Body(response), R"({"dashboard":1})");
}

TEST(DashboardServer, MetricsAreUnchanged) {
  Served served(true);

  const std::string response = Get(served.port(), "/metrics");

  EXPECT_EQ(response,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 14\r\nConnection: close\r\n\r\ncmcl_quorum 1\n");
}

TEST(DashboardServer, UnknownPathsAre404AndOtherMethods405) {
  Served served(true);

  EXPECT_EQ(Get(served.port(), "/favicon.ico").rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  const std::string post =
      Exchange(served.port(), "POST /dashboard.json HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_NE(post.find("\r\nAllow: GET\r\n"), std::string::npos);
  EXPECT_EQ(Exchange(served.port(), "HEAD / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
}

TEST(DashboardServer, WithoutADashboardItsPathsAreNotFound) {
  Served served(false);

  EXPECT_EQ(Get(served.port(), "/").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(Get(served.port(), "/dashboard.json").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(Get(served.port(), "/metrics").rfind("HTTP/1.1 200 ", 0), 0u);
}

}  // namespace
}  // namespace cmcl::io::metrics
