// cmcl::Status and cmcl::Result<T>: how operating errors travel (STYLE.md rule 14).
//
// A Status is a code plus a message for people. The codes are the subset of the gRPC
// canonical codes cmcl uses, so io/api maps them 1:1 onto grpc::Status. Choose them as
// Abseil advises: kUnavailable = retry the same call (no leader yet), kAborted = retry
// at a higher level (term changed), kFailedPrecondition = do not retry until the state
// is fixed (move refused by validation). Domain verdicts such as migration violations
// are data, not a Status (rule 16).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "cmcld/core/common/check.h"

namespace cmcl {

enum class StatusCode {
  kOk,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kDeadlineExceeded,
  kAborted,
  kPermissionDenied,
  kInternal,
};

// "ok", "invalid_argument", ...: the spelling used in JSON error codes.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(StatusCode::kInvalidArgument, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(StatusCode::kNotFound, std::move(message));
  }
  static Status AlreadyExists(std::string message) {
    return Status(StatusCode::kAlreadyExists, std::move(message));
  }
  static Status FailedPrecondition(std::string message) {
    return Status(StatusCode::kFailedPrecondition, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(StatusCode::kUnavailable, std::move(message));
  }
  static Status DeadlineExceeded(std::string message) {
    return Status(StatusCode::kDeadlineExceeded, std::move(message));
  }
  static Status Aborted(std::string message) {
    return Status(StatusCode::kAborted, std::move(message));
  }
  static Status PermissionDenied(std::string message) {
    return Status(StatusCode::kPermissionDenied, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(StatusCode::kInternal, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: package hpvm9 is not configured"; "ok" when ok.
  std::string ToString() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
    CMCL_CHECK(code != StatusCode::kOk) << "an error status needs an error code";
  }

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status saying why there is none. REQUIRES: an error Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::move(value)) {}  // NOLINT: implicit by design.
  Result(Status status) : storage_(std::move(status)) {  // NOLINT: implicit by design.
    CMCL_CHECK(!std::get<Status>(storage_).ok()) << "a Result needs a value or an error";
  }

  bool ok() const { return std::holds_alternative<T>(storage_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(storage_);
  }
  const T& value() const& {
    CMCL_CHECK(ok()) << "value() of an error Result: " << status().ToString();
    return std::get<T>(storage_);
  }
  T& value() & {
    CMCL_CHECK(ok()) << "value() of an error Result: " << status().ToString();
    return std::get<T>(storage_);
  }
  T&& value() && {
    CMCL_CHECK(ok()) << "value() of an error Result: " << status().ToString();
    return std::get<T>(std::move(storage_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> storage_;
};

}  // namespace cmcl
