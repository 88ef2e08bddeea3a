// StateDir: one node's state_dir (DESIGN.md section 3; INTERFACE.md "cmcld").
//
// Layout:
//   DIR/lock        flock(LOCK_EX|LOCK_NB) held by the running cmcld for its lifetime;
//                   the file holds that daemon's pid, for the error message.
//   DIR/identity    text, written once (atomically: tmp, fsync, rename, fsync DIR):
//                     format_version 1
//                     cluster_id <decimal u64>
//                     node <name>
//                     node_id <decimal u64>   (random per state_dir)
//   DIR/raft.log    RaftStorage's record log (raft_storage.h)
//   DIR/config/vN/  applied configuration bundles (issue 9; v1 = the bootstrap bundle)
//   DIR/log/        per-package script logs (io/guest)
//   DIR/guard.sock  cmcl-guard's socket (io/guard)
//
// Open() refuses, with a one-line reason the daemon prints before exiting 2: a DIR it
// cannot create or write; a lock held by another process ("state dir /x is locked by
// pid 4242 (another cmcld)"); an identity of a newer format_version, of another
// cluster_id ("state dir /x belongs to cluster 123, this configuration is cluster 456")
// or of another node name; an identity file that does not parse.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::io {

inline constexpr uint32_t kStateDirFormatVersion = 1;

class StateDir {
 public:
  // Creates DIR (0700, parents too), takes the lock, then reads the identity, or creates
  // it when missing (node_id from `rng`, never 0). The lock comes first so two daemons
  // started at once on an empty DIR cannot both write an identity. A DIR that holds a
  // raft.log but no identity is refused (it is not empty). The lock is released when the
  // StateDir is destroyed (or the process dies).
  static Result<std::unique_ptr<StateDir>> Open(const std::string& path, const NodeName& node,
                                                raft::ClusterId cluster_id, Rng& rng);
  ~StateDir();
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  const std::string& path() const { return path_; }
  raft::ClusterId cluster_id() const { return cluster_id_; }
  raft::NodeId node_id() const { return node_id_; }
  // True when this Open created the identity (an empty state_dir: bootstrap from the
  // cluster file).
  bool created() const { return created_; }
  // DIR/name.
  std::string Path(std::string_view name) const;

 private:
  StateDir() = default;
  Status Lock();
  Status Identify(const NodeName& node, raft::ClusterId cluster_id, Rng& rng);
  Status CreateIdentity(const NodeName& node, raft::ClusterId cluster_id, Rng& rng);
  std::string path_;
  raft::ClusterId cluster_id_;
  raft::NodeId node_id_;
  bool created_ = false;
  int lock_fd_ = -1;
};

}  // namespace cmcl::io
