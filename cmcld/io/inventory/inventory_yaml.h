// A NodeInventory written as YAML in the shape of an inventory file (INTERFACE.md
// "Configuration files": the mapping a node's `inventory:` holds, or the whole of its
// `inventory_file:`), so that what `pkgctl inventory probe` prints can be saved as one
// and read back by the config parser unchanged.
#pragma once

#include <string>

#include "cmcld/core/inventory/inventory.h"

namespace cmcl::io::inventory {

// Every list is written, empty ones as [], every string double-quoted (WWIDs of the
// t10 form hold spaces; names may hold ':' or '#'). The capacity has no key in an
// inventory file, it goes on the node's entry in the cluster file: when known it is
// written as a comment to copy there ("# capacity: {vcpus: 8, memory: 31GiB}").
std::string InventoryYaml(const cmcl::inventory::NodeInventory& inventory);

// `text` as a YAML double-quoted scalar.
std::string YamlQuoted(const std::string& text);

}  // namespace cmcl::io::inventory
