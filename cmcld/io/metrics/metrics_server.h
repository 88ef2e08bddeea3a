// MetricsServer: the HTTP listener on metrics_address (README "Metrics"). Off unless
// cmcld is given an address; it changes nothing else in the daemon. It serves /metrics
// and, when given `dashboard_json`, the read-only dashboard: the page at / and
// /dashboard (a constant, dashboard_page.h) and its data at /dashboard.json.
//
// Threads. Everything runs on the daemon's io_context thread, the Node's owner: the
// acceptor, every read and write (asynchronous, so a slow client never blocks the
// thread), and `render` (`dashboard_json`), called once per GET /metrics
// (/dashboard.json) to build the answer from the node's applied state. Nothing is cached
// between requests.
//
// Limits, so that a client cannot hold the daemon's memory or sockets: a request head of
// at most kMaxRequestBytes (http.h; larger is answered 400), read within
// `read_timeout` (then closed without an answer), a response written within
// `write_timeout`, one response per connection, then close (after at most a second of
// discarding what the client still sends, so that no reset destroys the response); at
// most `connections_max` open at once (more are closed as soon as accepted).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/common/units.h"

namespace cmcl::io::metrics {

class MetricsServer {
 public:
  using RenderFn = std::function<std::string()>;

  struct Options {
    SocketAddress address;
    Duration read_timeout = std::chrono::seconds(5);    // Connect to the end of the head.
    Duration write_timeout = std::chrono::seconds(10);  // The whole response.
    size_t connections_max = 16;
  };

  // Binds and listens (SO_REUSEADDR, so a restart does not wait for TIME_WAIT).
  // Unavailable "metrics_address 127.0.0.1:9650: cannot listen: Address already in use"
  // when the address cannot be bound. `io` must outlive the server. Without
  // `dashboard_json` the dashboard's paths are not found (404).
  static Result<std::unique_ptr<MetricsServer>> Start(boost::asio::io_context& io, Options options,
                                                      RenderFn render,
                                                      RenderFn dashboard_json = {});
  // Closes the listener and every open connection. Call on the io thread.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;  // The bound port (useful when the address said port 0).

 private:
  struct Impl;
  explicit MetricsServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace cmcl::io::metrics
