#include "cmcld/io/metrics/metrics_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <list>

#include "cmcld/io/metrics/dashboard_page.h"
#include "cmcld/io/metrics/http.h"

namespace cmcl::io::metrics {
namespace {

using boost::asio::ip::tcp;

// How long a connection stays open after its response, reading (and discarding) what the
// client still sends, before it is closed anyway.
constexpr Duration kLingerTime = std::chrono::seconds(1);
// After a failed accept (EMFILE, ENOBUFS), the next try waits this long.
constexpr Duration kAcceptRetry = std::chrono::milliseconds(100);

}  // namespace

struct MetricsServer::Impl : std::enable_shared_from_this<MetricsServer::Impl> {
  // One client: read the head, answer, close. Owned by Impl::connections; every
  // handler holds a shared_ptr to it, so it lives until its last operation ends.
  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(boost::asio::io_context& context, tcp::socket client)
        : socket(std::move(client)), deadline(context) {}
    tcp::socket socket;
    boost::asio::steady_timer deadline;
    std::string received;
    std::string response;
    std::array<char, 1024> chunk{};
    bool closed = false;

    void Close() {
      if (closed) return;
      closed = true;
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      deadline.cancel();
    }
  };

  Impl(boost::asio::io_context& context, Options server_options, RenderFn render_fn,
       RenderFn dashboard_fn)
      : io(context),
        options(std::move(server_options)),
        render(std::move(render_fn)),
        dashboard_json(std::move(dashboard_fn)),
        acceptor(context),
        retry(context) {}

  void Accept();
  void Read(const std::shared_ptr<Connection>& connection);
  void Answer(const std::shared_ptr<Connection>& connection, size_t head_length);
  void Arm(const std::shared_ptr<Connection>& connection, Duration after);
  void Drain(const std::shared_ptr<Connection>& connection);
  void Forget(const std::shared_ptr<Connection>& connection);
  std::string Respond(HttpRoute route) const;

  boost::asio::io_context& io;
  Options options;
  RenderFn render;
  RenderFn dashboard_json;  // Empty: no dashboard.
  tcp::acceptor acceptor;
  boost::asio::steady_timer retry;  // Accept again after an error.
  std::list<std::shared_ptr<Connection>> connections;
  bool stopped = false;
};

void MetricsServer::Impl::Accept() {
  acceptor.async_accept(
      [self = shared_from_this()](const boost::system::error_code& error, tcp::socket client) {
        if (self->stopped || error == boost::asio::error::operation_aborted) return;
        if (error) {
          // Out of descriptors, say: try again a little later rather than spin on it.
          spdlog::warn("metrics: accept failed: {}; retrying in {} ms", error.message(),
                       kAcceptRetry.count());
          self->retry.expires_after(kAcceptRetry);
          self->retry.async_wait([self](const boost::system::error_code& cancelled) {
            if (!cancelled && !self->stopped) self->Accept();
          });
          return;
        }
        auto connection = std::make_shared<Connection>(self->io, std::move(client));
        if (self->connections.size() >= self->options.connections_max) {
          connection->Close();  // Over the limit: no answer, the client sees a close.
        } else {
          self->connections.push_back(connection);
          self->Arm(connection, self->options.read_timeout);
          self->Read(connection);
        }
        self->Accept();
      });
}

void MetricsServer::Impl::Arm(const std::shared_ptr<Connection>& connection, Duration after) {
  connection->deadline.expires_after(after);
  connection->deadline.async_wait(
      [self = shared_from_this(), connection](const boost::system::error_code& error) {
        if (error) return;  // Cancelled: the connection ended or was re-armed.
        self->Forget(connection);
      });
}

