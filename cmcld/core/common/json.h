// JSON string quoting, the one piece of JSON the core writes itself (check and
// readiness reports) and pkgctl's JsonWriter shares, so both escape identically.
#pragma once

#include <string>
#include <string_view>

namespace cmcl {

// Appends `text` as a JSON string literal: quotes, backslashes and control characters
// escaped (\n, \r, \t, else \u00XX); other bytes copied as they are (UTF-8 passes through).
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace cmcl
