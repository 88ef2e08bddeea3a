#include "tests/sim/sim_state_machine.h"

#include "tests/sim/state_checker.h"

namespace cmcl::sim {
namespace {

void Put(uint64_t value, std::string& out) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xffU));
  }
}

uint64_t Get(const std::string& in, size_t at) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  }
  return value;
}

}  // namespace

uint64_t NextDigest(uint64_t digest, const raft::Entry& entry) {
  digest ^= HashEntry(entry) + 0x9e3779b97f4a7c15ULL + (digest << 6) + (digest >> 2);
  return digest * 0x100000001b3ULL;
}

void SimStateMachine::Apply(const raft::ApplyEntry& apply) {
  applied = apply.entry.index;
  digest = NextDigest(digest, apply.entry);
  if (apply.entry.kind == raft::EntryKind::kCommand && !apply.duplicate) {
    ++executed;
  }
}

std::string SimStateMachine::Encode() const {
  std::string out = "simsm1";
  Put(applied.value(), out);
  Put(digest, out);
  Put(executed, out);
  return out;
}

std::optional<SimStateMachine> SimStateMachine::Decode(const std::string& bytes) {
  if (bytes.size() != 6 + 24 || bytes.compare(0, 6, "simsm1") != 0) {
    return std::nullopt;
  }
  return SimStateMachine{.applied = raft::LogIndex(Get(bytes, 6)),
                         .digest = Get(bytes, 14),
                         .executed = Get(bytes, 22)};
}

}  // namespace cmcl::sim
