// Builders for configuration and inventory values in tests (STYLE.md rule 29).
//
// Each starts from sane defaults so a test spells out only what it is about:
//   InventoryBuilder  an empty inventory; add disks (with WWIDs), lvols, vswitches,
//                     shared devices and capacity.
//   PackageBuilder    a package with 1 vCPU, 1GiB, nodes [ivmcl01, ivmcl02], no storage.
//   ClusterBuilder    cluster "ivmcl" with the nodes and packages added, in that order.
// Header-only; CMCL_CHECKs malformed test input (a bad WWID literal is a test bug).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/core/common/names.h"
#include "cmcld/core/common/units.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/inventory/inventory.h"

namespace cmcl::test_support {

inline Wwid WwidOf(const std::string& text) {
  const std::optional<Wwid> wwid = ParseWwid(text);
  CMCL_CHECK(wwid.has_value()) << "bad WWID literal in a test: " << text;
  return *wwid;
}

inline ByteSize Gib(uint64_t gib) { return ByteSize::FromMebibytes(gib * 1024); }

class InventoryBuilder {
 public:
  InventoryBuilder& Disk(std::string path, const std::string& wwid) {
    inventory_.disks.push_back({std::move(path), WwidOf(wwid)});
    return *this;
  }
  InventoryBuilder& DiskWithoutWwid(std::string path) {
    inventory_.disks.push_back({std::move(path), std::nullopt});
    return *this;
  }
  InventoryBuilder& Lvol(std::string path) {
    inventory_.lvols.push_back({std::move(path)});
    return *this;
  }
  InventoryBuilder& Vswitch(std::string name, std::string nic) {
    inventory_.vswitches.push_back({std::move(name), std::move(nic)});
    return *this;
  }
  InventoryBuilder& Shared(std::string path) {
    inventory_.shared_devices.push_back(std::move(path));
    return *this;
  }
  InventoryBuilder& Capacity(uint32_t vcpus, ByteSize memory) {
    inventory_.capacity = inventory::Capacity{vcpus, memory};
    return *this;
  }
  inventory::NodeInventory Build() const { return inventory_; }

 private:
  inventory::NodeInventory inventory_;
};

class PackageBuilder {
 public:
  explicit PackageBuilder(const std::string& name) {
    package_.name = PackageName(name);
    package_.nodes = {NodeName("ivmcl01"), NodeName("ivmcl02")};
    package_.run_script = "run.sh";
    package_.halt_script = "halt.sh";
    package_.guest.memory = Gib(1);
  }
  PackageBuilder& Nodes(const std::vector<std::string>& nodes) {
    package_.nodes.clear();
    for (const std::string& node : nodes) package_.nodes.emplace_back(node);
    package_.all_nodes = false;
    return *this;
  }
  PackageBuilder& AllNodes() {
    package_.nodes.clear();
    package_.all_nodes = true;
    return *this;
  }
  PackageBuilder& Vcpus(uint32_t vcpus) {
    package_.guest.vcpus = vcpus;
    return *this;
  }
  PackageBuilder& Memory(ByteSize memory) {
    package_.guest.memory = memory;
    return *this;
  }
  PackageBuilder& Disk(std::string path, std::optional<std::string> pinned_wwid = std::nullopt) {
    return Storage(std::move(path), config::StorageType::kDisk, pinned_wwid, false);
  }
  PackageBuilder& SharedDisk(std::string path) {
    return Storage(std::move(path), config::StorageType::kDisk, std::nullopt, true);
  }
  PackageBuilder& Lvol(std::string path) {
    return Storage(std::move(path), config::StorageType::kLvol, std::nullopt, false);
  }
  PackageBuilder& File(std::string path, bool shared) {
    return Storage(std::move(path), config::StorageType::kFile, std::nullopt, shared);
  }
  PackageBuilder& Network(std::string vswitch, std::optional<std::string> pinned_nic = {}) {
    config::GuestNetwork network;
    network.vswitch = std::move(vswitch);
    network.nic = std::move(pinned_nic);
    package_.guest.networks.push_back(std::move(network));
    return *this;
  }
  PackageBuilder& Device(std::string path, config::DeviceType type) {
    config::GuestDevice device;
    device.path = std::move(path);
    device.type = type;
    package_.guest.devices.push_back(std::move(device));
    return *this;
  }
  config::PackageSpec Build() const { return package_; }

 private:
  PackageBuilder& Storage(std::string path, config::StorageType type,
                          const std::optional<std::string>& pinned_wwid, bool shared) {
    config::GuestStorage storage;
    storage.path = std::move(path);
    storage.type = type;
    if (pinned_wwid.has_value()) storage.wwid = WwidOf(*pinned_wwid);
    storage.shared = shared;
    package_.guest.storage.push_back(std::move(storage));
    return *this;
  }

  config::PackageSpec package_;
};

class ClusterBuilder {
 public:
  explicit ClusterBuilder(const std::string& name = "ivmcl") {
    config_.cluster_name = ClusterName(name);
    config_.file = "/etc/cmcl/cmcl.yaml";
  }
  // A member whose inventory is written inline in the cluster file.
  ClusterBuilder& Node(const std::string& name, inventory::NodeInventory inventory) {
    config::NodeSpec node = Base(name);
    node.inventory_source = config::InventorySource::kInline;
    node.inventory = std::move(inventory);
    config_.nodes.push_back(std::move(node));
    return *this;
  }
  // A member with `inventory: probe`: unknown until it reports; `capacity` may be given.
  ClusterBuilder& ProbedNode(const std::string& name,
                             std::optional<inventory::Capacity> capacity = std::nullopt) {
    config::NodeSpec node = Base(name);
    node.inventory_source = config::InventorySource::kProbe;
    node.capacity = capacity;
    config_.nodes.push_back(std::move(node));
    return *this;
  }
  ClusterBuilder& Arbitrator(const std::string& name) {
    config::NodeSpec node = Base(name);
    node.role = config::NodeRole::kArbitrator;
    config_.nodes.push_back(std::move(node));
    return *this;
  }
  ClusterBuilder& Package(config::PackageSpec package) {
    package.folder = "/etc/cmcl/packages/" + package.name.value();
    package.file = package.folder + "/package.yaml";
    config_.package_folders.push_back(package.folder);
    config_.packages.push_back(std::move(package));
    return *this;
  }
  config::ClusterConfig Build() const { return config_; }

 private:
  config::NodeSpec Base(const std::string& name) const {
    config::NodeSpec node;
    node.name = NodeName(name);
    const auto port = static_cast<uint16_t>(7101 + config_.nodes.size());
    node.addresses.push_back(SocketAddress{"127.0.0.1", port, false});
    return node;
  }

  config::ClusterConfig config_;
};

}  // namespace cmcl::test_support
