// The synthetic cluster the validation benchmarks share (readiness_bench,
// placement_bench): numbered nodes, two disks per package with one disk in fifty shared
// with its neighbour, four vswitches, and every eighth node differing in one WWID of 97
// and one vswitch's NIC — so validation refuses some pairs for each reason.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/config_builder.h"

namespace cmcl::bench {

inline std::string Wwid(int disk, bool odd) {
  char text[40];
  std::snprintf(text, sizeof text, "0x600508b4000156d7%014x%02x", disk, odd ? 1 : 0);
  return text;
}

inline std::string DiskPath(int disk) { return "/dev/rdisk/disk" + std::to_string(disk); }

inline std::string NodeNameOf(int node) {
  char text[16];
  std::snprintf(text, sizeof text, "node%02d", node);
  return text;
}

// Node `node`'s disks and vswitches for `packages` packages; the caller sets capacity.
inline test_support::InventoryBuilder SyntheticInventory(int packages, int node) {
  const bool odd_node = node % 8 == 7;
  test_support::InventoryBuilder inventory;
  for (int disk = 0; disk < packages * 2; ++disk) {
    inventory.Disk(DiskPath(disk), Wwid(disk, odd_node && disk % 97 == 0));
  }
  for (int vswitch = 0; vswitch < 4; ++vswitch) {
    const bool moved = odd_node && vswitch == 3;
    inventory.Vswitch("vlan" + std::to_string(vswitch),
                      "lan" + std::to_string(moved ? 9 : vswitch));
  }
  return inventory;
}

// Package number `index` named `name`, with `span` nodes in its list starting at `home`
// (every node when `span` is 0); `node_name` names node numbers (node00, node01, ...).
inline config::PackageSpec SyntheticPackage(const std::string& name, int index, int home,
                                            int nodes, int span = 0,
                                            std::string (*node_name)(int) = NodeNameOf) {
  std::vector<std::string> list;
  const int listed = span > 0 ? std::min(span, nodes) : nodes;
  for (int i = 0; i < listed; ++i) list.push_back(node_name((home + i) % nodes));
  const int shared_neighbour = index % 50 == 49 ? index - 1 : index;
  return test_support::PackageBuilder(name)
      .Nodes(list)
      .Vcpus(static_cast<uint32_t>(1 + index % 2))
      .Memory(test_support::Gib(static_cast<uint64_t>(1 + index % 4)))
      .Disk(DiskPath(shared_neighbour * 2))
      .Disk(DiskPath(index * 2 + 1))
      .Network("vlan" + std::to_string(index % 4))
      .Build();
}

inline double Milliseconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

inline double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace cmcl::bench
