// The guard wire protocol (io/guard/guard_protocol.h): every message survives encoding,
// frames split anywhere reassemble, and bad input is an error, never a crash or a guess.
#include "cmcld/io/guard/guard_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cmcl::io::guard_protocol {
namespace {

GuardGuest SampleGuest() {
  return {.guest = {.resource = PackageName("vm01"), .epoch = raft::LogIndex(42)},
          .driver = "/usr/lib/cmcl/drivers/libvirt",
          .halt_script = "/var/lib/cmcld/bundles/3/vm01/halt.sh",
          .work_dir = "/var/lib/cmcld/bundles/3/vm01",
          .env = {"CMCL_PACKAGE=vm01", "CMCL_EPOCH=42", "PATH=/usr/bin:/bin"},
          .run_pgid = 4242};
}

Message RoundTrip(const Message& message) {
  const std::string frame = EncodeFrame(message);
  FrameReader reader;
  reader.Append(frame);
  Result<std::optional<Message>> decoded = reader.Next();
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded.ok() && decoded->has_value());
  return decoded.ok() && decoded->has_value() ? **decoded : Message(Detach{});
}

TEST(GuardProtocol, ARegisterKeepsEveryFieldOfTheGuest) {
  const Register sent{.id = 7, .guest = SampleGuest()};

  const Message received = RoundTrip(sent);

  const auto* got = std::get_if<Register>(&received);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->id, 7U);
  EXPECT_EQ(got->guest.guest, sent.guest.guest);
  EXPECT_EQ(got->guest.driver, sent.guest.driver);
  EXPECT_EQ(got->guest.halt_script, sent.guest.halt_script);
  EXPECT_EQ(got->guest.work_dir, sent.guest.work_dir);
  EXPECT_EQ(got->guest.env, sent.guest.env);
  EXPECT_EQ(got->guest.run_pgid, 4242);
}

TEST(GuardProtocol, AnAttachAndAStateKeepTheWatchdog) {
  const Message attach = RoundTrip(Attach{.fence_timeout = std::chrono::milliseconds(300),
                                          .watchdog_device = "/dev/watchdog1",
                                          .watchdog_timeout = std::chrono::milliseconds(1500)});
  const Message state = RoundTrip(State{
      .pid = 3, .watchdog_timeout = std::chrono::seconds(2), .watchdog_error = "no such device"});

  const auto* got_attach = std::get_if<Attach>(&attach);
  ASSERT_NE(got_attach, nullptr);
  EXPECT_EQ(got_attach->watchdog_device, "/dev/watchdog1");
  EXPECT_EQ(got_attach->watchdog_timeout, std::chrono::milliseconds(1500));
  const auto* got_state = std::get_if<State>(&state);
  ASSERT_NE(got_state, nullptr);
  EXPECT_EQ(got_state->watchdog_timeout, std::chrono::seconds(2));
  EXPECT_EQ(got_state->watchdog_error, "no such device");
}

// A version-2 cmcld's Attach (no watchdog fields) still decodes, so the guard refuses it
// by its version instead of dropping it as garbage.
TEST(GuardProtocol, AVersion2AttachStillDecodesWithItsVersion) {
  std::string payload;
  payload += static_cast<char>(1);                    // kAttach.
  payload += std::string("\x02\0\0\0", 4);            // version 2.
  payload += std::string("\x2c\x01\0\0\0\0\0\0", 8);  // 300 ms.

  const Result<Message> decoded = DecodePayload(payload);

  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto* attach = std::get_if<Attach>(&*decoded);
  ASSERT_NE(attach, nullptr);
  EXPECT_EQ(attach->version, 2U);
  EXPECT_EQ(attach->watchdog_device, "");
}

TEST(GuardProtocol, AResetKeepsItsReason) {
  const Message received = RoundTrip(Reset{.why = "vm01@42: stray: a kill did not stop it"});

  const auto* got = std::get_if<Reset>(&received);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->why, "vm01@42: stray: a kill did not stop it");
  // The type byte is part of the protocol: 7, never reused.
  EXPECT_EQ(EncodeFrame(Reset{.why = ""}).substr(4), std::string("\x07\0\0\0\0", 5));
}

// Reset came with version 4: a version-3 cmcld's Attach (same fields) decodes with its
// version, so the guard refuses it clearly; a version-4 cmcld is refused by a version-3
// guard the same way, before it could send a Reset that guard would drop as garbage.
TEST(GuardProtocol, AVersion3AttachStillDecodesWithItsVersion) {
  EXPECT_EQ(kVersion, 4U);
  std::string payload = EncodeFrame(Attach{.version = 3,
                                           .fence_timeout = std::chrono::milliseconds(300),
                                           .watchdog_device = "/dev/watchdog1",
                                           .watchdog_timeout = std::chrono::seconds(2)})
                            .substr(4);

  const Result<Message> decoded = DecodePayload(payload);

  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto* attach = std::get_if<Attach>(&*decoded);
  ASSERT_NE(attach, nullptr);
  EXPECT_EQ(attach->version, 3U);
  EXPECT_EQ(attach->watchdog_device, "/dev/watchdog1");
}

