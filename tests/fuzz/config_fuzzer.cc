// Fuzz harness: the configuration parser (issue 11 item 4). The input is the text of a
// cluster file, optionally followed by a NUL byte and the text of a package file; both go
// through the real loader (cmcld/io/config/load.h: yaml-cpp, ParseCluster, ParsePackage,
// the core's ValidateConfig) as cluster.yaml and pkg/package.yaml in a scratch folder
// that also holds what a good configuration names (a 32-byte mode-0600 cluster.key,
// executable pkg/run.sh and pkg/halt.sh, a driver drivers/process). A NUL never appears in a loaded
// file (the loader refuses binary files), so the split costs the fuzzer nothing.
//
// Property: any input gives a configuration or a clear error, never a crash, a hang, an
// escaped exception or a sanitizer report. "Clear" is checked: every diagnostic names a
// file and says something; a configuration without errors has at least one member and
// only valid node and package names.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cmcld/core/common/check.h"
#include "cmcld/core/common/names.h"
#include "cmcld/io/config/load.h"

namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& path, std::string_view text, fs::perms mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  fs::permissions(path, mode);
}

// The scratch folder, made once per process and reused by every input.
const fs::path& Scratch() {
  static const fs::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/cmcl-fuzz-XXXXXX";
    CMCL_CHECK(::mkdtemp(pattern.data()) != nullptr) << "mkdtemp " << pattern;
    const fs::path made(pattern);
    fs::create_directory(made / "pkg");
    WriteFile(made / "cluster.key", std::string(32, 'k'),
              fs::perms::owner_read | fs::perms::owner_write);
    const fs::perms exec = fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read;
    WriteFile(made / "pkg/run.sh", "#!/bin/sh\nexit 0\n", exec);
    WriteFile(made / "pkg/halt.sh", "#!/bin/sh\nexit 0\n", exec);
    fs::create_directory(made / "drivers");  // driver_dir: drivers, driver: process.
    WriteFile(made / "drivers/process", "#!/bin/sh\nexit 0\n", exec);
    // Removed at exit (also after a fuzzing session ends normally).
    static const struct Cleanup {
      fs::path path;
      ~Cleanup() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
      }
    } cleanup{made};
    return made;
  }();
  return dir;
}

void CheckClear(const cmcl::io::config::LoadedConfig& loaded) {
  for (const cmcl::config::Diagnostic& diagnostic : loaded.diagnostics) {
    CMCL_CHECK(!diagnostic.where.file.empty()) << "a diagnostic names no file";
    CMCL_CHECK(!diagnostic.message.empty()) << "a diagnostic says nothing";
  }
  if (!loaded.ok()) return;
  CMCL_CHECK(!loaded.config.Members().empty()) << "a valid configuration without members";
  for (const cmcl::config::NodeSpec& node : loaded.config.nodes) {
    CMCL_CHECK(cmcl::IsValidName(node.name.value())) << "node name " << node.name.value();
  }
  for (const cmcl::config::PackageSpec& package : loaded.config.packages) {
    CMCL_CHECK(cmcl::IsValidName(package.name.value())) << "package name " << package.name.value();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const fs::path& dir = Scratch();
  const fs::perms text = fs::perms::owner_read | fs::perms::owner_write;
  WriteFile(dir / "cluster.yaml", input.substr(0, nul), text);
  const fs::path package = dir / "pkg/package.yaml";
  std::error_code ignored;
  fs::remove(package, ignored);
  if (nul != std::string_view::npos) WriteFile(package, input.substr(nul + 1), text);

  CheckClear(cmcl::io::config::LoadCluster((dir / "cluster.yaml").string()));
  return 0;
}
