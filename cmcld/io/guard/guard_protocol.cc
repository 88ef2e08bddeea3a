#include "cmcld/io/guard/guard_protocol.h"

#include <limits>
#include <type_traits>
#include <utility>

#include "cmcld/core/common/bytes.h"
#include "cmcld/core/common/check.h"

namespace cmcl::io::guard_protocol {
namespace {

// The u8 that opens every payload. Values are part of the protocol: never reuse one.
enum class Type : uint8_t {
  kAttach = 1,
  kSetDeadline = 2,
  kRegister = 3,
  kUnregister = 4,
  kSetRunGroup = 5,
  kDetach = 6,
  kReset = 7,
  kState = 64,
  kAck = 65,
  kRefused = 66,
};

// Environment entries and registered guests per message: far above any real node, low
// enough that a corrupt count cannot make the reader allocate much.
constexpr uint32_t kListMax = 4096;

// Time and pgid travel as u64/u32 two's complement; both are non-negative in practice.
void PutTime(ByteWriter& out, Time time) { out.U64(static_cast<uint64_t>(time.milliseconds())); }
Time GetTime(ByteReader& in) {
  const uint64_t value = in.U64();
  in.Require(value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  return Time::FromMilliseconds(static_cast<int64_t>(value));
}
void PutPgid(ByteWriter& out, int pgid) { out.U32(static_cast<uint32_t>(pgid)); }
int GetPgid(ByteReader& in) {
  const uint32_t value = in.U32();
  in.Require(value <= static_cast<uint32_t>(std::numeric_limits<int>::max()));
  return static_cast<int>(value);
}

void PutGuest(ByteWriter& out, const GuardGuest& guest) {
  out.Str(guest.guest.resource.value());
  out.U64(guest.guest.epoch.value());
  out.Str(guest.driver);
  out.Str(guest.halt_script);
  out.Str(guest.work_dir);
  out.U32(static_cast<uint32_t>(guest.env.size()));
  for (const std::string& entry : guest.env) out.Str(entry);
  PutPgid(out, guest.run_pgid);
}

GuardGuest GetGuest(ByteReader& in) {
  GuardGuest guest;
  guest.guest.resource = PackageName(in.Name());
  guest.guest.epoch = raft::LogIndex(in.U64());
  guest.driver = in.Str();
  guest.halt_script = in.Str();
  guest.work_dir = in.Str();
  const uint32_t count = in.U32();
  in.Require(count <= kListMax);
  for (uint32_t i = 0; in.ok() && i < count; ++i) guest.env.push_back(in.Str());
  guest.run_pgid = GetPgid(in);
  return guest;
}

void PutState(ByteWriter& out, const State& state) {
  PutPgid(out, state.pid);
  out.Flag(state.state.deadline.has_value());
  PutTime(out, state.state.deadline.value_or(Time()));
  out.Flag(state.state.fenced);
  out.U32(static_cast<uint32_t>(state.state.registered.size()));
  for (size_t i = 0; i < state.state.registered.size(); ++i) {
    const node::GuestRef& guest = state.state.registered[i];
    out.Str(guest.resource.value());
    out.U64(guest.epoch.value());
    out.Str(i < state.work_dirs.size() ? state.work_dirs[i] : std::string());
  }
  out.Ms(state.watchdog_timeout);
  out.Str(state.watchdog_error);
}

State GetState(ByteReader& in) {
  State state;
  state.pid = GetPgid(in);
  const bool has_deadline = in.Flag();
  const Time deadline = GetTime(in);
  if (has_deadline) state.state.deadline = deadline;
  state.state.fenced = in.Flag();
  const uint32_t count = in.U32();
  in.Require(count <= kListMax);
  for (uint32_t i = 0; in.ok() && i < count; ++i) {
    node::GuestRef guest;
    guest.resource = PackageName(in.Name());
    guest.epoch = raft::LogIndex(in.U64());
    state.state.registered.push_back(std::move(guest));
    state.work_dirs.push_back(in.Str());
  }
  state.watchdog_timeout = in.Ms();
  state.watchdog_error = in.Str();
  return state;
}

void PutPayload(ByteWriter& out, const Message& message) {
  std::visit(
      [&out](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Attach>) {
          out.U8(static_cast<uint8_t>(Type::kAttach));
          out.U32(m.version);
          out.Ms(m.fence_timeout);
          out.Str(m.watchdog_device);
          out.Ms(m.watchdog_timeout);
        } else if constexpr (std::is_same_v<T, SetDeadline>) {
          out.U8(static_cast<uint8_t>(Type::kSetDeadline));
          out.U64(m.id);
          PutTime(out, m.deadline);
          out.Flag(m.allow_earlier);
        } else if constexpr (std::is_same_v<T, Register>) {
          out.U8(static_cast<uint8_t>(Type::kRegister));
          out.U64(m.id);
          PutGuest(out, m.guest);
        } else if constexpr (std::is_same_v<T, Unregister>) {
          out.U8(static_cast<uint8_t>(Type::kUnregister));
          out.U64(m.id);
          out.Str(m.package.value());
        } else if constexpr (std::is_same_v<T, SetRunGroup>) {
          out.U8(static_cast<uint8_t>(Type::kSetRunGroup));
          out.Str(m.package.value());
          PutPgid(out, m.pgid);
        } else if constexpr (std::is_same_v<T, Detach>) {
          out.U8(static_cast<uint8_t>(Type::kDetach));
        } else if constexpr (std::is_same_v<T, Reset>) {
          out.U8(static_cast<uint8_t>(Type::kReset));
          out.Str(m.why);
        } else if constexpr (std::is_same_v<T, State>) {
          out.U8(static_cast<uint8_t>(Type::kState));
          PutState(out, m);
        } else if constexpr (std::is_same_v<T, Ack>) {
          out.U8(static_cast<uint8_t>(Type::kAck));
          out.U64(m.id);
        } else {
          static_assert(std::is_same_v<T, Refused>);
          out.U8(static_cast<uint8_t>(Type::kRefused));
          out.Str(m.reason);
        }
      },
      message);
}

// The message of `type`, read from `in` (check in.done() afterwards); nullopt for an
// unknown type.
std::optional<Message> GetBody(Type type, ByteReader& in) {
  switch (type) {
    case Type::kAttach: {
      Attach m;
      m.version = in.U32();
      m.fence_timeout = in.Ms();
      // A version-2 Attach ends here; it still decodes, so the guard can refuse it by
      // its version rather than drop it as garbage.
      if (in.done()) return m;
      m.watchdog_device = in.Str();
      m.watchdog_timeout = in.Ms();
      return m;
    }
    case Type::kSetDeadline: {
      SetDeadline m;
      m.id = in.U64();
      m.deadline = GetTime(in);
      m.allow_earlier = in.Flag();
      return m;
    }
    case Type::kRegister: {
      const uint64_t id = in.U64();
      return Register{.id = id, .guest = GetGuest(in)};
    }
    case Type::kUnregister: {
      const uint64_t id = in.U64();
      return Unregister{.id = id, .package = PackageName(in.Name())};
    }
    case Type::kSetRunGroup: {
      PackageName package(in.Name());
      return SetRunGroup{.package = std::move(package), .pgid = GetPgid(in)};
    }
    case Type::kDetach:
      return Detach{};
    case Type::kReset:
      return Reset{.why = in.Str()};
    case Type::kState:
      return GetState(in);
    case Type::kAck:
      return Ack{.id = in.U64()};
    case Type::kRefused:
      return Refused{.reason = in.Str()};
  }
  return std::nullopt;
}

}  // namespace

std::string EncodeFrame(const Message& message) {
  ByteWriter payload;
  PutPayload(payload, message);
  const std::string body = payload.Take();
  CMCL_CHECK(body.size() <= kFrameMax) << "guard frame of " << body.size() << " bytes";
  ByteWriter frame;
  frame.U32(static_cast<uint32_t>(body.size()));
  frame.Raw(body);
  return frame.Take();
}

Result<Message> DecodePayload(std::string_view payload) {
  ByteReader in(payload);
  const uint8_t type = in.U8();
  if (!in.ok()) return Status::InvalidArgument("guard protocol: empty frame");
  std::optional<Message> message = GetBody(static_cast<Type>(type), in);
  if (!message.has_value()) {
    return Status::InvalidArgument("guard protocol: unknown message type " + std::to_string(type));
  }
  if (!in.done()) {
    return Status::InvalidArgument("guard protocol: malformed message of type " +
                                   std::to_string(type));
  }
  return std::move(*message);
}

Message FromRequest(const node::GuardRequest& request, const GuardGuest* guest) {
  return std::visit(
      [&request, guest](const auto& r) -> Message {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, node::SetDeadline>) {
          return SetDeadline{
              .id = request.id, .deadline = r.deadline, .allow_earlier = r.allow_earlier};
        } else if constexpr (std::is_same_v<T, node::Register>) {
          CMCL_CHECK(guest != nullptr) << "a guard Register needs its GuardGuest";
          CMCL_CHECK(guest->guest == r.guest)
              << "GuardGuest for " << guest->guest.resource << " registering " << r.guest.resource;
          return Register{.id = request.id, .guest = *guest};
        } else {
          static_assert(std::is_same_v<T, node::Unregister>);
          return Unregister{.id = request.id, .package = r.resource};
        }
      },
      request.request);
}

Result<std::optional<Message>> FrameReader::Next() {
  if (!broken_.ok()) return broken_;
  const std::string_view rest = std::string_view(buffer_).substr(at_);
  if (rest.size() < 4) return std::optional<Message>();
  ByteReader header(rest.substr(0, 4));
  const uint32_t size = header.U32();
  if (size > kFrameMax) {
    broken_ = Status::InvalidArgument("guard protocol: frame of " + std::to_string(size) +
                                      " bytes (at most " + std::to_string(kFrameMax) + ")");
    return broken_;
  }
  if (rest.size() - 4 < size) return std::optional<Message>();
  Result<Message> message = DecodePayload(rest.substr(4, size));
  if (!message.ok()) {
    broken_ = message.status();
    return broken_;
  }
  at_ += 4 + size;
  if (at_ == buffer_.size()) {
    buffer_.clear();
    at_ = 0;
  } else if (at_ > (1U << 16)) {  // Keep the buffer from growing with consumed bytes.
    buffer_.erase(0, at_);
    at_ = 0;
  }
  return std::optional<Message>(std::move(message).value());
}

}  // namespace cmcl::io::guard_protocol
