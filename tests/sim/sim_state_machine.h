// SimStateMachine: the simulated application under Raft, and its snapshot bytes (issue 5
// item 5).
//
// It folds every applied entry into a digest (the same chain the StateChecker keeps over
// the entries applied cluster-wide, NextDigest) and counts executed commands. Its
// snapshot is those three numbers as bytes, so a node restored from a snapshot can be
// checked to hold exactly the state of the entries up to the snapshot's index. The
// at-most-once table travels in raft::Snapshot::clients, kept by the core.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cmcld/core/raft/actions.h"

namespace cmcl::sim {

// The digest of an applied sequence: NextDigest(digest of 1..i-1, entry i); 0 for none.
uint64_t NextDigest(uint64_t digest, const raft::Entry& entry);

struct SimStateMachine {
  raft::LogIndex applied;
  uint64_t digest = 0;
  uint64_t executed = 0;  // Commands applied and not duplicates.

  void Apply(const raft::ApplyEntry& apply);
  std::string Encode() const;
  static std::optional<SimStateMachine> Decode(const std::string& bytes);
};

}  // namespace cmcl::sim
