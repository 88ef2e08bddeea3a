// pkgctl: global options and command dispatch (INTERFACE.md "pkgctl"). Each command
// lives in its own file; the commands of later issues are refused with a usage error,
// rather than pretending to work.
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/names.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"
#include "pkgctl/json_writer.h"

namespace cmcl::pkgctl {
namespace {

using Command = int (*)(const GlobalOptions&, const std::vector<std::string>&, std::ostream&,
                        std::ostream&);

// The commands this build implements, besides `config`.
const std::vector<std::pair<std::string, Command>> kCommands = {
    {"view", RunView},          {"run", RunRun},         {"halt", RunHalt},
    {"move", RunMove},          {"check", RunCheck},     {"readiness", RunReadiness},
    {"events", RunEvents},      {"enable", RunEnable},   {"disable", RunDisable},
    {"clear", RunClear},        {"node", RunNode},       {"cluster", RunCluster},
    {"package", RunPackage},    {"explain", RunExplain}, {"guest", RunGuest},
    {"inventory", RunInventory}};

// INTERFACE.md's commands that come with later work (none left since issue 12).
const std::vector<std::string> kLaterCommands = {};

struct Invocation {
  GlobalOptions options;
  std::vector<std::string> words;  // The command and its arguments, global flags removed.
  bool help = false;
  std::string error;
};

// Global flags may stand anywhere before "--".
Invocation ParseGlobalFlags(const std::vector<std::string>& args) {
  Invocation invocation;
  const char* socket = std::getenv("CMCL_SOCKET");
  invocation.options.socket = socket != nullptr && *socket ? socket : "/run/cmcld/cmcld.sock";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string value;
    const bool output = arg == "-o" || arg == "--output";
    if (output || arg == "--socket") {
      if (i + 1 >= args.size()) {
        invocation.error = arg + " needs a value";
        return invocation;
      }
      value = args[++i];
    } else if (arg.rfind("--output=", 0) == 0 || arg.rfind("--socket=", 0) == 0) {
      value = arg.substr(arg.find('=') + 1);
    } else {
      if ((arg == "-h" || arg == "--help") && invocation.words.empty()) invocation.help = true;
      invocation.words.push_back(arg);
      continue;
    }
    if (arg == "--socket" || arg.rfind("--socket=", 0) == 0) {
      invocation.options.socket = value;
    } else if (value == "table" || value == "json") {
      invocation.options.output = value == "json" ? OutputFormat::kJson : OutputFormat::kTable;
    } else {
      invocation.error = "--output: \"" + value + "\" is not table or json";
    }
  }
  return invocation;
}

int RunConfig(const GlobalOptions& options, const std::vector<std::string>& words,
              std::ostream& out, std::ostream& err) {
  if (words.size() < 2 || words[1] == "-h" || words[1] == "--help") {
    out << kConfigHelp;
    return words.size() < 2 ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(words.begin() + 2, words.end());
  if (words[1] == "check") return RunConfigCheck(options, rest, out, err);
  if (words[1] == "show") return RunConfigShow(options, rest, out, err);
  if (words[1] == "apply") return RunConfigApply(options, rest, out, err);
  const std::string match = ClosestMatch(words[1], {"check", "apply", "show"});
  return UsageError(options,
                    "config: unknown subcommand \"" + words[1] + "\"" +
                        (match.empty() ? "" : "; did you mean \"" + match + "\"?") +
                        " (see pkgctl config --help)",
                    out, err);
}

int Main(const std::vector<std::string>& args) {
  const Invocation invocation = ParseGlobalFlags(args);
  const GlobalOptions& options = invocation.options;
  if (!invocation.error.empty()) return UsageError(options, invocation.error, std::cout, std::cerr);
  if (invocation.help) {
    std::cout << kMainHelp;
    return kExitOk;
  }
  if (invocation.words.empty()) {
    return UsageError(options, "missing COMMAND (see pkgctl --help)", std::cout, std::cerr);
  }
  const std::string& command = invocation.words.front();
  if (command == "config") return RunConfig(options, invocation.words, std::cout, std::cerr);
  const std::vector<std::string> rest(invocation.words.begin() + 1, invocation.words.end());
  for (const auto& [name, run] : kCommands) {
    if (command == name) return run(options, rest, std::cout, std::cerr);
  }
  for (const std::string& known : kLaterCommands) {
    if (command != known) continue;
    return UsageError(options,
                      "\"" + command + "\" is not available yet in this build; see pkgctl --help",
                      std::cout, std::cerr);
  }
  std::vector<std::string> all = kLaterCommands;
  for (const auto& [name, run] : kCommands) all.push_back(name);
  all.push_back("config");
  const std::string match = ClosestMatch(command, all);
  return UsageError(options,
                    "unknown command \"" + command + "\"" +
                        (match.empty() ? "" : "; did you mean \"" + match + "\"?") +
                        " (see pkgctl --help)",
                    std::cout, std::cerr);
}

}  // namespace

int UsageError(const GlobalOptions& options, const std::string& message, std::ostream& out,
               std::ostream& err) {
  if (options.output == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("error").BeginObject();
    json.Key("code").String("usage").Key("message").String(message).EndObject().EndObject();
    out << json.str() << "\n";
  } else {
    err << "pkgctl: " << message << "\n";
  }
  return kExitUsage;
}

}  // namespace cmcl::pkgctl

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string invoked = argc > 0 ? argv[0] : "pkgctl";
  const std::string name = invoked.substr(invoked.find_last_of('/') + 1);
  cmcl::pkgctl::KeepChannelsUntilExit();
  if (cmcl::pkgctl::IsAlias(name)) {
    cmcl::pkgctl::EndProcess(cmcl::pkgctl::RunAlias(name, args, std::cout, std::cerr));
  }
  cmcl::pkgctl::EndProcess(cmcl::pkgctl::Main(args));
}
