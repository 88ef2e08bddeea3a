#include "cmcld/core/common/status.h"

#include <gtest/gtest.h>

#include <string>

namespace cmcl {
namespace {

TEST(Status, DefaultIsOkAndPrintsOk) {
  const Status status;

  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.ToString(), "ok");
}

TEST(Status, ErrorCarriesCodeAndMessage) {
  const Status status = Status::NotFound("package hpvm9 is not configured");

  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.ToString(), "not_found: package hpvm9 is not configured");
}

TEST(Result, HoldsValueOrError) {
  const Result<int> value = 7;
  const Result<int> error = Status::Unavailable("no leader");

  EXPECT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), StatusCode::kUnavailable);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  const Result<std::string> error = Status::Internal("broken");

  EXPECT_DEATH((void)error.value(), "value\\(\\) of an error Result");
}

}  // namespace
}  // namespace cmcl
