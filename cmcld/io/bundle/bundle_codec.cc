// The bundle's byte encoding, version 1 (little-endian, core/common/bytes.h):
//
//   "CMCLBNDL"                 8 bytes, the magic
//   u32 format                 1
//   u32 count                  number of files, at most kBundleFilesMax
//   count times:
//     str path                 u32 length, bytes
//     u32 mode                 permission bits, at most 0777
//     str bytes                u32 length, bytes
//
// Nothing else: no timestamps, owners or padding, so equal bundles encode equally. A
// decoder accepts exactly what ValidateBundle accepts, read to the last byte.
#include <openssl/evp.h>

#include <set>

#include "cmcld/core/common/bytes.h"
#include "cmcld/core/common/names.h"
#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_files.h"

namespace cmcl::io {
namespace {

using bundle_internal::FormatBytes;
using bundle_internal::IsValidComponent;

constexpr std::string_view kMagic = "CMCLBNDL";
constexpr uint32_t kFormat = 1;

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', start)) {
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  parts.push_back(path.substr(start));
  return parts;
}

// The layout of bundle.h: cluster.yaml, packages/NAME/..., inventories/NODE.yaml.
bool IsBundlePath(std::string_view path) {
  if (path.size() > 4096) return false;
  const std::vector<std::string_view> parts = Split(path);
  for (std::string_view part : parts) {
    if (!IsValidComponent(part)) return false;
  }
  if (parts[0] == "cluster.yaml") return parts.size() == 1;
  if (parts[0] == "packages") return parts.size() >= 3 && IsValidName(parts[1]);
  if (parts[0] == "inventories") {
    constexpr std::string_view kSuffix = ".yaml";
    const std::string_view name = parts.size() == 2 ? parts[1] : std::string_view();
    return name.size() > kSuffix.size() && name.ends_with(kSuffix) &&
           IsValidName(name.substr(0, name.size() - kSuffix.size()));
  }
  return false;
}

Status Invalid(const std::string& why) { return Status::InvalidArgument("bundle: " + why); }

}  // namespace

Status ValidateBundle(const Bundle& bundle) {
  if (bundle.files.size() > kBundleFilesMax) {
    return Invalid("has " + std::to_string(bundle.files.size()) + " files; at most " +
                   std::to_string(kBundleFilesMax));
  }
  uint64_t total = 0;
  std::set<std::string_view> paths;
  const std::string* previous = nullptr;
  for (const BundleFile& file : bundle.files) {
    if (!IsBundlePath(file.path)) return Invalid("\"" + file.path + "\" is not a bundle path");
    if (previous != nullptr && !(*previous < file.path)) {
      return Invalid("\"" + file.path + "\" is out of order or listed twice");
    }
    // A file inside another file's path ("a" and "a/b") cannot exist on disk.
    for (size_t slash = file.path.find('/'); slash != std::string::npos;
         slash = file.path.find('/', slash + 1)) {
      if (paths.contains(std::string_view(file.path).substr(0, slash))) {
        return Invalid("\"" + file.path + "\" is inside the file " + file.path.substr(0, slash));
      }
    }
    if (file.mode > 0777) return Invalid("\"" + file.path + "\" has mode bits beyond 0777");
    total += file.bytes.size();
    paths.insert(file.path);
    previous = &file.path;
  }
  if (total > kBundleBytesMax) {
    return Invalid("is " + FormatBytes(total) + "; at most " + FormatBytes(kBundleBytesMax));
  }
  if (!paths.contains("cluster.yaml")) return Invalid("has no cluster.yaml");
  return Status::Ok();
}

std::string EncodeBundle(const Bundle& bundle) {
  ByteWriter out;
  out.Raw(kMagic);
  out.U32(kFormat);
  out.U32(static_cast<uint32_t>(bundle.files.size()));
  for (const BundleFile& file : bundle.files) {
    out.Str(file.path);
    out.U32(file.mode);
    out.Str(file.bytes);
  }
  return out.Take();
}

Result<Bundle> DecodeBundle(std::string_view bytes) {
  ByteReader in(bytes);
  in.Expect(kMagic);
  if (!in.ok()) return Invalid("not a bundle encoding (no CMCLBNDL magic)");
  const uint32_t format = in.U32();
  if (in.ok() && format != kFormat) {
    return Invalid("encoding format " + std::to_string(format) + "; this cmcld reads format " +
                   std::to_string(kFormat));
  }
  const uint32_t count = in.U32();
  in.Require(count <= kBundleFilesMax);
  Bundle bundle;
  for (uint32_t i = 0; in.ok() && i < count; ++i) {
    BundleFile file;
    file.path = in.Str();
    file.mode = in.U32();
    file.bytes = in.Str();
    bundle.files.push_back(std::move(file));
  }
  if (!in.done()) return Invalid("truncated or malformed encoding");
  if (Status valid = ValidateBundle(bundle); !valid.ok()) return valid;
  return bundle;
}

std::string BundleHash(std::string_view encoded) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const int done =
      EVP_Digest(encoded.data(), encoded.size(), digest, &size, EVP_sha256(), nullptr);
  CMCL_CHECK(done == 1) << "SHA-256 failed";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xfU]);
  }
  return hex;
}

}  // namespace cmcl::io
