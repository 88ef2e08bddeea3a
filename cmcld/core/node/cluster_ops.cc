// The ops of cluster_state.h on the wire, and their names for people and traces.
//
// An op is written as its tag — its index in the Op variant plus one, so the variant's
// order is the wire's: never reorder it, only append — followed by its fields in the
// order Fields() lists them (codec.h encodes each field). The same list serves reading,
// writing and tracing, so the three cannot drift apart.
#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/codec.h"

namespace cmcl::node {
namespace {

// A payload's leading version. 2: issue 7's package ops and fields. Issue 9's config ops
// were appended to the variant (new tags) without changing any older op's encoding, so
// every format-2 payload still decodes as before and the format stays 2. (A node too old
// to know the new tags counts such a command as malformed; mixed versions are not
// supported within one cluster anyway.)
// 3: AssignOp::needs_up and ::over_halt_failed, UnassignOp::over_halt_failed appended
// (issue 10); format 2 still decodes (without them).
// 4: ReleaseOp::displacer and ::displacer_epoch appended; formats 2 and 3 still decode.
constexpr uint8_t kOpsFormat = 4;
constexpr uint8_t kOpsFormat3 = 3;
constexpr uint8_t kOpsFormat2 = 2;

// Strings longer than this (a bundle) or with control bytes show as their size in traces.
constexpr size_t kShownStringMax = 256;

// Calls f with every field of `op`, in wire order (const or mutable as `op` is).
template <typename O, typename F>
void Fields(O& o, F&& f) {
  using T = std::remove_const_t<O>;
  if constexpr (std::is_same_v<T, AssignOp>) {
    f(o.resource, o.node, o.from_epoch, o.reason, o.why, o.remember, o.needs_up,
      o.over_halt_failed);
  } else if constexpr (std::is_same_v<T, ReportOp>) {
    f(o.resource, o.node, o.epoch, o.kind, o.failure, o.detail);
  } else if constexpr (std::is_same_v<T, ReleaseOp>) {
    f(o.resource, o.epoch, o.why, o.displacer, o.displacer_epoch);
  } else if constexpr (std::is_same_v<T, DisarmOp> || std::is_same_v<T, LeaseLengthOp> ||
                       std::is_same_v<T, LeaseMaxOp>) {
    f(o.length);
  } else if constexpr (std::is_same_v<T, ArmOp>) {
    f();
  } else if constexpr (std::is_same_v<T, ArmedOp>) {
    f(o.node, o.arm);
  } else if constexpr (std::is_same_v<T, RunOp>) {
    f(o.package, o.node, o.enable_switching, o.by);
  } else if constexpr (std::is_same_v<T, HaltOp>) {
    f(o.package, o.by);
  } else if constexpr (std::is_same_v<T, MoveOp>) {
    f(o.package, o.target, o.kind, o.vcpus, o.memory_mb, o.by);
  } else if constexpr (std::is_same_v<T, EnableOp>) {
    f(o.package, o.node, o.enable, o.by);
  } else if constexpr (std::is_same_v<T, ClearOp>) {
    f(o.package, o.owner_is_down, o.by);
  } else if constexpr (std::is_same_v<T, NodeAdminOp>) {
    f(o.node, o.halted, o.by);
  } else if constexpr (std::is_same_v<T, ReadmitOp>) {
    f(o.node, o.node_id, o.by);
  } else if constexpr (std::is_same_v<T, ClusterRunOp>) {
    f(o.by);
  } else if constexpr (std::is_same_v<T, ClusterHaltOp>) {
    f(o.force, o.by);
  } else if constexpr (std::is_same_v<T, ConfigApplyOp>) {
    f(o.version, o.bundle_hash, o.by);
  } else if constexpr (std::is_same_v<T, IntentStepOp>) {
    f(o.package, o.intent, o.step, o.reason);
  } else if constexpr (std::is_same_v<T, IntentDoneOp>) {
    f(o.package, o.intent, o.ok, o.message);
  } else if constexpr (std::is_same_v<T, NoteOp>) {
    f(o.package, o.note, o.ends_run);
  } else if constexpr (std::is_same_v<T, UnassignOp>) {
    f(o.package, o.from_epoch, o.reason, o.over_halt_failed);
  } else if constexpr (std::is_same_v<T, ClusterStartOp>) {
    f(o.reason);
  } else if constexpr (std::is_same_v<T, ConfigProposeOp>) {
    f(o.version, o.bundle_hash, o.bundle, o.packages, o.by);
  } else if constexpr (std::is_same_v<T, ConfigVerdictOp>) {
    f(o.version, o.bundle_hash, o.proposal, o.node, o.ok, o.reason);
  } else if constexpr (std::is_same_v<T, ClusterModeOp>) {
    f(o.disarm_for, o.by);
  } else if constexpr (std::is_same_v<T, ConfigAbortOp>) {
    f(o.version, o.bundle_hash, o.reason);
  } else if constexpr (std::is_same_v<T, InventoryOp>) {
    f(o.node, o.inventory);
  } else {
    static_assert(std::is_same_v<T, MaintenanceOp>);
    f(o.node, o.package, o.on, o.freeze, o.by);
  }
}

constexpr std::string_view kOpNames[] = {"assign",         "report",        "release",
                                         "disarm",         "arm",           "armed",
                                         "lease_length",   "lease_max",     "run",
                                         "halt",           "move",          "enable",
                                         "clear",          "node_admin",    "readmit",
                                         "cluster_run",    "cluster_halt",  "config_apply",
                                         "intent_step",    "intent_done",   "note",
                                         "unassign",       "cluster_start", "config_propose",
                                         "config_verdict", "config_abort",  "maintenance",
                                         "cluster_mode",   "inventory"};
static_assert(std::size(kOpNames) == std::variant_size_v<Op>);

template <size_t I>
std::optional<Op> ReadAlternative(size_t tag, ByteReader& in, uint8_t format) {
  if constexpr (I == std::variant_size_v<Op>) {
    return std::nullopt;  // An unknown tag.
  } else {
    if (tag != I) {
      return ReadAlternative<I + 1>(tag, in, format);
    }
    std::variant_alternative_t<I, Op> op{};
    if constexpr (std::is_same_v<std::variant_alternative_t<I, Op>, ReleaseOp>) {
      if (format == kOpsFormat2 || format == kOpsFormat3) {  // Without format 4's fields.
        codec::Get(in, op.resource, op.epoch, op.why);
        return Op(std::move(op));
      }
    }
    if (format == kOpsFormat2) {  // Without the fields format 3 appended.
      if constexpr (std::is_same_v<std::variant_alternative_t<I, Op>, AssignOp>) {
        codec::Get(in, op.resource, op.node, op.from_epoch, op.reason, op.why, op.remember);
        return Op(std::move(op));
      } else if constexpr (std::is_same_v<std::variant_alternative_t<I, Op>, UnassignOp>) {
        codec::Get(in, op.package, op.from_epoch, op.reason);
        return Op(std::move(op));
      }
    }
    Fields(op, [&in](auto&... fields) { codec::Get(in, fields...); });
    return Op(std::move(op));
  }
}

// A field as a trace shows it.
template <typename T>
std::string Show(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    const bool printable = std::none_of(value.begin(), value.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;  // UTF-8 text passes.
    });
    if (!printable || value.size() > kShownStringMax) {
      return "<" + std::to_string(value.size()) + " bytes>";
    }
    return "\"" + value + "\"";
  } else if constexpr (std::is_same_v<T, NodeName> || std::is_same_v<T, PackageName>) {
    return value.value();
  } else if constexpr (std::is_same_v<T, raft::LogIndex>) {
    return "@" + std::to_string(value.value());
  } else if constexpr (std::is_same_v<T, Duration>) {
    return FormatDuration(value);
  } else if constexpr (std::is_same_v<T, ReportKind>) {
    return std::string(ReportKindName(value));
  } else if constexpr (std::is_same_v<T, FailureKind>) {
    return std::string(FailureKindName(value));
  } else if constexpr (std::is_same_v<T, ActionReason>) {
    return std::string(ActionReasonName(value));
  } else if constexpr (std::is_same_v<T, IntentKind>) {
    return std::string(IntentKindName(value));
  } else if constexpr (std::is_same_v<T, IntentStep>) {
    return std::string(IntentStepName(value));
  } else if constexpr (std::is_same_v<T, inventory::NodeInventory>) {
    return "<" + std::to_string(value.disks.size()) + " disk paths, " +
           std::to_string(value.vswitches.size()) + " vswitches>";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else if constexpr (requires { value.begin()->first; }) {  // A map: {k:v,k:v}.
    std::string text = "{";
    for (const auto& [key, item] : value) {
      text += (text.size() > 1 ? "," : "") + Show(key) + ":" + Show(item);
    }
    return text + "}";
  } else if constexpr (requires { value.begin(); }) {  // A vector: [a,b].
    std::string text = "[";
    for (const auto& item : value) {
      text += (text.size() > 1 ? "," : "") + Show(item);
    }
    return text + "]";
  } else {
    return value ? Show(*value) : "-";  // std::optional.
  }
}

}  // namespace

