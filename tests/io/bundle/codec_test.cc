// EncodeBundle / DecodeBundle / BundleHash / ValidateBundle (io/bundle/bundle.h): a round
// trip gives the same bundle, decoding is total (mutated bytes give an error or a valid
// bundle, never a crash), and what a bundle may not hold is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "cmcld/core/common/rng.h"
#include "cmcld/io/bundle/bundle.h"

namespace cmcl::io {
namespace {

using ::testing::HasSubstr;

Bundle Sample() {
  return Bundle{{{"cluster.yaml", 0644, "cluster_name: c\n"},
                 {"inventories/n2.yaml", 0644, "disks: []\n"},
                 {"packages/web/bin/monitor.sh", 0755, "#!/bin/sh\n"},
                 {"packages/web/package.yaml", 0644, "name: web\n"},
                 {"packages/web/run.sh", 0755, std::string("#!/bin/sh\n\0\xff", 12)}}};
}

TEST(BundleCodecTest, DecodingAnEncodingGivesTheSameBundle) {
  const Bundle bundle = Sample();

  Result<Bundle> decoded = DecodeBundle(EncodeBundle(bundle));

  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, bundle);
}

TEST(BundleCodecTest, TheHashIsLowercaseHexSha256OfTheEncoding) {
  EXPECT_EQ(BundleHash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(BundleHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(BundleCodecTest, EqualBundlesEncodeEquallyAndAModeChangesTheEncoding) {
  Bundle other = Sample();
  other.files[2].mode = 0700;

  EXPECT_EQ(EncodeBundle(Sample()), EncodeBundle(Sample()));
  EXPECT_NE(BundleHash(EncodeBundle(other)), BundleHash(EncodeBundle(Sample())));
}

TEST(BundleCodecTest, RefusesTruncationAndTrailingBytes) {
  const std::string encoded = EncodeBundle(Sample());

  for (size_t size = 0; size < encoded.size(); ++size) {
    EXPECT_FALSE(DecodeBundle(encoded.substr(0, size)).ok()) << size;
  }
  EXPECT_FALSE(DecodeBundle(encoded + "x").ok());
}

TEST(BundleCodecTest, RefusesAnotherFormatVersionSayingSo) {
  std::string encoded = EncodeBundle(Sample());
  encoded[8] = 2;

  Result<Bundle> decoded = DecodeBundle(encoded);

  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("format 2"));
}

TEST(BundleCodecTest, RandomMutationsGiveAnErrorOrAValidBundleNeverACrash) {
  const std::string encoded = EncodeBundle(Sample());
  Rng rng(20261126);
  int decoded = 0;

  for (int round = 0; round < 2000; ++round) {
    std::string mutated = encoded;
    const uint64_t edits = 1 + rng.Uniform(4);
    for (uint64_t i = 0; i < edits; ++i) {
      const size_t at = static_cast<size_t>(rng.Uniform(mutated.size()));
      switch (rng.Uniform(3)) {
        case 0: mutated[at] = static_cast<char>(rng.Uniform(256)); break;
        case 1: mutated.erase(at, 1 + static_cast<size_t>(rng.Uniform(8))); break;
        default: mutated.insert(at, 1, static_cast<char>(rng.Uniform(256))); break;
      }
      if (mutated.empty()) mutated = "C";
    }

    Result<Bundle> result = DecodeBundle(mutated);

    if (result.ok()) {
      ++decoded;
      EXPECT_TRUE(ValidateBundle(*result).ok());
      EXPECT_EQ(EncodeBundle(*result), mutated);  // One encoding per bundle.
    }
  }
  EXPECT_LT(decoded, 2000);
}

TEST(BundleCodecTest, RefusesPathsOutsideTheLayout) {
  for (const char* path :
       {"/etc/passwd", "packages/web/../../../etc/passwd", "packages/web/./run.sh",
        "packages/web//run.sh", "packages/web/", "packages/web", "other/file",
        "packages/bad name/run.sh", "inventories/n2.txt", "inventories/x/n2.yaml",
        "cluster.yaml/x", "packages/web/a\nb", "packages/web/\xc0\xaf"}) {
    Bundle bundle = Sample();
    bundle.files.push_back({path, 0644, ""});
    std::sort(bundle.files.begin(), bundle.files.end(),
              [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });

    Status valid = ValidateBundle(bundle);

    EXPECT_FALSE(valid.ok()) << path;
    EXPECT_FALSE(DecodeBundle(EncodeBundle(bundle)).ok()) << path;
  }
}

TEST(BundleCodecTest, RefusesUnsortedDuplicateAndNestedPaths) {
  Bundle unsorted = Sample();
  std::swap(unsorted.files[0], unsorted.files[1]);
  Bundle duplicate = Sample();
  duplicate.files.insert(duplicate.files.begin() + 3, duplicate.files[3]);
  Bundle nested = Sample();
  nested.files.insert(nested.files.begin() + 2, {"packages/web/bin", 0644, ""});

  EXPECT_FALSE(ValidateBundle(unsorted).ok());
  EXPECT_FALSE(ValidateBundle(duplicate).ok());
  EXPECT_THAT(ValidateBundle(nested).message(), HasSubstr("inside the file packages/web/bin"));
}

TEST(BundleCodecTest, RefusesModesBeyondPermissionBitsAndABundleWithoutClusterYaml) {
  Bundle setuid = Sample();
  setuid.files[2].mode = 04755;
  Bundle headless = Sample();
  headless.files.erase(headless.files.begin());

  EXPECT_FALSE(ValidateBundle(setuid).ok());
  EXPECT_THAT(ValidateBundle(headless).message(), HasSubstr("no cluster.yaml"));
}

TEST(BundleCodecTest, RefusesMoreThanTheLimitsInBytesAndFiles) {
  Bundle big = Sample();
  big.files.back().bytes = std::string(kBundleBytesMax, 'x');
  Bundle many = Sample();
  for (size_t i = 0; i < kBundleFilesMax; ++i) {
    many.files.push_back({"packages/zz/f" + std::to_string(1000000 + i), 0644, ""});
  }

  EXPECT_THAT(ValidateBundle(big).message(), HasSubstr("at most 3 MiB"));
  EXPECT_FALSE(DecodeBundle(EncodeBundle(big)).ok());
  EXPECT_THAT(ValidateBundle(many).message(), HasSubstr("at most 4096"));
  EXPECT_FALSE(DecodeBundle(EncodeBundle(many)).ok());
}

}  // namespace
}  // namespace cmcl::io
