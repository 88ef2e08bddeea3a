// A blocking HTTP/1.1 GET against 127.0.0.1 for tests of the metrics listener (the
// dashboard tests; metrics_test.cc has its own lower-level helpers for malformed input).
#pragma once

#include <chrono>
#include <string>

namespace cmcl::testing {

struct HttpAnswer {
  int code = 0;      // 0: no answer.
  std::string head;  // Status line and headers, each line ending in CRLF.
  std::string body;
  // The value of header `name` (case-sensitive, as the server writes it), or "".
  std::string Header(const std::string& name) const;
};

// GET `path` from 127.0.0.1:port; reads until the server closes or `timeout` passes.
HttpAnswer HttpGet(int port, const std::string& path,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace cmcl::testing
