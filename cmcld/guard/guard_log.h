// GuardLog: cmcl-guard's log, one line per event (DESIGN.md section 4: a fence must be
// explainable afterwards without cmcld). Each line starts with the UTC wall time and the
// CLOCK_BOOTTIME millisecond the deadlines are expressed in, so a line can be matched to
// a deadline in cmcld's log. One write(2) per line on an O_APPEND descriptor: the fence
// children write their own output to the same file, and lines stay whole.
#pragma once

#include <string>
#include <string_view>

namespace cmcl::guard {

class GuardLog {
 public:
  // Logs to standard error until Open() succeeds.
  GuardLog() = default;
  ~GuardLog();
  GuardLog(const GuardLog&) = delete;
  GuardLog& operator=(const GuardLog&) = delete;

  // Appends to `path` from now on (created 0600). False (errno set) when it cannot.
  bool Open(const std::string& path);
  void Line(std::string_view text) const;
  // The descriptor children get as stdout and stderr.
  int fd() const { return fd_; }

 private:
  int fd_ = 2;
};

}  // namespace cmcl::guard