TEST(GuardProtocol, AStateKeepsTheDeadlineTheGuestsAndFenced) {
  State sent{.pid = 999};
  sent.state.deadline = Time::FromMilliseconds(123456789);
  sent.state.fenced = true;
  sent.state.registered = {{PackageName("a"), raft::LogIndex(1)},
                           {PackageName("b"), raft::LogIndex(2)}};

  const Message received = RoundTrip(sent);

  const auto* got = std::get_if<State>(&received);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->pid, 999);
  EXPECT_EQ(got->state.deadline, sent.state.deadline);
  EXPECT_TRUE(got->state.fenced);
  EXPECT_EQ(got->state.registered, sent.state.registered);
}

TEST(GuardProtocol, AStateKeepsTheWorkDirEachGuestWasRegisteredWith) {
  State sent{.pid = 7};
  sent.state.registered = {{PackageName("a"), raft::LogIndex(1)},
                           {PackageName("b"), raft::LogIndex(2)}};
  sent.work_dirs = {"/s/config/v1/packages/a", "/s/config/v3/packages/b"};

  const Message received = RoundTrip(sent);

  const auto* got = std::get_if<State>(&received);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->work_dirs, sent.work_dirs);
}

TEST(GuardProtocol, AStateWithoutADeadlineHasNone) {
  const Message received = RoundTrip(State{.pid = 1});

  const auto* got = std::get_if<State>(&received);
  ASSERT_NE(got, nullptr);
  EXPECT_FALSE(got->state.deadline.has_value());
  EXPECT_FALSE(got->state.fenced);
}

TEST(GuardProtocol, CoreRequestsBecomeTheirMessages) {
  const GuardGuest guest = SampleGuest();
  const node::GuardRequest deadline{
      .id = 3,
      .request =
          node::SetDeadline{.deadline = Time::FromMilliseconds(5000), .allow_earlier = true}};
  const node::GuardRequest registration{.id = 4, .request = node::Register{.guest = guest.guest}};
  const node::GuardRequest removal{.id = 5,
                                   .request = node::Unregister{.resource = PackageName("vm01")}};

  const Message a = RoundTrip(FromRequest(deadline, nullptr));
  const Message b = RoundTrip(FromRequest(registration, &guest));
  const Message c = RoundTrip(FromRequest(removal, nullptr));

  ASSERT_TRUE(std::holds_alternative<SetDeadline>(a));
  EXPECT_EQ(std::get<SetDeadline>(a).id, 3U);
  EXPECT_EQ(std::get<SetDeadline>(a).deadline, Time::FromMilliseconds(5000));
  EXPECT_TRUE(std::get<SetDeadline>(a).allow_earlier);
  ASSERT_TRUE(std::holds_alternative<Register>(b));
  EXPECT_EQ(std::get<Register>(b).guest.guest, guest.guest);
  ASSERT_TRUE(std::holds_alternative<Unregister>(c));
  EXPECT_EQ(std::get<Unregister>(c).package, PackageName("vm01"));
}

TEST(GuardProtocol, FramesSplitAtEveryByteReassembleInOrder) {
  const std::string stream = EncodeFrame(Ack{.id = 1}) +
                             EncodeFrame(Register{.id = 2, .guest = SampleGuest()}) +
                             EncodeFrame(Ack{.id = 3});
  FrameReader reader;
  std::vector<Message> received;

  for (const char byte : stream) {
    reader.Append(std::string_view(&byte, 1));
    for (Result<std::optional<Message>> next = reader.Next(); next.ok() && next->has_value();
         next = reader.Next()) {
      received.push_back(**next);
    }
  }

  ASSERT_EQ(received.size(), 3U);
  EXPECT_EQ(std::get<Ack>(received[0]).id, 1U);
  EXPECT_EQ(std::get<Register>(received[1]).id, 2U);
  EXPECT_EQ(std::get<Ack>(received[2]).id, 3U);
}

TEST(GuardProtocol, AnOversizedFrameIsAnErrorBeforeItsBodyArrives) {
  FrameReader reader;
  reader.Append(std::string("\xff\xff\xff\x7f", 4));

  const Result<std::optional<Message>> next = reader.Next();

  EXPECT_FALSE(next.ok());
  EXPECT_FALSE(reader.Next().ok());  // And it stays broken.
}

TEST(GuardProtocol, UnknownTypesTrailingBytesAndBadNamesAreErrors) {
  const std::string trailing = EncodeFrame(Ack{.id = 1}).substr(4) + "x";
  const std::string bad_name =
      EncodeFrame(Unregister{.id = 1, .package = PackageName("no/slash")}).substr(4);

  EXPECT_FALSE(DecodePayload(std::string("\x63", 1)).ok());
  EXPECT_FALSE(DecodePayload("").ok());
  EXPECT_FALSE(DecodePayload(trailing).ok());
  EXPECT_FALSE(DecodePayload(bad_name).ok());
  EXPECT_FALSE(DecodePayload(std::string("\x07", 1)).ok()) << "a Reset without its reason";
  EXPECT_TRUE(DecodePayload(EncodeFrame(Ack{.id = 1}).substr(4)).ok());
}

}  // namespace
}  // namespace cmcl::io::guard_protocol
