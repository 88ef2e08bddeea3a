// A minimal streaming JSON writer for the `-o json` output of pkgctl and of the control
// API (INTERFACE.md "JSON output"): objects, arrays, strings, integers, booleans and
// null, with correct string escaping. It checks nesting with CMCL_CHECK; it does not
// pretty-print. Pure (standard library only), so both the daemon and pkgctl use it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cmcl {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // REQUIRES: inside an object, before each value.
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // One value that is already JSON (e.g. validation::CheckReportJson), copied as is.
  JsonWriter& Raw(std::string_view json);

  // REQUIRES: every object and array closed.
  const std::string& str() const;

 private:
  void BeforeValue();
  void Escaped(std::string_view text);

  std::string out_;
  // Per open container: true while nothing has been written into it.
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace cmcl
