// Check reports and the readiness matrix: validation over many (package, node) pairs.
//
// A CheckReport is what `pkgctl check` prints (INTERFACE.md, "check and readiness"): a
// package, its source node (or none) and one ValidationResult per target node. The
// readiness view is one CheckReport per package, against every node it may run on other
// than the one its guest is on now, so an operator sees which failovers would be
// refused *before* a node is lost (DESIGN.md section 6).
//
// Everything here is pure and deterministic: packages in configuration order, nodes in
// the package's preference order ("*" = members in file order). ComputeReadiness builds
// its indexes once (ClusterView), so recomputing it on every change is cheap; see
// docs/BENCHMARKS.md for 3,000 packages x 32 nodes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/violation.h"

namespace cmcl::validation {

struct NodeResult {
  NodeName node;
  ValidationResult result;
};

struct CheckReport {
  PackageName package;
  std::optional<NodeName> source;
  std::vector<NodeResult> results;
  // True when no result has a violation.
  bool ok() const;
};
using PackageReadiness = CheckReport;

// Every package against every node it may run on except the one its guest is placed on.
std::vector<PackageReadiness> ComputeReadiness(const config::ClusterConfig& config,
                                               const ClusterFacts& facts);
std::vector<PackageReadiness> ComputeReadiness(const ClusterView& cluster);

// `pkgctl check PKG [-n NODE]`: with a target, that node alone against its source;
// without, every node the package may run on except its source. NotFound (with "did you
// mean") when the package is not configured; an unknown target node is a violation
// (target_not_member), not an error, so the report still says what is wrong.
Result<CheckReport> Check(const ClusterView& cluster, const PackageName& package,
                          const std::optional<NodeName>& target);

// `pkgctl check PKG [-n NODE] --offline`: from the configuration alone, with the offline
// rules (ClusterFacts::Offline): the source is the first node of the package's list
// other than the target, membership means "configured as a member".
Result<CheckReport> CheckOffline(const config::ClusterConfig& config, const PackageName& package,
                                 const std::optional<NodeName>& target);

// The JSON of INTERFACE.md: {"package","source","results":[{"node","ok","violations":
// [{"code","message"}],"unchecked":[...]}]}, on one line.
std::string CheckReportJson(const CheckReport& report);
// `readiness`: a JSON list of CheckReportJson objects.
std::string ReadinessJson(const std::vector<PackageReadiness>& readiness);
// The table form: one line per violation ("ivmcl02: wwid_mismatch: device ..."), then
// one per unchecked check ("ivmcl02: unchecked wwid_mismatch: ..."), and "NODE: ok" for
// a node with neither.
std::vector<std::string> CheckReportLines(const CheckReport& report);
// The table's last line: "hpvm1 may run on every node checked", "hpvm1: 1 of 2 node(s)
// refused", or, with no result, that the package's only node is its source.
std::string CheckReportSummary(const CheckReport& report);

}  // namespace cmcl::validation
