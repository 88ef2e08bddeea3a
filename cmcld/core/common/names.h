// Names of clusters, nodes and packages (DESIGN.md section 8):
// [A-Za-z0-9][A-Za-z0-9_.-]{0,38}, that is 1 to 39 characters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/strong_value.h"

namespace cmcl {

struct ClusterNameTag {};
struct NodeNameTag {};
struct PackageNameTag {};
using ClusterName = StrongValue<ClusterNameTag, std::string>;
using NodeName = StrongValue<NodeNameTag, std::string>;
using PackageName = StrongValue<PackageNameTag, std::string>;

constexpr size_t kNameLengthMax = 39;

bool IsValidName(std::string_view name);

// The candidate closest to `word` by edit distance, if it is close enough to be a
// plausible typo (at most a third of the word's length, at least 1, at most 3 edits);
// empty otherwise. Ties go to the first candidate. For "did you mean" messages.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// Levenshtein distance (insert, delete, substitute, each cost 1).
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace cmcl