std::string EncodeOps(const OpBatch& ops) {
  ByteWriter out;
  out.U8(kOpsFormat);
  out.U32(static_cast<uint32_t>(ops.size()));
  for (const Op& op : ops) {
    out.U8(static_cast<uint8_t>(op.index() + 1));
    std::visit(
        [&out](const auto& o) { Fields(o, [&out](const auto&... f) { codec::Put(out, f...); }); },
        op);
  }
  return out.Take();
}

std::optional<OpBatch> DecodeOps(const std::string& payload) {
  ByteReader in(payload);
  const uint8_t format = in.U8();
  in.Require(format == kOpsFormat || format == kOpsFormat3 || format == kOpsFormat2);
  const uint32_t count = in.U32();
  OpBatch ops;
  // No reserve(count): a garbage count must not allocate; the loop stops at the end.
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    const uint8_t tag = in.U8();
    std::optional<Op> op = tag == 0 ? std::nullopt : ReadAlternative<0>(tag - 1U, in, format);
    if (!op) {
      return std::nullopt;
    }
    ops.push_back(std::move(*op));
  }
  if (!in.done()) {
    return std::nullopt;
  }
  return ops;
}

std::string DescribeOps(const OpBatch& ops) {
  std::string text;
  for (const Op& op : ops) {
    if (!text.empty()) {
      text += ' ';
    }
    text += kOpNames[op.index()];
    text += '(';
    std::visit(
        [&text](const auto& o) {
          Fields(o, [&text](const auto&... f) {
            bool first = true;
            ((text += (first ? "" : ","), text += Show(f), first = false), ...);
          });
        },
        op);
    text += ')';
  }
  return text;
}

