#include "cmcld/io/metrics/http.h"

#include <gtest/gtest.h>

namespace cmcl::io::metrics {
namespace {

TEST(MetricsHttp, GetMetricsIsServed) {
  EXPECT_EQ(Route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), HttpRoute::kMetrics);
  EXPECT_EQ(Route("GET /metrics HTTP/1.0\r\n\r\n"), HttpRoute::kMetrics);
  EXPECT_EQ(Route("GET /metrics?x=1 HTTP/1.1\r\n\r\n"), HttpRoute::kMetrics);
}

TEST(MetricsHttp, TheDashboardIsAtTheRootAndItsDataBeside) {
  EXPECT_EQ(Route("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), HttpRoute::kDashboardPage);
  EXPECT_EQ(Route("GET /?refresh=1 HTTP/1.1\r\n\r\n"), HttpRoute::kDashboardPage);
  EXPECT_EQ(Route("GET /dashboard HTTP/1.0\r\n\r\n"), HttpRoute::kDashboardPage);
  EXPECT_EQ(Route("GET /dashboard.json HTTP/1.1\r\n\r\n"), HttpRoute::kDashboardJson);
  EXPECT_EQ(Route("GET /dashboard.json?t=5 HTTP/1.1\r\n\r\n"), HttpRoute::kDashboardJson);
}

TEST(MetricsHttp, OtherPathsAreNotFound) {
  EXPECT_EQ(Route("GET /metricsx HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
  EXPECT_EQ(Route("GET /index.html HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
  EXPECT_EQ(Route("GET /dashboard/ HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
  EXPECT_EQ(Route("GET /dashboard.jsonx HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
  EXPECT_EQ(Route("GET //dashboard.json HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
}

TEST(MetricsHttp, OtherMethodsAreNotAllowed) {
  EXPECT_EQ(Route("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            HttpRoute::kMethodNotAllowed);
  EXPECT_EQ(Route("HEAD /metrics HTTP/1.1\r\n\r\n"), HttpRoute::kMethodNotAllowed);
  EXPECT_EQ(Route("POST /dashboard.json HTTP/1.1\r\n\r\n"), HttpRoute::kMethodNotAllowed);
  EXPECT_EQ(Route("PUT / HTTP/1.1\r\n\r\n"), HttpRoute::kMethodNotAllowed);
  EXPECT_EQ(Route("DELETE /nothing HTTP/1.1\r\n\r\n"), HttpRoute::kMethodNotAllowed);
}

TEST(MetricsHttp, MalformedRequestsAreBad) {
  for (const char* head :
       {"\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n", "GET /metrics HTTP/2\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n"}) {
    EXPECT_EQ(Route(head), HttpRoute::kBadRequest) << head;
  }
}

TEST(MetricsHttp, TheHeadEndsAtTheFirstEmptyLine) {
  EXPECT_EQ(HeadLength("GET / HTTP/1.1\r\nA: b\r\n"), std::nullopt);
  EXPECT_EQ(HeadLength("GET / HTTP/1.1\r\n\r\nbody"), 18u);
  EXPECT_EQ(HeadLength("GET / HTTP/1.1\n\nbody"), 16u);
}

TEST(MetricsHttp, ResponsesCloseAndGiveTheirLength) {
  EXPECT_EQ(Response(200, kMetricsContentType, "a 1\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
  const std::string not_allowed = ErrorResponse(HttpRoute::kMethodNotAllowed);
  EXPECT_EQ(not_allowed.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_NE(not_allowed.find("\r\nAllow: GET\r\n"), std::string::npos);
  EXPECT_EQ(ErrorResponse(HttpRoute::kNotFound).rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(ErrorResponse(HttpRoute::kBadRequest).rfind("HTTP/1.1 400 ", 0), 0u);
}

TEST(MetricsHttp, ExtraHeadersGoBeforeTheEmptyLine) {
  EXPECT_EQ(Response(200, kJsonContentType, "{}", kDashboardJsonHeaders),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff"
            "\r\n\r\n{}");
}

TEST(MetricsHttp, ThePagePolicyAllowsNothingFromElsewhere) {
  const std::string headers(kDashboardPageHeaders);
  EXPECT_NE(headers.find("Content-Security-Policy: default-src 'none';"), std::string::npos);
  EXPECT_NE(headers.find("connect-src 'self'"), std::string::npos);
  EXPECT_NE(headers.find("Cache-Control: no-store\r\n"), std::string::npos);
  EXPECT_EQ(headers.find("http"), std::string::npos);  // No other origin named.
}

TEST(MetricsHttp, NotFoundNamesWhatIsServed) {
  const std::string not_found = ErrorResponse(HttpRoute::kNotFound);
  EXPECT_NE(not_found.find("/metrics"), std::string::npos);
  EXPECT_NE(not_found.find("/dashboard.json"), std::string::npos);
}

}  // namespace
}  // namespace cmcl::io::metrics
