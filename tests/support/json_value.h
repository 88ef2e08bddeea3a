// JsonValue: a small JSON reader for tests that check pkgctl's `-o json` output
// (INTERFACE.md "JSON output"). Header-only; test code only (the daemon writes JSON, it
// never reads it). Parse() returns nullopt for anything that is not one whole JSON value.
//
//   std::optional<JsonValue> view = JsonValue::Parse(output);
//   (*view)["packages"][0]["status"].String() == "up"
//   view->Find("packages", [](const JsonValue& p) { return p["name"].String() == "g1"; })
//
// Missing keys and out-of-range indexes give a null value, so a chain of lookups never
// crashes; a test then fails on the comparison, which names what it got.
#pragma once

#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmcl::testing {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  static std::optional<JsonValue> Parse(std::string_view text) {
    Reader reader{text, 0};
    std::optional<JsonValue> value = reader.Value(0);
    reader.Space();
    if (!value || reader.at != text.size()) {
      return std::nullopt;
    }
    return value;
  }

  Kind kind() const { return kind_; }
  bool IsNull() const { return kind_ == Kind::kNull; }
  bool Bool() const { return kind_ == Kind::kBool && bool_; }
  double Number() const { return kind_ == Kind::kNumber ? number_ : 0; }
  const std::string& String() const { return string_; }  // "" unless a string.
  size_t size() const { return kind_ == Kind::kArray ? array_.size() : object_.size(); }
  const std::vector<JsonValue>& Array() const { return array_; }
  bool Has(const std::string& key) const { return object_.contains(key); }

  const JsonValue& operator[](const std::string& key) const {
    const auto it = object_.find(key);
    return it == object_.end() ? Null() : it->second;
  }
  const JsonValue& operator[](const char* key) const { return (*this)[std::string(key)]; }
  const JsonValue& operator[](size_t index) const {
    return index < array_.size() ? array_[index] : Null();
  }
  // The first element of the array at `key` for which `match` holds (else null).
  const JsonValue& Find(const std::string& key,
                        const std::function<bool(const JsonValue&)>& match) const {
    for (const JsonValue& element : (*this)[key].array_) {
      if (match(element)) {
        return element;
      }
    }
    return Null();
  }
  // The element of the array at `key` whose "name" is `name`.
  const JsonValue& Named(const std::string& key, const std::string& name) const {
    return Find(key, [&](const JsonValue& v) { return v["name"].String() == name; });
  }

 private:
  static const JsonValue& Null() {
    static const JsonValue null;
    return null;
  }

  struct Reader {
    std::string_view text;
    size_t at;

    void Space() {
      while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) {
        ++at;
      }
    }
    bool Eat(std::string_view word) {
      if (text.substr(at, word.size()) != word) {
        return false;
      }
      at += word.size();
      return true;
    }
    std::optional<JsonValue> Value(int depth) {
      Space();
      if (depth > 64 || at >= text.size()) {
        return std::nullopt;
      }
      JsonValue value;
      const char c = text[at];
      if (c == '{') {
        return Object(depth);
      }
      if (c == '[') {
        return Array(depth);
      }
      if (c == '"') {
        std::optional<std::string> s = Str();
        if (!s) return std::nullopt;
        value.kind_ = Kind::kString;
        value.string_ = std::move(*s);
        return value;
      }
      if (Eat("true")) {
        value.kind_ = Kind::kBool;
        value.bool_ = true;
        return value;
      }
      if (Eat("false")) {
        value.kind_ = Kind::kBool;
        return value;
      }
      if (Eat("null")) {
        return value;
      }
      const std::string rest(text.substr(at, 64));
      char* end = nullptr;
      value.number_ = std::strtod(rest.c_str(), &end);
      if (end == rest.c_str()) {
        return std::nullopt;
      }
      at += static_cast<size_t>(end - rest.c_str());
      value.kind_ = Kind::kNumber;
      return value;
    }
    std::optional<JsonValue> Object(int depth) {
      JsonValue value;
      value.kind_ = Kind::kObject;
      ++at;
      Space();
      if (Eat("}")) return value;
      for (;;) {
        Space();
        std::optional<std::string> key = Str();
        Space();
        if (!key || !Eat(":")) return std::nullopt;
        std::optional<JsonValue> member = Value(depth + 1);
        if (!member) return std::nullopt;
        value.object_[*key] = std::move(*member);
        Space();
        if (Eat("}")) return value;
        if (!Eat(",")) return std::nullopt;
      }
    }
    std::optional<JsonValue> Array(int depth) {
      JsonValue value;
      value.kind_ = Kind::kArray;
      ++at;
      Space();
      if (Eat("]")) return value;
      for (;;) {
        std::optional<JsonValue> element = Value(depth + 1);
        if (!element) return std::nullopt;
        value.array_.push_back(std::move(*element));
        Space();
        if (Eat("]")) return value;
        if (!Eat(",")) return std::nullopt;
      }
    }
    std::optional<std::string> Str() {
      if (at >= text.size() || text[at] != '"') return std::nullopt;
      ++at;
      std::string out;
      while (at < text.size() && text[at] != '"') {
        char c = text[at++];
        if (c == '\\' && at < text.size()) {
          const char e = text[at++];
          switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
              if (at + 4 > text.size()) return std::nullopt;
              const long code = std::strtol(std::string(text.substr(at, 4)).c_str(), nullptr, 16);
              at += 4;
              c = code < 0x80 ? static_cast<char>(code) : '?';  // Tests compare ASCII.
              break;
            }
            default: c = e;
          }
        }
        out.push_back(c);
      }
      if (at >= text.size()) return std::nullopt;
      ++at;
      return out;
    }
  };

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::map<std::string, JsonValue> object_;
};

}  // namespace cmcl::testing