// --- Names ------------------------------------------------------------------------------

std::string_view ReportKindName(ReportKind kind) {
  constexpr std::string_view kNames[] = {"started",     "halted", "failed",
                                         "halt_failed", "fenced", "stray"};
  return kNames[static_cast<size_t>(kind)];
}

std::string_view AssignmentStatusName(AssignmentStatus status) {
  constexpr std::string_view kNames[] = {"assigned", "started",     "halted",
                                         "failed",   "halt_failed", "fenced"};
  return kNames[static_cast<size_t>(status)];
}

std::string_view FailureKindName(FailureKind kind) {
  constexpr std::string_view kNames[] = {"none",           "exit1", "exit2",      "timeout",
                                         "service_failed", "lost",  "halt_script"};
  return kNames[static_cast<size_t>(kind)];
}

std::string_view ActionReasonName(ActionReason reason) {
  constexpr std::string_view kNames[] = {
      "start",    "restart",    "failover",       "move",  "failback",   "halt",     "node_halt",
      "shutdown", "run_failed", "service_failed", "fence", "dependency", "displaced"};
  return kNames[static_cast<size_t>(reason)];
}

std::string_view PackageStatusName(PackageStatus status) {
  constexpr std::string_view kNames[] = {"down",    "starting", "up",
                                         "halting", "failed",   "halt_failed"};
  return kNames[static_cast<size_t>(status)];
}

std::string_view IntentKindName(IntentKind kind) {
  constexpr std::string_view kNames[] = {"move", "failback", "node_halt"};
  return kNames[static_cast<size_t>(kind)];
}

std::string_view IntentStepName(IntentStep step) {
  constexpr std::string_view kNames[] = {"validating", "halting", "starting", "returning"};
  return kNames[static_cast<size_t>(step)];
}

std::string_view CommandKindName(CommandKind kind) {
  constexpr std::string_view kNames[] = {"run", "halt", "move", "clear", "enable", "maintenance"};
  return kNames[static_cast<size_t>(kind)];
}

}  // namespace cmcl::node
