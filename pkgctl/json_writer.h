// pkgctl's JSON writer is the shared one (cmcld/core/common/json_writer.h), so pkgctl
// and the control API write JSON the same way.
#pragma once

#include "cmcld/core/common/json_writer.h"

namespace cmcl::pkgctl {

using ::cmcl::JsonWriter;

}  // namespace cmcl::pkgctl
