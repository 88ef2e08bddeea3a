#include "cmcld/io/metrics/http.h"

#include <gtest/gtest.h>

namespace cmcl::io::metrics {
namespace {

TEST(MetricsHttp, GetMetricsIsServed) {
  EXPECT_EQ(Route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), HttpRoute::kMetrics);
  EXPECT_EQ(Route("GET /metrics HTTP/1.0\r\n\r\n"), HttpRoute::kMetrics);
  EXPECT_EQ(Route("GET /metrics?x=1 HTTP/1.1\r\n\r\n"), HttpRoute::kMetrics);
}

TEST(MetricsHttp, OtherPathsAreNotFound) {
  EXPECT_EQ(Route("GET / HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
  EXPECT_EQ(Route("GET /metricsx HTTP/1.1\r\n\r\n"), HttpRoute::kNotFound);
}

TEST(MetricsHttp, OtherMethodsAreNotAllowed) {
  EXPECT_EQ(Route("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            HttpRoute::kMethodNotAllowed);
  EXPECT_EQ(Route("HEAD /metrics HTTP/1.1\r\n\r\n"), HttpRoute::kMethodNotAllowed);
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

}  // namespace
}  // namespace cmcl::io::metrics
