#include "cmcld/io/config/yaml_reader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/validate.h"

namespace cmcl::io::config {
namespace {

// Configuration files are small; anything larger is almost certainly the wrong file.
constexpr size_t kFileSizeMax = 1 << 20;

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool HasContent(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t start = line.find_first_not_of(" \t\r");
    if (start != std::string::npos && line[start] != '#') return true;
  }
  return false;
}

// Offset of the first byte no YAML text holds (NUL, other C0 controls but tab, CR and
// LF, DEL), or npos.
size_t FirstBinaryByte(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return i;
  }
  return std::string::npos;
}

// Offset of the first byte that starts no well-formed UTF-8 character (RFC 3629: no
// overlong forms, surrogates or code points above U+10FFFF), or npos. YAML files are
// UTF-8 here, and whatever is read ends up in messages and in JSON, which must be UTF-8.
size_t FirstNonUtf8Byte(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    unsigned char low = 0x80;  // Bounds of the second byte.
    unsigned char high = 0xbf;
    if (c < 0x80) {
      length = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return std::string::npos;
}

// yaml-cpp's errors about tab indentation ("illegal map value", "illegal block entry")
// never say "tab"; the hint does, when the line the error is on is indented with one.
std::string TabHint(const std::string& text, int line) {
  std::istringstream lines(text);
  std::string current;
  for (int i = 0; i <= line && std::getline(lines, current); ++i) {
    if (i < line) continue;
    const size_t end = current.find_first_not_of(" \t");
    if (current.substr(0, end).find('\t') == std::string::npos) return std::string();
    return " (line " + std::to_string(line + 1) +
           " is indented with a tab; YAML indents with spaces only)";
  }
  return std::string();
}

// Where each document of a YAML stream starts, and its root node, from yaml-cpp's
// event parser. yaml-cpp 0.7's YAML::LoadAll never returns on some malformed input (a
// lone ',' at the top level; jbeder/yaml-cpp issue 1040, fixed upstream after 0.7): the
// parser consumes nothing and reports an empty document again and again, each one kept
// in memory. Counting documents with this scan stops where one starts at the very
// place the previous one did (tests/fuzz/regressions/config/hang-yaml-loadall-lone-comma).
class DocumentScan : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    std::optional<YAML::Mark> root;  // Unset or null root: an empty document.
    bool root_null = true;
  };

  const std::vector<Document>& documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override { documents_.push_back({mark}); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { Root(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { Root(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    Root(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
    Root(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    Root(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void Root(const YAML::Mark& mark, bool null) {
    if (documents_.empty() || documents_.back().root) return;
    documents_.back().root = mark;
    documents_.back().root_null = null;
  }

  std::vector<Document> documents_;
};

}  // namespace

YamlFile::YamlFile(std::string path, std::string display, std::vector<Diagnostic>* out)
    : path_(std::move(path)), display_(std::move(display)), out_(out) {}

void YamlFile::Error(const SourceLocation& where, std::string message) {
  out_->push_back({where, cmcl::config::Severity::kError, std::move(message)});
}

SourceLocation YamlFile::At(const YAML::Node& node, const SourceLocation& fallback) const {
  const YAML::Mark mark = node.Mark();
  if (node.IsNull() || mark.line < 0 || mark.column < 0) return fallback;
  return {display_, mark.line + 1, mark.column + 1};
}

std::optional<YAML::Node> YamlFile::Load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    Error(Whole(), std::string("cannot read the file: ") + std::strerror(errno));
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kFileSizeMax) {
    Error(Whole(), "the file is " + std::to_string(text.size()) +
                       " bytes; expected a configuration file of at most 1MiB");
    return std::nullopt;
  }
  if (const size_t offset = FirstBinaryByte(text); offset != std::string::npos) {
    Error(Whole(), "the file is binary (byte " + std::to_string(offset) +
                       " is a control character); expected YAML text");
    return std::nullopt;
  }
  if (const size_t offset = FirstNonUtf8Byte(text); offset != std::string::npos) {
    Error(Whole(), "the file is not UTF-8 (byte " + std::to_string(offset) +
                       " starts no UTF-8 character); expected YAML text in UTF-8");
    return std::nullopt;
  }
  if (!HasContent(text)) {
    Error(Whole(), "the file is empty; expected a YAML mapping of keys");
    return std::nullopt;
  }
  try {
    // YAML::Load would read the first document and silently drop any after a `---`, and
    // YAML::LoadAll may never return (DocumentScan): count them first.
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentScan scan;
    while (parser.HandleNextDocument(scan)) {
      const std::vector<DocumentScan::Document>& documents = scan.documents();
      const size_t n = documents.size();
      if (n >= 2 && documents[n - 1].start.pos == documents[n - 2].start.pos) {
        const YAML::Mark& mark = documents[n - 1].start;
        const auto at = static_cast<size_t>(std::max(mark.pos, 0));
        const std::string found = at < text.size() ? text.substr(at, 1) : std::string();
        Error({display_, mark.line + 1, mark.column + 1},
              "YAML syntax error: unexpected " +
                  (found.empty() ? std::string("end of file") : Quote(found)) +
                  (found == "," ? " (a ',' separates the items of a [list] or a {mapping})"
                                : std::string()));
        return std::nullopt;
      }
    }
    const std::vector<DocumentScan::Document>& documents = scan.documents();
    if (documents.size() > 1) {
      const DocumentScan::Document& second = documents[1];
      Error(second.root && !second.root_null
                ? SourceLocation{display_, second.root->line + 1, second.root->column + 1}
                : Whole(),
            "the file holds " + std::to_string(documents.size()) +
                " YAML documents; expected one (remove the second ---)");
      return std::nullopt;
    }
    if (documents.empty()) return YAML::Node();
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& error) {
    // yaml-cpp's own text for this is "bad file", which says nothing about the cause.
    Error({display_, error.mark.line + 1, error.mark.column + 1},
          "YAML nested too deeply to read; expected a configuration file a few levels deep");
  } catch (const YAML::ParserException& error) {
    Error({display_, error.mark.line + 1, error.mark.column + 1},
          "YAML syntax error: " + error.msg + TabHint(text, error.mark.line));
  } catch (const YAML::Exception& error) {
    Error(Whole(), std::string("YAML error: ") + error.what());
  }
  return std::nullopt;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "nothing";
}

MapReader::MapReader(YamlFile& file, const YAML::Node& node, const SourceLocation& self,
                     std::string what, std::vector<std::string_view> known, KeyLocations* where)
    : file_(file), where_(where) {
  where_->self = self;
  if (!node.IsMap()) {
    file_.Error(self, what + ": expected a mapping of keys, got " + Describe(node));
    return;
  }
  ok_ = true;
  std::vector<std::string> candidates(known.begin(), known.end());
  for (auto it = node.begin(); it != node.end(); ++it) {
    const SourceLocation key_at = file_.At(it->first, self);
    if (!it->first.IsScalar()) {
      file_.Error(key_at, "a key must be a plain word, got " + Describe(it->first));
      continue;
    }
    const std::string key = it->first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string match = ClosestMatch(key, candidates);
      std::string hint = "expected one of: ";
      for (size_t i = 0; i < candidates.size(); ++i) hint += (i ? ", " : "") + candidates[i];
      file_.Error(key_at, "unknown key " + Quote(key) + "; " +
                              (match.empty() ? hint : "did you mean " + Quote(match) + "?"));
      continue;
    }
    if (Has(key)) {
      file_.Error(key_at, "key " + Quote(key) + " is given twice (first at line " +
                              std::to_string(where_->keys.at(key).line) +
                              "); expected each key once");
      continue;
    }
    values_.emplace_back(key, it->second);
    where_->keys[key] = file_.At(it->second, key_at);
  }
}

bool MapReader::Has(std::string_view key) const {
  return std::any_of(values_.begin(), values_.end(),
                     [key](const auto& entry) { return entry.first == key; });
}

std::optional<YAML::Node> MapReader::Get(std::string_view key) const {
  for (const auto& [name, value] : values_) {
    if (name == key) return value;
  }
  return std::nullopt;
}

void MapReader::Require(std::initializer_list<std::string_view> keys) {
  if (!ok_) return;
  for (std::string_view key : keys) {
    if (!Has(key)) file_.Error(self(), "missing required key " + Quote(key));
  }
}

std::optional<std::string> MapReader::Scalar(std::string_view key, std::string_view expected) {
  const std::optional<YAML::Node> value = Get(key);
  if (!value) return std::nullopt;
  if (value->IsScalar()) return value->Scalar();
  file_.Error(At(key), std::string(key) + ": expected " + std::string(expected) + ", got " +
                           Describe(*value));
  return std::nullopt;
}

void MapReader::BadValue(std::string_view key, const std::string& text, const std::string& problem,
                         const std::vector<std::string>& candidates) {
  const std::string match = ClosestMatch(text, candidates);
  file_.Error(At(key), std::string(key) + ": " + Quote(text) + " " + problem +
                           (match.empty() ? "" : "; did you mean " + Quote(match) + "?"));
}

void MapReader::String(std::string_view key, std::string* out) {
  if (const auto text = Scalar(key, "a string")) *out = *text;
}

void MapReader::OptionalString(std::string_view key, std::optional<std::string>* out) {
  if (const auto text = Scalar(key, "a string")) *out = *text;
}

void MapReader::NonEmptyString(std::string_view key, std::string_view expected,
                               std::string* out) {
  const auto text = Scalar(key, expected);
  if (!text) return;
  if (text->empty()) {
    file_.Error(At(key), std::string(key) + ": empty; expected " + std::string(expected));
    return;
  }
  *out = *text;
}

void MapReader::OptionalNonEmptyString(std::string_view key, std::string_view expected,
                                       std::optional<std::string>* out) {
  std::string text;
  NonEmptyString(key, expected, &text);
  if (!text.empty()) *out = text;
}

void MapReader::Duration(std::string_view key, cmcl::Duration* out) {
  const auto text = Scalar(key, "a duration such as 200ms or 2s");
  if (!text) return;
  if (const auto value = ParseDuration(*text)) {
    *out = *value;
    return;
  }
  BadValue(key, *text, "is not a duration; expected a number with a unit, e.g. 200ms or 2s");
}

void MapReader::Size(std::string_view key, ByteSize* out) {
  const auto text = Scalar(key, "a size such as 512MiB or 3GiB");
  if (!text) return;
  if (const auto value = ParseByteSize(*text)) {
    *out = *value;
    return;
  }
  BadValue(key, *text, "is not a size; expected a number with a unit, e.g. 512MiB or 3GiB");
}

void MapReader::Percent(std::string_view key, Percentage* out) {
  const auto text = Scalar(key, "a percentage such as 0.1%");
  if (!text) return;
  if (const auto value = ParsePercentage(*text)) {
    *out = *value;
    return;
  }
  BadValue(key, *text,
           "is not a percentage; expected 0% to 100% with at most 4 decimals, e.g. 0.1%");
}

void MapReader::Bool(std::string_view key, bool* out) {
  const auto text = Scalar(key, "true or false");
  if (!text) return;
  if (*text == "true" || *text == "false") {
    *out = *text == "true";
    return;
  }
  BadValue(key, *text, "is not a boolean; expected true or false", {"true", "false"});
}

void MapReader::OptionalCount(std::string_view key, std::optional<uint32_t>* out) {
  const auto text = Scalar(key, "a whole number");
  if (!text) return;
  const bool digits = !text->empty() && std::all_of(text->begin(), text->end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    BadValue(key, *text, "is not a whole number; expected 0 or more, e.g. 3");
    return;
  }
  // Digit by digit, so 4294967295 and 007 are read and a longer number is called too
  // large rather than "not a whole number".
  uint64_t value = 0;
  for (const char c : *text) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > UINT32_MAX) {
      BadValue(key, *text, "is too large; expected at most 4294967295");
      return;
    }
  }
  *out = static_cast<uint32_t>(value);
}

void MapReader::Count(std::string_view key, uint32_t* out) {
  std::optional<uint32_t> value;
  OptionalCount(key, &value);
  if (value) *out = *value;
}

void MapReader::Address(std::string_view key, std::optional<SocketAddress>* out) {
  const auto text = Scalar(key, "an address IP:PORT");
  if (!text) return;
  if (const auto value = ParseSocketAddress(*text)) {
    *out = *value;
    return;
  }
  BadValue(key, *text, "is not an address; expected IP:PORT, e.g. 127.0.0.1:7101 or [::1]:7101");
}

void MapReader::WwidValue(std::string_view key, std::optional<Wwid>* out) {
  const auto text = Scalar(key, "a WWID");
  if (!text) return;
  if (const auto value = ParseWwid(*text)) {
    *out = *value;
    return;
  }
  BadValue(key, *text,
           "is not a WWID; expected 0x or naa. with 16 or 32 hex digits, eui. with 16 or 32, or "
           "t10. with text");
}

void MapReader::Path(std::string_view key, const std::string& base_dir, std::string* out) {
  const auto text = Scalar(key, "a path");
  if (!text) return;
  if (text->empty()) {
    file_.Error(At(key), std::string(key) + ": empty; expected a path");
    return;
  }
  *out =
      std::filesystem::path(cmcl::config::ResolvePath(base_dir, *text)).lexically_normal().string();
}

std::vector<YAML::Node> MapReader::List(std::string_view key) {
  const std::optional<YAML::Node> value = Get(key);
  if (!value || value->IsNull()) return {};
  if (!value->IsSequence()) {
    file_.Error(At(key), std::string(key) + ": expected a list, got " + Describe(*value));
    return {};
  }
  std::vector<YAML::Node> elements;
  for (const YAML::Node& element : *value) {
    where_->keys[std::string(key) + "[" + std::to_string(elements.size()) + "]"] =
        file_.At(element, At(key));
    elements.push_back(element);
  }
  return elements;
}

std::optional<std::string> ScalarElement(YamlFile& file, const YAML::Node& node,
                                         const SourceLocation& where, std::string_view key,
                                         std::string_view what) {
  if (node.IsScalar()) return node.Scalar();
  file.Error(where,
             std::string(key) + ": expected " + std::string(what) + ", got " + Describe(node));
  return std::nullopt;
}

}  // namespace cmcl::io::config