void MetricsServer::Impl::Read(const std::shared_ptr<Connection>& connection) {
  connection->socket.async_read_some(
      boost::asio::buffer(connection->chunk),
      [self = shared_from_this(), connection](const boost::system::error_code& error,
                                              size_t bytes) {
        if (connection->closed) return;
        if (error) {
          self->Forget(connection);
          return;
        }
        connection->received.append(connection->chunk.data(), bytes);
        if (const std::optional<size_t> head = HeadLength(connection->received);
            head && *head <= kMaxRequestBytes) {
          self->Answer(connection, *head);
          return;
        }
        if (connection->received.size() >= kMaxRequestBytes) {
          self->Answer(connection, 0);  // Too large: 400.
          return;
        }
        self->Read(connection);
      });
}

void MetricsServer::Impl::Answer(const std::shared_ptr<Connection>& connection,
                                 size_t head_length) {
  const HttpRoute route =
      head_length == 0 ? HttpRoute::kBadRequest
                       : Route(std::string_view(connection->received).substr(0, head_length));
  connection->response = Respond(route);
  Arm(connection, options.write_timeout);
  boost::asio::async_write(
      connection->socket, boost::asio::buffer(connection->response),
      [self = shared_from_this(), connection](const boost::system::error_code& error, size_t) {
        if (error || connection->closed) {
          self->Forget(connection);
          return;
        }
        // One response, then close. Closing with unread request bytes would send a reset
        // that can destroy the response before the client reads it (a 400 for an
        // oversized head): send FIN, discard what still comes, close at EOF or after
        // kLingerTime.
        boost::system::error_code ignored;
        connection->socket.shutdown(tcp::socket::shutdown_send, ignored);
        self->Arm(connection, kLingerTime);
        self->Drain(connection);
      });
}

std::string MetricsServer::Impl::Respond(HttpRoute route) const {
  switch (route) {
    case HttpRoute::kMetrics:
      return Response(200, kMetricsContentType, render());
    case HttpRoute::kDashboardPage:
      if (!dashboard_json) break;
      return Response(200, kHtmlContentType, DashboardHtml(), kDashboardPageHeaders);
    case HttpRoute::kDashboardJson:
      if (!dashboard_json) break;
      return Response(200, kJsonContentType, dashboard_json(), kDashboardJsonHeaders);
    case HttpRoute::kNotFound:
    case HttpRoute::kMethodNotAllowed:
    case HttpRoute::kBadRequest:
      return ErrorResponse(route);
  }
  return ErrorResponse(HttpRoute::kNotFound);
}

void MetricsServer::Impl::Drain(const std::shared_ptr<Connection>& connection) {
  connection->socket.async_read_some(
      boost::asio::buffer(connection->chunk),
      [self = shared_from_this(), connection](const boost::system::error_code& error, size_t) {
        if (connection->closed) return;
        if (error) {
          self->Forget(connection);
          return;
        }
        self->Drain(connection);
      });
}

void MetricsServer::Impl::Forget(const std::shared_ptr<Connection>& connection) {
  connection->Close();
  connections.remove(connection);
}

MetricsServer::MetricsServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->retry.cancel();
  for (const std::shared_ptr<Impl::Connection>& connection : impl_->connections) {
    connection->Close();
  }
  impl_->connections.clear();
}

uint16_t MetricsServer::port() const {
  boost::system::error_code error;
  const tcp::endpoint endpoint = impl_->acceptor.local_endpoint(error);
  return error ? 0 : endpoint.port();
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(boost::asio::io_context& io,
                                                            Options options, RenderFn render,
                                                            RenderFn dashboard_json) {
  const std::string where = "metrics_address " + options.address.ToString();
  boost::system::error_code error;
  const boost::asio::ip::address ip = boost::asio::ip::make_address(options.address.host, error);
  if (error) {
    return Status::InvalidArgument(where + ": not an IP address");
  }
  const tcp::endpoint endpoint(ip, options.address.port);
  auto impl =
      std::make_shared<Impl>(io, std::move(options), std::move(render), std::move(dashboard_json));
  tcp::acceptor& acceptor = impl->acceptor;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(tcp::socket::max_listen_connections, error);
  if (error) {
    return Status::Unavailable(where + ": cannot listen: " + error.message());
  }
  impl->Accept();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

}  // namespace cmcl::io::metrics
