#include "cmcld/core/node/watchdog.h"

#include <algorithm>

#include "cmcld/core/config/validate.h"

namespace cmcl::node {

WatchdogDecision DecideWatchdog(const WatchdogInputs& in) {
  const Duration interval = PetInterval(in.timeout);
  if (!in.protecting) return {.step = WatchdogStep::kPet, .next = in.now + interval};
  if (!in.lease_end.has_value()) return {.step = WatchdogStep::kHold, .next = std::nullopt};
  const Time lease_end = *in.lease_end;
  if (in.now >= lease_end) return {.step = WatchdogStep::kReset, .next = std::nullopt};
  const Time last_pet = lease_end - in.timeout;  // The last instant a pet is allowed.
  if (in.now > last_pet) return {.step = WatchdogStep::kHold, .next = lease_end};
  // The next pet comes after the interval, or exactly at the last allowed instant, so the
  // device fires at lease_end and not earlier; with no pet left, the reset check.
  const Time next = last_pet > in.now ? std::min(in.now + interval, last_pet) : lease_end;
  return {.step = WatchdogStep::kPet, .next = next};
}

Duration PetInterval(Duration timeout) {
  return std::max(timeout / 4, Duration(std::chrono::milliseconds(10)));
}

int WatchdogSecondsToAsk(Duration configured) {
  const int64_t ms = configured.count();
  return static_cast<int>(std::max<int64_t>(1, (ms + 999) / 1000));
}

std::optional<std::string> CheckWatchdogTimeout(Duration granted, Duration configured,
                                                Duration heartbeat_interval,
                                                Duration node_timeout) {
  const Duration total = granted + heartbeat_interval * 2 + std::chrono::milliseconds(300);
  if (total <= node_timeout) return std::nullopt;
  const std::string timeout =
      granted == configured ? "watchdog_timeout (" + config::FormatSeconds(granted) + ")"
                            : "the watchdog device's timeout (" + config::FormatSeconds(granted) +
                                  "; watchdog_timeout is " + config::FormatSeconds(configured) +
                                  ", the device counts whole seconds)";
  return "fence_action reboot: " + timeout + " + 2 × heartbeat_interval (" +
         config::FormatSeconds(heartbeat_interval * 2) +
         ") + 300ms = " + config::FormatSeconds(total) + " exceeds node_timeout (" +
         config::FormatSeconds(node_timeout) +
         "); a node with a healthy lease could not pet its watchdog";
}

}  // namespace cmcl::node
