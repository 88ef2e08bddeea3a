// Replays a fuzz harness's committed inputs without libFuzzer (issue 11 item 4): every
// file of tests/fuzz/corpus/<harness>/ and tests/fuzz/regressions/<harness>/ goes
// through the harness's LLVMFuzzerTestOneInput, linked into an ordinary GoogleTest
// binary of the gcc builds (CMCL_FUZZ_HARNESS names it). A crash the fuzzer once found
// is thus checked on every build, also where clang is absent; a harness's own checks
// (CMCL_CHECK) abort the test binary, and the sanitizers of the ASan build apply.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> InputsIn(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.' &&
        entry.path().filename() != "README.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

size_t ReplayAll(const fs::path& dir) {
  const std::vector<fs::path> files = InputsIn(dir);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
              0);
  }
  return files.size();
}

const fs::path kFuzzDir = CMCL_FUZZ_DIR;

TEST(CMCL_FUZZ_SUITE, EveryRegressionInputRunsCleanly) {
  ReplayAll(kFuzzDir / "regressions" / CMCL_FUZZ_HARNESS);
}

TEST(CMCL_FUZZ_SUITE, EveryCorpusInputRunsCleanly) {
  const size_t inputs = ReplayAll(kFuzzDir / "corpus" / CMCL_FUZZ_HARNESS);

  EXPECT_GT(inputs, 0u) << "no committed corpus for " << CMCL_FUZZ_HARNESS;
}

}  // namespace
