// CMCL_CHECK: the assertion for broken invariants (STYLE.md rule 13).
//
// A failed check is a programmer error, never an operating error: it prints the
// condition, the place and the streamed explanation to stderr and aborts, in every
// build type. Operating errors (bad input, a script that fails, a full disk) are
// returned as cmcl::Status values instead.
//
//   CMCL_CHECK(index <= last_index_) << "index " << index << " past the log end";
#pragma once

#include <sstream>

namespace cmcl::internal {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();

  template <typename T>
  CheckFailure& operator<<(const T& value) {
    message_ << value;
    return *this;
  }

 private:
  std::ostringstream message_;
};

}  // namespace cmcl::internal

#define CMCL_CHECK(condition) \
  if (condition) {            \
  } else                      \
    ::cmcl::internal::CheckFailure(#condition, __FILE__, __LINE__)
