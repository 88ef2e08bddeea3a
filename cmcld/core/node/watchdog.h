// The watchdog fence's arithmetic (DESIGN.md section 4, `fence_action: reboot`): when
// cmcl-guard may pet the Linux watchdog, when it must reset the node at once, which
// timeout to ask the device for and whether the timeout the device granted still keeps
// the parameter rule. Pure: time comes in as `now`; the guard (guard/watchdog.h) does the
// ioctls and the reset.
//
// The rule. A pet at `now` lets the watchdog fire at `now + timeout` at the latest; the
// guard pets only while `now + timeout <= lease_end`, so a guard that stops (killed,
// paused, stalled on a disk, the whole node wedged) has the node reset by `lease_end`,
// when the coordinator may place the guests elsewhere (L4). `timeout` is always the
// value the device reported back, never the configured one.
//
// What the watchdog protects is the registered guests. While every registered guest has
// been seen stopped by a fence (or none is registered) nothing needs the reset, and the
// guard pets regardless of the lease: a node whose kill fence worked is not rebooted.
// While some guest is protected:
//   * no lease_end known (a guard that never got a deadline) → no pet: only a lease
//     entitles a guest to run;
//   * now + timeout <= lease_end → pet, again after PetInterval or at the last instant
//     the rule allows (lease_end − timeout), whichever is first;
//   * lease_end − timeout < now < lease_end → hold (no pet) and look again at lease_end;
//   * now >= lease_end → reset at once: the fence has not seen the guest stopped by
//     lease_end (DESIGN.md: "logged as critical and ... resets the node at once").
#pragma once

#include <optional>
#include <string>

#include "cmcld/core/common/time.h"

namespace cmcl::node {

enum class WatchdogStep : uint8_t { kPet, kHold, kReset };

struct WatchdogDecision {
  WatchdogStep step = WatchdogStep::kHold;
  // When to decide again without any other event; nullopt: only an event (a new
  // deadline, a registration, a fence's end) can change the decision.
  std::optional<Time> next;
};

struct WatchdogInputs {
  Time now;
  Duration timeout{0};            // The device's, as it reported it (> 0).
  std::optional<Time> lease_end;  // The guard's deadline + fence_timeout.
  bool protecting = false;        // Some registered guest not seen stopped by a fence.
};

WatchdogDecision DecideWatchdog(const WatchdogInputs& in);

// How often the guard pets while it may: a quarter of the timeout (three pets may be
// lost to scheduling before the device fires), at least every 10 ms of slack.
Duration PetInterval(Duration timeout);

// WDIOC_SETTIMEOUT takes whole seconds: the configured watchdog_timeout rounded up (a
// device that fires earlier than asked would be safe but reset a node the operator gave
// more time), at least 1.
int WatchdogSecondsToAsk(Duration configured);

// The parameter rule with the device's timeout: `timeout + 2·heartbeat_interval + 300ms
// <= node_timeout` keeps a node with a healthy lease petting (its lease_end is at least
// node_timeout − 2·heartbeat_interval − 300ms away). nullopt when it holds; else one
// line saying why, naming what the device granted when it differs from what was asked.
std::optional<std::string> CheckWatchdogTimeout(Duration granted, Duration configured,
                                                Duration heartbeat_interval, Duration node_timeout);

}  // namespace cmcl::node
