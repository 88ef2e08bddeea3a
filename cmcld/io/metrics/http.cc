#include "cmcld/io/metrics/http.h"

namespace cmcl::io::metrics {
namespace {

bool IsMethodChar(char c) { return c >= 'A' && c <= 'Z'; }

// Splits off the first line (without its "\r\n" or "\n").
std::string_view NextLine(std::string_view& rest) {
  const size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view ReasonPhrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    default:
      return "Error";
  }
}

}  // namespace

std::optional<size_t> HeadLength(std::string_view received) {
  const size_t crlf = received.find("\r\n\r\n");
  const size_t lf = received.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::nullopt;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) {
    return crlf + 4;
  }
  return lf + 2;
}

HttpRoute Route(std::string_view head) {
  std::string_view rest = head;
  const std::string_view request_line = NextLine(rest);
  const size_t first_space = request_line.find(' ');
  const size_t second_space = request_line.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos ||
      first_space == 0) {
    return HttpRoute::kBadRequest;
  }
  const std::string_view method = request_line.substr(0, first_space);
  const std::string_view target =
      request_line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = request_line.substr(second_space + 1);
  for (const char c : method) {
    if (!IsMethodChar(c)) return HttpRoute::kBadRequest;
  }
  if (target.empty() || target.front() != '/' || target.find(' ') != std::string_view::npos ||
      (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return HttpRoute::kBadRequest;
  }
  while (!rest.empty()) {
    const std::string_view line = NextLine(rest);
    if (line.empty()) break;  // The head's end.
    if (line.find(':') == std::string_view::npos || line.front() == ' ' || line.front() == '\t') {
      return HttpRoute::kBadRequest;  // Not a header; obsolete line folding refused too.
    }
  }
  if (method != "GET") return HttpRoute::kMethodNotAllowed;
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/metrics") return HttpRoute::kMetrics;
  if (path == "/" || path == "/dashboard") return HttpRoute::kDashboardPage;
  if (path == "/dashboard.json") return HttpRoute::kDashboardJson;
  return HttpRoute::kNotFound;
}

std::string Response(int code, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + std::string(ReasonPhrase(code)) +
                    "\r\nContent-Type: " + std::string(content_type) +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n";
  if (code == 405) out += "Allow: GET\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

std::string ErrorResponse(HttpRoute route) {
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  switch (route) {
    case HttpRoute::kMetrics:
    case HttpRoute::kDashboardPage:
    case HttpRoute::kDashboardJson:
      break;
    case HttpRoute::kNotFound:
      return Response(404, kText,
                      "not found; metrics are at /metrics, the dashboard at / (its data at "
                      "/dashboard.json)\n");
    case HttpRoute::kMethodNotAllowed:
      return Response(405, kText, "method not allowed; use GET\n");
    case HttpRoute::kBadRequest:
      break;
  }
  return Response(400, kText, "bad request\n");
}

}  // namespace cmcl::io::metrics
