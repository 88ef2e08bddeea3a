// What the control API answers, rendered (INTERFACE.md "pkgctl", "JSON output"): every
// answer carries its exit status and both forms, JSON and the table, so pkgctl only
// picks one. Pure functions of their inputs; control_service.cc wraps them in replies.
//
// Errors: {"error": {"code", "message"}} in JSON and the message as the text (pkgctl
// prints it on stderr). A refusal by migration validation adds "violations": [{"node",
// "code", "message"}] and the text lists one line per violation.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/validation/readiness.h"

namespace cmcl::io::control {

// INTERFACE.md "Exit status".
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitTimeout = 4;

struct Answer {
  int exit_status = kExitOk;
  std::string json;
  std::string text;
  bool is_error = false;  // `text` goes to stderr.
};

// A column-aligned table: a header row, rows, and detail lines under a row (printed as
// they are). The last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void Add(std::vector<std::string> row);
  void Detail(std::string line);  // Under the row added last.
  std::string Render() const;

 private:
  struct Row {
    std::vector<std::string> cells;
    std::vector<std::string> details;
  };
  std::vector<Row> rows_;  // rows_[0] is the header.
};

// {"error": {"code", "message"}}; `exit_status` is usually kExitRefused.
Answer ErrorAnswer(const std::string& code, const std::string& message,
                   int exit_status = kExitRefused);
// A move or run refused by migration validation: code validation_failed, with the
// violations of every refused node.
Answer ValidationFailedAnswer(const std::string& message, const validation::CheckReport& report);
// A finished (or committed) operation: {"package", "ok": true, "message", "index"}.
Answer DoneAnswer(const std::string& package, const std::string& message, uint64_t index);
// The same about a node or the cluster: {key: subject, "ok": true, "message", "index"}.
Answer DoneAnswer(const std::string& key, const std::string& subject, const std::string& message,
                  uint64_t index);
// `config show`: {"version", "bundle_dir", "cluster_yaml"}; the text is the file under a
// comment line naming its version and folder.
Answer ConfigShowAnswer(uint64_t version, const std::string& bundle_dir,
                        const std::string& cluster_yaml);

// `config apply` done (or committed, or nothing to do): {"config_version": N,
// "bundle_hash": H, "ok": true, "message", "index"} (index 0 when nothing was proposed).
Answer ConfigApplyAnswer(uint64_t version, const std::string& bundle_hash,
                         const std::string& message, uint64_t index);

// `check`: the report (exit 0 when every node checked may run it, else 1).
Answer CheckAnswer(const validation::CheckReport& report);
// `readiness`: every package's report (exit 0: it is a report, not a verdict).
Answer ReadinessAnswer(const std::vector<validation::PackageReadiness>& readiness);
// `events`: the newest `limit` events (0: all), oldest first, newest last.
Answer EventsAnswer(const std::deque<node::ClusterEvent>& events, size_t limit);

}  // namespace cmcl::io::control
