// The little HTTP/1.1 the metrics listener speaks (metrics_server.h): one GET, one
// response, then the connection closes. Pure, so every answer is unit-tested.
//
// A request head is everything up to the first empty line ("\r\n\r\n", or "\n\n" from a
// sloppy client), at most kMaxRequestBytes. The request line must be METHOD SP TARGET SP
// HTTP/1.x with an upper-case token METHOD and a TARGET starting with '/'; every header
// line must hold a ':'. GET /metrics (a query string is ignored) is answered 200; another
// GET target 404; another method 405; anything else 400.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cmcl::io::metrics {

inline constexpr size_t kMaxRequestBytes = 8 * 1024;
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class HttpRoute { kMetrics, kNotFound, kMethodNotAllowed, kBadRequest };

// The length of the head (through its empty line) in `received`, or nullopt while
// incomplete.
std::optional<size_t> HeadLength(std::string_view received);
HttpRoute Route(std::string_view head);
// A complete response: status line, Content-Type, Content-Length, Connection: close
// (and Allow: GET for 405), then `body`.
std::string Response(int code, std::string_view content_type, std::string_view body);
// The response for a route other than kMetrics (a short text/plain body).
std::string ErrorResponse(HttpRoute route);

}  // namespace cmcl::io::metrics
