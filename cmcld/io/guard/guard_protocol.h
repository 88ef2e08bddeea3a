// The cmcld <-> cmcl-guard wire protocol (guard_client.h describes the roles; DESIGN.md
// section 4 why the guard exists). Shared by both sides, so it depends on the core only:
// cmcl-guard links it without Asio, gRPC or spdlog.
//
// Transport: a stream Unix socket at STATE_DIR/guard.sock (mode 0600). Every message is
// one frame: u32 little-endian payload length, then the payload; the payload is a u8
// message type and its fields in the core's ByteWriter encoding (bytes.h: little-endian
// integers, u32-length strings). A frame longer than kFrameMax, an unknown type or a
// payload that does not decode exactly is a protocol error: the receiver drops the
// connection (the guard keeps its state, as for any drop).
//
// Conversation: cmcld connects and sends Attach; the guard answers State (or Refused when
// another cmcld is attached, or the version differs) and from then on acknowledges every
// SetDeadline, Register and Unregister with an Ack carrying the request's id, in order.
// While a fence runs the guard holds its acks until every fence step has finished, so an
// ack always means "applied, and no kill of mine is still in flight" (a guest cmcld
// starts after the ack cannot be hit by a stale fence). SetRunGroup, Detach and Reset are
// not acknowledged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/node.h"

namespace cmcl::io {

// What the guard needs to fence one guest without cmcld.
struct GuardGuest {
  node::GuestRef guest;
  std::string driver;            // Absolute path of the driver executable; empty: none.
  std::string halt_script;       // Absolute path (used without a driver).
  std::string work_dir;          // The package folder the scripts run in.
  std::vector<std::string> env;  // KEY=VALUE: the package's CMCL_* environment.
  int run_pgid = 0;              // The run script's process group, if known (0: none).
};

namespace guard_protocol {

// 2: State carries each registered guest's work_dir (config apply, issue 9).
// 3: Attach carries the watchdog (fence_action reboot), State what the device granted.
// 4: Reset (cmcld's own resets with fence_action reboot). A version-3 guard would drop the
//    connection on it instead of resetting; with the bump it refuses the Attach instead.
inline constexpr uint32_t kVersion = 4;
inline constexpr uint32_t kFrameMax = 1U << 20;  // Bytes of one payload.
inline constexpr std::string_view kSocketName = "guard.sock";
inline constexpr std::string_view kLockName = "guard.lock";
inline constexpr std::string_view kLogName = "guard.log";

// cmcld -> guard.
struct Attach {
  uint32_t version = kVersion;
  Duration fence_timeout{0};  // Bound of each fence step from now on.
  // fence_action reboot: the watchdog device the guard opens, pets and resets through
  // (guard.h); empty with fence_action kill (an open watchdog is then stopped).
  std::string watchdog_device;
  Duration watchdog_timeout{0};  // As configured; the device counts whole seconds.
};
struct SetDeadline {
  uint64_t id = 0;
  Time deadline;
  bool allow_earlier = false;
};
struct Register {
  uint64_t id = 0;
  GuardGuest guest;
};
struct Unregister {
  uint64_t id = 0;
  PackageName package;
};
struct SetRunGroup {
  PackageName package;
  int pgid = 0;
};
struct Detach {};
// fence_action reboot (DESIGN.md sections 4 and 5, node.h NodeActions::reset): reset the
// node now, through the watchdog device's Reset() (sysrq b, else reboot(2)). Not
// acknowledged: on a real node nothing comes back.
struct Reset {
  std::string why;  // For the guard's CRITICAL line.
};

// guard -> cmcld.
struct State {
  int pid = 0;  // The guard's process id.
  node::GuardState state;
  // The work_dir each registered guest was registered with: its package folder in the
  // configuration version that started it (STATE_DIR/config/vN/packages/P), which a
  // restarted cmcld halts it with. Same order as state.registered.
  std::vector<std::string> work_dirs;
  // With a watchdog in the Attach: the timeout the device reported back, or why the
  // guard could not open or set it (then watchdog_timeout is 0).
  Duration watchdog_timeout{0};
  std::string watchdog_error;
};
struct Ack {
  uint64_t id = 0;
};
struct Refused {
  std::string reason;
};

using Message = std::variant<Attach, SetDeadline, Register, Unregister, SetRunGroup, Detach, Reset,
                             State, Ack, Refused>;

// The frame (length prefix included) that carries `message`.
std::string EncodeFrame(const Message& message);
// One payload (without its length prefix) back into a message.
Result<Message> DecodePayload(std::string_view payload);
// The protocol message for a core GuardRequest. REQUIRES: `guest` for a Register, and
// its guest equal to the request's.
Message FromRequest(const node::GuardRequest& request, const GuardGuest* guest);

// Bytes as they arrive on a stream, cut into frames.
class FrameReader {
 public:
  void Append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message; nullopt when more bytes are needed; an error (and every
  // later call the same error) on a bad frame.
  Result<std::optional<Message>> Next();

 private:
  std::string buffer_;
  size_t at_ = 0;
  Status broken_;
};

}  // namespace guard_protocol
}  // namespace cmcl::io
