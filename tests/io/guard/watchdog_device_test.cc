// The Linux watchdog adapter (guard/watchdog_device.h) against what a test may open
// without risk. SAFETY: opening a real watchdog starts it, and a watchdog that fires
// resets the machine under every other process on it. These tests open only a regular
// file, /dev/null, and softdog — and softdog only when the kernel loaded it with
// soft_noboot=1 (it then logs instead of rebooting); otherwise that test is skipped.
// Nothing here ever opens /dev/watchdog itself, which may be a hardware watchdog.
#include "cmcld/guard/watchdog_device.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace cmcl::guard {
namespace {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(WatchdogDeviceTest, ARegularFileIsRefusedAndNeverWrittenTo) {
  testing::TempDir dir;
  dir.Write("watchdog", "untouched");
  std::unique_ptr<WatchdogDevice> device = WatchdogDevice::Linux();

  const Result<Duration> opened = device->Open(dir / "watchdog", 1);

  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().message(),
            (dir / "watchdog") + " is not a watchdog device (not a character device)");
  EXPECT_FALSE(device->is_open());
  EXPECT_EQ(ReadFile(dir / "watchdog"), "untouched");  // No magic 'V' either.
}

TEST(WatchdogDeviceTest, ACharacterDeviceThatIsNotAWatchdogIsRefusedByItsIoctl) {
  std::unique_ptr<WatchdogDevice> device = WatchdogDevice::Linux();

  const Result<Duration> opened = device->Open("/dev/null", 1);

  ASSERT_FALSE(opened.ok());
  EXPECT_NE(
      opened.status().message().find("/dev/null is not a watchdog device (WDIOC_GETSUPPORT): "),
      std::string::npos)
      << opened.status().message();
  EXPECT_FALSE(device->is_open());
  EXPECT_FALSE(device->Pet().ok());
}

TEST(WatchdogDeviceTest, AMissingDeviceIsRefusedNamingIt) {
  testing::TempDir dir;
  std::unique_ptr<WatchdogDevice> device = WatchdogDevice::Linux();

  const Result<Duration> opened = device->Open(dir / "no-watchdog", 1);

  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().message(), (dir / "no-watchdog") + ": No such file or directory");
}

// The softdog device (/dev/watchdogN whose identity is "Software Watchdog"), only when
// /sys/module/softdog/parameters/soft_noboot reads Y: then an expiry is logged, never
// a reboot. Loading the module is left to whoever runs the test (modprobe softdog
// soft_noboot=1); this test never loads it.
std::optional<std::string> SafeSoftdog(std::string& why) {
  const std::string noboot = ReadFile("/sys/module/softdog/parameters/soft_noboot");
  if (noboot.empty()) {
    why = "softdog is not loaded (no /sys/module/softdog); run modprobe softdog soft_noboot=1";
    return std::nullopt;
  }
  if (noboot.rfind('Y', 0) != 0 && noboot.rfind('1', 0) != 0) {
    why = "softdog is loaded without soft_noboot: an expiry would reboot this machine";
    return std::nullopt;
  }
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/class/watchdog", error)) {
    const std::string identity = ReadFile(entry.path() / "identity");
    if (identity.rfind("Software Watchdog", 0) != 0) continue;
    const std::string device = "/dev/" + entry.path().filename().string();
    if (std::filesystem::exists(device)) return device;
  }
  why = "softdog is loaded but no /dev/watchdogN has its identity";
  return std::nullopt;
}

TEST(WatchdogDeviceTest, SoftdogWithSoftNobootGrantsATimeoutTakesPetsAndStopsOnMagicClose) {
  std::string why;
  const std::optional<std::string> softdog = SafeSoftdog(why);
  if (!softdog) GTEST_SKIP() << "no safe softdog: " << why;
  std::unique_ptr<WatchdogDevice> device = WatchdogDevice::Linux();

  const Result<Duration> opened = device->Open(*softdog, 7);

  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(*opened, 7s);  // softdog takes any whole number of seconds.
  EXPECT_TRUE(device->Pet().ok());
  const Result<Duration> changed = device->SetTimeout(3);
  ASSERT_TRUE(changed.ok()) << changed.status().message();
  EXPECT_EQ(*changed, 3s);
  device->Close();
  EXPECT_FALSE(device->is_open());
}

}  // namespace
}  // namespace cmcl::guard
