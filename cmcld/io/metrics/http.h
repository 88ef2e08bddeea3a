// The little HTTP/1.1 the metrics listener speaks (metrics_server.h): one GET, one
// response, then the connection closes. Pure, so every answer is unit-tested.
//
// A request head is everything up to the first empty line ("\r\n\r\n", or "\n\n" from a
// sloppy client), at most kMaxRequestBytes. The request line must be METHOD SP TARGET SP
// HTTP/1.x with an upper-case token METHOD and a TARGET starting with '/'; every header
// line must hold a ':'. GET /metrics, / or /dashboard (the dashboard page) and
// /dashboard.json (its data; dashboard_model.h) are answered 200 (a query string is
// ignored); another GET target 404; another method 405; anything else 400.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cmcl::io::metrics {

inline constexpr size_t kMaxRequestBytes = 8 * 1024;
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kHtmlContentType = "text/html; charset=utf-8";
inline constexpr std::string_view kJsonContentType = "application/json";
// Extra header lines for the dashboard (each ends in CRLF). The data is never cached. The
// page is self-contained: its policy lets it run its own inline script and style and
// fetch from its own origin only, so nothing is loaded from elsewhere.
inline constexpr std::string_view kDashboardJsonHeaders =
    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
inline constexpr std::string_view kDashboardPageHeaders =
    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'\r\n"
    "Referrer-Policy: no-referrer\r\n";

enum class HttpRoute {
  kMetrics,
  kDashboardPage,
  kDashboardJson,
  kNotFound,
  kMethodNotAllowed,
  kBadRequest
};

// The length of the head (through its empty line) in `received`, or nullopt while
// incomplete.
std::optional<size_t> HeadLength(std::string_view received);
HttpRoute Route(std::string_view head);
// A complete response: status line, Content-Type, Content-Length, Connection: close
// (and Allow: GET for 405), `extra_headers` (whole lines), then `body`.
std::string Response(int code, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers = {});
// The response for a route that is not served (404, 405, 400; a short text/plain body).
std::string ErrorResponse(HttpRoute route);

}  // namespace cmcl::io::metrics
