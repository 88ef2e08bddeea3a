// The ops of one kind a coordinator Decision proposes, in order: the check every
// coordinator-level unit test makes ("which AssignOps did Decide propose?").
#pragma once

#include <variant>
#include <vector>

#include "cmcld/core/node/coordinator.h"

namespace cmcl::test_support {

template <typename T>
std::vector<T> OpsOf(const node::Decision& decision) {
  std::vector<T> found;
  for (const node::Op& op : decision.ops) {
    if (const T* typed = std::get_if<T>(&op)) found.push_back(*typed);
  }
  return found;
}

}  // namespace cmcl::test_support
