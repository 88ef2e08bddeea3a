// WatchdogDevice: the node's hardware (or softdog) watchdog and the node reset, as
// cmcl-guard uses them for `fence_action: reboot` (DESIGN.md section 4; the arithmetic of
// when to pet and when to reset is core/node/watchdog.h, the policy guard.h).
//
// Linux() is the real thing: open(2) of the device (which starts it), WDIOC_GETSUPPORT
// (refused when the device is not a watchdog), WDIOC_SETTIMEOUT in whole seconds and
// WDIOC_GETTIMEOUT for what the driver really set, WDIOC_KEEPALIVE to pet, the magic
// close ('V', then close) to stop it. Reset() writes 'b' to /proc/sysrq-trigger — an
// immediate reset, no sync (a sync can hang on the very disk that stalled cmcld) — and
// falls back to reboot(RB_AUTOBOOT). A driver built with nowayout ignores the magic
// close: a guard that exits cleanly then has the node reset watchdog_timeout later.
//
// Recording(PATH) is for tests only (cmcl-guard selects it with the environment
// variable CMCL_TEST_FAKE_WATCHDOG=PATH; guard/main.cc): nothing is opened, no node is
// ever reset; each call appends one line "BOOT_MS VERB ..." to PATH ("open DEVICE
// SECONDS", "pet", "close", "reset WHY"). The timeout it grants is the one asked, or
// CMCL_TEST_FAKE_WATCHDOG_GRANT seconds when set (a driver that rounds).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"

namespace cmcl::guard {

class WatchdogDevice {
 public:
  virtual ~WatchdogDevice() = default;
  // Opens `path` — which starts the watchdog — and asks for `seconds`; the timeout the
  // device reports back. On error the device is closed again (magic close).
  virtual Result<Duration> Open(const std::string& path, int seconds) = 0;
  // A new timeout on the open device; the timeout it reports back.
  virtual Result<Duration> SetTimeout(int seconds) = 0;
  virtual Status Pet() = 0;
  // The magic close: stops the watchdog (unless its driver is nowayout).
  virtual void Close() = 0;
  virtual bool is_open() const = 0;
  // Resets the node at once. Returns only when it could not (or for Recording).
  virtual void Reset(const std::string& why) = 0;

  static std::unique_ptr<WatchdogDevice> Linux();
  static std::unique_ptr<WatchdogDevice> Recording(std::string record_path,
                                                   std::optional<int> grant_seconds);
};

}  // namespace cmcl::guard
