// `pkgctl guest import --libvirt DOMAIN` (pkgctl/guest_import.cc): the built pkgctl
// against the fake virsh of tests/io/guest (its dumpxml answers the XML a test put in
// its domains folder), and the folder it writes checked by `pkgctl config check`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace cmcl::pkgctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kFakeVirsh = std::string(CMCL_SOURCE_DIR) + "/tests/io/guest/fake_virsh";

// A domain as `virsh dumpxml` prints one: a block disk not named by id, a file disk, a
// CD-ROM with media, an empty one, a bridge, a libvirt network and a network disk.
constexpr const char* kDomainXml = R"(<domain type='kvm' id='3'>
  <name>vm1</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source dev='%DISK%'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/vm1-data.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='network' device='disk'>
      <source protocol='rbd' name='pool/vm1'/>
      <target dev='vdc' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/srv/iso/debian-12.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='sdb' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='bridge'>
      <mac address='52:54:00:6b:3c:58'/>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
    <interface type='network'>
      <source network='default' portid='0b4c1e2e'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
)";

struct Outcome {
  int exit_status = -1;
  std::string out;
  std::string err;
};

class GuestImportTest : public ::testing::Test {
 protected:
  GuestImportTest() {
    // A stand-in disk and its by-id folder: one link to another device, then a wwn- and
    // a scsi- link to the disk (wwn- is preferred).
    dir_.Write("dev/sdb", "");
    dir_.Write("dev/sdc", "");
    std::filesystem::create_directories(dir_ / "by-id");
    std::filesystem::create_symlink("../dev/sdc", dir_ / "by-id/wwn-0x5000000000000002");
    std::filesystem::create_symlink("../dev/sdb", dir_ / "by-id/scsi-35000000000000001");
    std::filesystem::create_symlink("../dev/sdb", dir_ / "by-id/wwn-0x5000000000000001");
    Domain(kDomainXml, dir_ / "dev/sdb");
  }
  void Domain(std::string xml, const std::string& disk) {
    const auto at = xml.find("%DISK%");
    if (at != std::string::npos) xml.replace(at, 6, disk);
    dir_.Write("virsh/domains/vm1.xml", xml);
    dir_.Write("virsh/domains/vm1.state", "shut off\n");
  }
  Outcome Run(const std::string& arguments) {
    const std::string command =
        "cd " + dir_.path() + " && env -u CMCL_CONFIG CMCL_VIRSH=" + kFakeVirsh +
        " FAKE_VIRSH_DIR=" + (dir_ / "virsh") + " CMCL_DISK_BY_ID=" + (dir_ / "by-id") +
        " " PKGCTL_BINARY " " + arguments + " >out.txt 2>err.txt";
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp("out.txt"), Slurp("err.txt")};
  }
  std::string Slurp(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  testing::TempDir dir_;
};

TEST_F(GuestImportTest, WritesThePackageFolderFromDumpxml) {
  const Outcome outcome = Run("guest import --libvirt vm1 --nodes n1,n2");

  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("Wrote package vm1 to vm1/ (2 vCPUs, 2048 MiB, 2 disks, 2 "
                                     "networks, 1 devices)"));
  const std::string yaml = Slurp("vm1/package.yaml");
  EXPECT_THAT(yaml, HasSubstr("name: vm1\nnodes: [n1, n2]\nauto_run: false\n"));
  EXPECT_THAT(yaml, HasSubstr("driver: libvirt\nrun_script: run.sh\nhalt_script: halt.sh\n"));
  EXPECT_THAT(yaml, HasSubstr("  vcpus: 2\n  memory: 2048MiB\n"));
  EXPECT_THAT(yaml, HasSubstr("  storage:\n"
                              "    - {path: \"" +
                              (dir_ / "by-id") +
                              "/wwn-0x5000000000000001\", type: disk}\n"
                              "    - {path: \"/var/lib/libvirt/images/vm1-data.qcow2\", type: "
                              "file}\n"));
  EXPECT_THAT(yaml, HasSubstr("  networks:\n"
                              "    - {vswitch: \"br0\"}\n"
                              "    - {vswitch: \"default\"}\n"));
  EXPECT_THAT(yaml,
              HasSubstr("  devices:\n    - {path: \"/srv/iso/debian-12.iso\", type: cdrom}\n"));
  EXPECT_EQ(Slurp("vm1/domain.xml"), Slurp("virsh/domains/vm1.xml"));
  EXPECT_THAT(Slurp("vm1/run.sh"), HasSubstr("/libvirt\" start\n"));
  EXPECT_THAT(Slurp("vm1/halt.sh"), HasSubstr("/libvirt\" stop\n"));
  EXPECT_EQ(::access((dir_ / "vm1/run.sh").c_str(), X_OK), 0);
  EXPECT_EQ(::access((dir_ / "vm1/halt.sh").c_str(), X_OK), 0);
  // What validation will refuse and what was left out, each said once.
  EXPECT_THAT(outcome.err, HasSubstr("warning: the cdrom /srv/iso/debian-12.iso is a host-shared "
                                     "device: migration validation refuses"));
  EXPECT_THAT(outcome.err, HasSubstr("warning: a disk of type 'network' is not imported"));
  EXPECT_THAT(outcome.err, HasSubstr("warning: the network interface default is imported as the "
                                     "vswitch default"));
  EXPECT_THAT(Slurp("virsh/calls"), HasSubstr("qemu:///system dumpxml vm1"));
}

