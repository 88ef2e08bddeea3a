// ConfigVersions: the configuration versions this node holds on disk, in
// STATE_DIR/config/vN/ (DESIGN.md section 8: "each node writes the bundle atomically to
// state_dir/config/vN/ and runs scripts only from there; a package is halted with the
// scripts of the version that started it; a node keeps the latest version and every
// version a running package was started from").
//
// The current version is the applied one: version 1 is this node's bootstrap copy of
// its own files (bootstrap_bundle.h) until the first `config apply`; a later version is
// written from the bundle bytes of the replicated state (ClusterState::bundle()), so a
// node that was away rebuilds it from a snapshot. A vN folder that exists but differs
// from the applied bytes (left by an earlier history of this state_dir, never applied
// here: nothing can have started from it) is replaced; version 1 never is.
//
// Guests. Each guest on this node has the version that started it: the current one when
// it is registered with the guard for a start (the guard gets that version's halt script
// and folder, and the run script comes from the same folder), kept while it runs here —
// a re-registration of a running guest at a new epoch keeps it — and, after a cmcld
// restart, the version of the work_dir the guard holds for it. Its run, halt, kill and
// status run from that version's folder with that version's package settings. Forget()
// drops the guests that no longer run here, then deletes every older folder no guest
// uses (leftovers of interrupted writes, vN.tmp and incoming-*, go at start).
//
// Files and threads: every method may write or read STATE_DIR/config (with fsyncs);
// call them on the daemon's io thread. Errors are returned, never thrown.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"

namespace cmcl::io {

class ConfigVersions {
 public:
  struct Version {
    uint64_t number = 0;
    std::string dir;  // STATE_DIR/config/vN, absolute.
    std::shared_ptr<const cmcl::config::ClusterConfig> config;  // Loaded from `dir`.
  };

  // `key_file`: this node's own key, with which every version is loaded.
  ConfigVersions(std::string state_dir, std::string key_file);

  // Version 1 from this node's own files (MaterializeBootstrapBundle), made current;
  // `own` is their loaded configuration, which version 1 is.
  Status StartWithBootstrap(std::shared_ptr<const cmcl::config::ClusterConfig> own);
  // The applied version `number` >= 2 from its bundle bytes, which must hash to `hash`:
  // written to vN (replacing a differing leftover), loaded, made current. Apply is
  // Prepare then Install; Prepare touches only vN and vN.tmp (never current or older
  // versions) and may run on another thread, so that writing and loading a bundle does
  // not hold up the io thread; Install makes it current (io thread).
  Result<const Version*> Apply(uint64_t number, std::string_view bytes, const std::string& hash);
  static Result<Version> Prepare(uint64_t number, std::string_view bytes, const std::string& hash,
                                 const std::string& state_dir, const std::string& key_file);
  // `version.config` is copied (made on this thread: runtime/aside.h).
  const Version* Install(Version version);

  const Version& current() const { return *versions_.at(current_); }
  // Version `number` as this node holds it (loaded from its folder once, then kept);
  // an error when the folder is missing or does not load.
  Result<const Version*> Get(uint64_t number);
  // N for a path inside STATE_DIR/config/vN (a registered guest's work_dir); nullopt
  // for any other path.
  std::optional<uint64_t> VersionOf(const std::string& path) const;

  // --- Guests ---
  // After a restart: the guard's registered guests with their work_dirs (a path that
  // names no version counts as the current one).
  void AdoptGuests(const std::map<PackageName, std::string>& work_dirs);
  // `package` is registered with the guard: `running` when its guest already runs here
  // (it keeps its version), else it will be started from the current version. Returns
  // the guest's version.
  const Version& Register(const PackageName& package, bool running);
  // The version `package`'s guest runs from: its own, else the current one (also when
  // its own no longer loads, which is logged).
  const Version& ForGuest(const PackageName& package);
  // `package` is unregistered from the guard: its guest is gone. Prune()s.
  void Unregister(const PackageName& package);
  // Keeps the guests for which `runs` is true (those the node still runs) and those
  // registered for a start that has not begun yet, and forgets the others; when one was
  // forgotten, Prune()s. Asked for each known guest only (it runs after every input), and
  // not at all while nothing waits to start and every guest is of the current version.
  void Forget(const std::function<bool(const PackageName&)>& runs);
  // Deletes every vK folder below the current version that no guest uses; forgets the
  // versions it deleted. (Leftovers of interrupted writes, vN.tmp and incoming-*, are
  // deleted by StartWithBootstrap, before anything may be writing them.)
  void Prune();

  const std::string& state_dir() const { return state_dir_; }
  const std::string& key_file() const { return key_file_; }

 private:
  std::string Dir(uint64_t number) const;
  // Prune, and with `leftovers` also vN.tmp and incoming-* (only when nothing writes).
  void Delete(bool leftovers);

  std::string state_dir_;
  std::string key_file_;
  std::map<uint64_t, std::shared_ptr<const Version>> versions_;
  uint64_t current_ = 0;
  std::map<PackageName, uint64_t> guests_;  // The version each guest started from.
  std::set<PackageName> starting_;          // Registered, not seen running yet.
};

}  // namespace cmcl::io
