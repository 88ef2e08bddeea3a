// YAML -> typed values, with every problem reported as a Diagnostic at the
// FILE:LINE:COLUMN it is about. Internal to io/config (the only yaml-cpp user).
//
// YamlFile reads one file (refusing empty, binary and unparsable ones); MapReader reads
// one mapping of it: it reports unknown keys (with "did you mean"), keys given twice
// and missing required keys, and converts values to the core's types (durations,
// sizes, addresses, WWIDs, percentages, enums), reporting every malformed value and
// leaving the field at its default. Nothing here stops at the first error.
//
// Location convention (cluster_config.h KeyLocations): keys["k"] is where the value of
// key k starts (the key itself when the value is empty); keys["k[i]"] is where element
// i of a list value starts.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cmcld/core/common/time.h"
#include "cmcld/core/common/units.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/config/diagnostic.h"

namespace cmcl::io::config {

using cmcl::config::Diagnostic;
using cmcl::config::KeyLocations;
using cmcl::config::SourceLocation;

class YamlFile {
 public:
  // `path` is opened; `display` is how messages name it. `out` must outlive this.
  YamlFile(std::string path, std::string display, std::vector<Diagnostic>* out);

  // The document's root, or nullopt after reporting why there is none (unreadable,
  // empty, binary, YAML syntax error).
  std::optional<YAML::Node> Load();

  const std::string& path() const { return path_; }
  const std::string& display() const { return display_; }
  SourceLocation Whole() const { return {display_, 0, 0}; }
  // The node's 1-based position; `fallback` when yaml-cpp has none (an empty value).
  SourceLocation At(const YAML::Node& node, const SourceLocation& fallback) const;
  void Error(const SourceLocation& where, std::string message);
  // Where this file's diagnostics go; files it refers to report there too.
  std::vector<Diagnostic>* sink() const { return out_; }

 private:
  std::string path_;
  std::string display_;
  std::vector<Diagnostic>* out_;
};

// "nothing", "a list", "a mapping" or the scalar in quotes: what a value turned out to be.
std::string Describe(const YAML::Node& node);

template <typename E>
using EnumSpellings = std::vector<std::pair<std::string_view, E>>;

class MapReader {
 public:
  // Reports when `node` is not a mapping; `what` names it in that message ("node",
  // "the cluster file"). Records every key's location in `where`, which must outlive
  // this reader. `self` is where the mapping is written (its key, for a value).
  MapReader(YamlFile& file, const YAML::Node& node, const SourceLocation& self, std::string what,
            std::vector<std::string_view> known, KeyLocations* where);

  bool ok() const { return ok_; }
  YamlFile& file() { return file_; }
  const SourceLocation& self() const { return where_->self; }
  bool Has(std::string_view key) const;
  // The value of `key`, if given.
  std::optional<YAML::Node> Get(std::string_view key) const;
  // Where the value of `key` is (or the mapping when it is absent).
  const SourceLocation& At(std::string_view key) const { return where_->Of(std::string(key)); }
  void Require(std::initializer_list<std::string_view> keys);

  void String(std::string_view key, std::string* out);
  void OptionalString(std::string_view key, std::optional<std::string>* out);
  // A string that must say something (a path, a name): '' is reported as empty, with
  // `expected` (e.g. "a device path") saying what belongs there.
  void NonEmptyString(std::string_view key, std::string_view expected, std::string* out);
  void OptionalNonEmptyString(std::string_view key, std::string_view expected,
                              std::optional<std::string>* out);
  template <typename Strong>
  void Name(std::string_view key, Strong* out) {
    const std::optional<std::string> text = Scalar(key, "a name");
    if (!text) return;
    if (text->empty()) file_.Error(At(key), std::string(key) + ": empty; expected a name");
    *out = Strong(*text);
  }
  void Duration(std::string_view key, cmcl::Duration* out);
  void Size(std::string_view key, ByteSize* out);
  void Percent(std::string_view key, Percentage* out);
  void Bool(std::string_view key, bool* out);
  void Count(std::string_view key, uint32_t* out);
  void OptionalCount(std::string_view key, std::optional<uint32_t>* out);
  void Address(std::string_view key, std::optional<SocketAddress>* out);
  void WwidValue(std::string_view key, std::optional<Wwid>* out);
  // A path, resolved against `base_dir` and normalized.
  void Path(std::string_view key, const std::string& base_dir, std::string* out);
  template <typename E>
  void Enum(std::string_view key, const EnumSpellings<E>& spellings, E* out) {
    const std::optional<std::string> text = Scalar(key, "one of " + Spellings(spellings));
    if (!text) return;
    for (const auto& [spelling, value] : spellings) {
      if (*text == spelling) {
        *out = value;
        return;
      }
    }
    std::vector<std::string> names;
    for (const auto& entry : spellings) names.emplace_back(entry.first);
    BadValue(key, *text, "is not one of " + Spellings(spellings), names);
  }
  // The elements of a list value, each with its location recorded as key[i]; reports a
  // value that is not a list. Empty when absent.
  std::vector<YAML::Node> List(std::string_view key);
  // A scalar value, or nullopt after reporting a value of another kind.
  std::optional<std::string> Scalar(std::string_view key, std::string_view expected);
  void BadValue(std::string_view key, const std::string& text, const std::string& problem,
                const std::vector<std::string>& candidates = {});

 private:
  template <typename E>
  static std::string Spellings(const EnumSpellings<E>& spellings) {
    std::string text;
    for (const auto& entry : spellings) {
      text += (text.empty() ? "" : ", ") + std::string(entry.first);
    }
    return text;
  }

  YamlFile& file_;
  std::vector<std::pair<std::string, YAML::Node>> values_;  // First occurrence of each key.
  KeyLocations* where_;
  bool ok_ = false;
};

// A scalar list element as text, or nullopt after reporting `what` was expected.
std::optional<std::string> ScalarElement(YamlFile& file, const YAML::Node& node,
                                         const SourceLocation& where, std::string_view key,
                                         std::string_view what);

}  // namespace cmcl::io::config