TEST_F(GuestImportTest, TheWrittenFolderPassesConfigCheck) {
  ASSERT_EQ(Run("guest import --libvirt vm1 -d pkgs/vm1 --nodes n1").exit_status, 0);
  dir_.Write("cluster.key", std::string(32, 'x'), 0600);
  dir_.Write("cluster.yaml",
             "cluster_name: c1\n"
             "driver_dir: " CMCL_SOURCE_DIR
             "/packages/drivers\n"
             "security: {key_file: cluster.key}\n"
             "allow_two_node_without_arbitrator: true\n"
             "nodes:\n"
             "  - name: n1\n"
             "    addresses: [127.0.0.1:7101]\n"
             "    capacity: {vcpus: 4, memory: 8GiB}\n"
             "packages: [pkgs/vm1]\n");

  const Outcome check = Run("config check cluster.yaml");

  EXPECT_EQ(check.exit_status, 0) << check.out << check.err;
}

TEST_F(GuestImportTest, ADiskWithoutAByIdLinkIsKeptWithAWarning) {
  dir_.Write("dev/sdz", "");
  Domain(kDomainXml, dir_ / "dev/sdz");

  const Outcome outcome = Run("guest import --libvirt vm1");

  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(Slurp("vm1/package.yaml"), HasSubstr("nodes: [\"*\"]\n"));
  EXPECT_THAT(Slurp("vm1/package.yaml"),
              HasSubstr("    - {path: \"" + (dir_ / "dev/sdz") + "\", type: disk}\n"));
  EXPECT_THAT(outcome.err, HasSubstr("warning: disk " + (dir_ / "dev/sdz") + " has no link in "));
}

TEST_F(GuestImportTest, RefusesToOverwriteAnExistingFolder) {
  dir_.Write("vm1/package.yaml", "mine\n");

  const Outcome outcome = Run("guest import --libvirt vm1");

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_EQ(outcome.err, "pkgctl: guest import: vm1 exists already; refusing to overwrite it\n");
  EXPECT_EQ(Slurp("vm1/package.yaml"), "mine\n");
  EXPECT_THAT(Slurp("virsh/calls"), Not(HasSubstr("dumpxml")));
}

TEST_F(GuestImportTest, AFailingVirshIsRefusedAndWritesNothing) {
  const Outcome missing = Run("guest import --libvirt vm2");
  dir_.Write("virsh/down", "");
  const Outcome down = Run("-o json guest import --libvirt vm1");

  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_THAT(missing.err,
              HasSubstr("virsh dumpxml vm2 failed: error: failed to get domain 'vm2'"));
  EXPECT_EQ(down.exit_status, 1);
  EXPECT_THAT(down.out, HasSubstr("{\"error\":{\"code\":\"import_failed\""));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "vm1"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "vm2"));
}

TEST_F(GuestImportTest, UsageErrors) {
  EXPECT_EQ(Run("guest").exit_status, 2);
  EXPECT_EQ(Run("guest export --libvirt vm1").exit_status, 2);
  EXPECT_EQ(Run("guest import").exit_status, 2);
  EXPECT_EQ(Run("guest import --libvirt").exit_status, 2);
  EXPECT_EQ(Run("guest import --libvirt vm1 --nodes n1,,n2").exit_status, 2);
  const Outcome help = Run("guest import --help");
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_THAT(help.out, HasSubstr("pkgctl guest import - make a package"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "vm1"));
}

TEST_F(GuestImportTest, ADomainNameThatIsNoPackageNameIsRefused) {
  const Outcome outcome = Run("guest import --libvirt 'my vm'");

  EXPECT_EQ(outcome.exit_status, 1);
  EXPECT_THAT(outcome.err, HasSubstr("the domain name \"my vm\" is not a valid package name"));
}

}  // namespace
}  // namespace cmcl::pkgctl
