// The Serviceguard and HPVM aliases (INTERFACE.md "Aliases"): pkgctl invoked through a
// symlink named cmviewcl, cmrunpkg, hpvmmigrate, ... takes that command's flags, turns
// them into a pkgctl command and runs it. The socket comes from $CMCL_SOCKET (else
// /run/cmcld/cmcld.sock); the output is the table form. A flag the alias does not
// accept, or a missing argument: its usage on stderr and exit 2; -h/--help: the usage
// on stdout, exit 0.
//
// Deliberate differences (INTERFACE.md): cmrunpkg does not enable global switching
// (Serviceguard semantics: follow it with cmmodpkg -e); cmviewcl -f line prints
// Serviceguard's `prefix|key=value` lines (view_render.h ViewLines); cmgetconf -C FILE
// writes the applied cluster.yaml to FILE; cmapplyconf -C FILE is `config apply FILE`
// (waiting, as Serviceguard's does); hpvmmigrate prints "hpvmmigrate: Guest migrated successfully."
// or every line of the refusal (the violations, one per line) prefixed "hpvmmigrate: ".
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "pkgctl/commands.h"

namespace cmcl::pkgctl {
namespace {

const std::map<std::string, std::string>& Usages() {
  static const std::map<std::string, std::string> usages = {
      {"cmviewcl", "cmviewcl [-v] [-f table|line] [-p PKG | -n NODE]"},
      {"cmrunpkg", "cmrunpkg [-n NODE] PKG   (global switching stays off: cmmodpkg -e PKG)"},
      {"cmhaltpkg", "cmhaltpkg PKG"},
      {"cmmodpkg", "cmmodpkg -e|-d [-n NODE] PKG | cmmodpkg -m on|off PKG"},
      {"cmrunnode", "cmrunnode [NODE]   (default: this node)"},
      {"cmhaltnode", "cmhaltnode [NODE]   (default: this node)"},
      {"cmruncl", "cmruncl [-n NODE ...]"},
      {"cmhaltcl", "cmhaltcl [-f]"},
      {"cmcheckconf", "cmcheckconf [-C CLUSTER_YAML]"},
      {"cmapplyconf", "cmapplyconf [-C CLUSTER_YAML]"},
      {"cmgetconf", "cmgetconf [-C OUTPUT_FILE]   (the applied cluster.yaml)"},
      {"hpvmmigrate", "hpvmmigrate -P GUEST -h HOST [-s] [-c VCPUS] [-r MEMORY]"},
      {"hpvmstatus", "hpvmstatus [-P GUEST]"},
  };
  return usages;
}

// The parsed flags of an alias: single-letter flags, with or without a value.
struct Flags {
  std::map<char, std::vector<std::string>> values;
  std::vector<std::string> positional;
  std::string error;
  bool help = false;
  bool Has(char flag) const { return values.contains(flag); }
  std::string Value(char flag) const { return Has(flag) ? values.at(flag).back() : ""; }
};

// `with_value`: the flags that take a value; `plain`: those that do not.
Flags Parse(const std::vector<std::string>& args, const std::string& with_value,
            const std::string& plain) {
  Flags flags;
  for (size_t i = 0; i < args.size() && flags.error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-?") {
      flags.help = true;
    } else if (arg.size() == 2 && arg[0] == '-' && with_value.find(arg[1]) != std::string::npos) {
      if (i + 1 >= args.size()) {
        flags.error = arg + " needs a value";
      } else {
        flags.values[arg[1]].push_back(args[++i]);
      }
    } else if (arg.size() == 2 && arg[0] == '-' && plain.find(arg[1]) != std::string::npos) {
      flags.values[arg[1]].push_back("");
    } else if (arg.size() > 1 && arg[0] == '-') {
      flags.error = "unknown option " + arg;
    } else {
      flags.positional.push_back(arg);
    }
  }
  return flags;
}

int Usage(const std::string& name, const std::string& error, std::ostream& out, std::ostream& err) {
  if (error.empty()) {
    out << "usage: " << Usages().at(name) << "\n";
    return kExitOk;
  }
  err << name << ": " << error << "\nusage: " << Usages().at(name) << "\n";
  return kExitUsage;
}

GlobalOptions AliasOptions() {
  GlobalOptions options;
  const char* socket = std::getenv("CMCL_SOCKET");
  options.socket = socket != nullptr && *socket ? socket : "/run/cmcld/cmcld.sock";
  return options;
}

int Cmviewcl(const Flags& flags, std::ostream& out, std::ostream& err) {
  if (!flags.positional.empty()) {
    return Usage("cmviewcl", "unexpected " + flags.positional[0], out, err);
  }
  if (flags.Has('p') && flags.Has('n')) {
    return Usage("cmviewcl", "-p and -n exclude each other", out, err);
  }
  const std::string format = flags.Has('f') ? flags.Value('f') : "table";
  if (format != "line" && format != "table") {
    return Usage("cmviewcl", "-f is table or line", out, err);
  }
  std::vector<std::string> words = {"--format", format};
  if (flags.Has('v')) words.push_back("-v");
  if (flags.Has('p')) words.push_back(flags.Value('p'));
  if (flags.Has('n')) words.push_back(flags.Value('n'));
  return RunView(AliasOptions(), words, out, err);
}

int Hpvmmigrate(const Flags& flags, std::ostream& out, std::ostream& err) {
  if (!flags.positional.empty() || !flags.Has('P') || !flags.Has('h')) {
    return Usage("hpvmmigrate", "needs -P GUEST and -h HOST", out, err);
  }
  const bool check = flags.Has('s');
  if (check && (flags.Has('c') || flags.Has('r'))) {
    return Usage("hpvmmigrate", "-s checks at the guest's current size; -c/-r move only", out, err);
  }
  std::vector<std::string> words = {flags.Value('P'), "-n", flags.Value('h')};
  if (flags.Has('c')) words.insert(words.end(), {"--vcpus", flags.Value('c')});
  if (flags.Has('r')) words.insert(words.end(), {"--memory", flags.Value('r')});
  std::ostringstream captured_out;
  std::ostringstream captured_err;
  const int status = check ? RunCheck(AliasOptions(), words, captured_out, captured_err)
                           : RunMove(AliasOptions(), words, captured_out, captured_err);
  if (status == kExitOk) {
    out << (check ? "hpvmmigrate: Guest " + flags.Value('P') + " may be migrated to " +
                        flags.Value('h') + "."
                  : std::string("hpvmmigrate: Guest migrated successfully."))
        << "\n";
    return status;
  }
  std::istringstream lines(captured_out.str() + captured_err.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("pkgctl: ", 0) == 0) line = line.substr(8);
    line = line.substr(std::min(line.size(), line.find_first_not_of(' ')));
    if (!line.empty()) err << "hpvmmigrate: " << line << "\n";
  }
  return status;
}

int Cmgetconf(const Flags& flags, std::ostream& out, std::ostream& err) {
  if (!flags.positional.empty()) {
    return Usage("cmgetconf", "unexpected " + flags.positional[0], out, err);
  }
  if (!flags.Has('C')) return RunConfigShow(AliasOptions(), {}, out, err);
  std::ostringstream shown;
  const int status = RunConfigShow(AliasOptions(), {}, shown, err);
  if (status != kExitOk) return status;
  std::ofstream file(flags.Value('C'));
  file << shown.str();
  if (!file) {
    err << "cmgetconf: cannot write " << flags.Value('C') << "\n";
    return kExitRefused;
  }
  return kExitOk;
}

int Dispatch(const std::string& name, const Flags& flags, std::ostream& out, std::ostream& err);

}  // namespace

bool IsAlias(const std::string& name) { return Usages().contains(name); }

int RunAlias(const std::string& name, const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  // Which flags each alias takes: {with a value, without}.
  static const std::map<std::string, std::pair<std::string, std::string>> kFlags = {
      {"cmviewcl", {"pnf", "v"}}, {"cmrunpkg", {"n", ""}},  {"cmhaltpkg", {"", ""}},
      {"cmmodpkg", {"nm", "ed"}}, {"cmrunnode", {"", ""}},  {"cmhaltnode", {"", ""}},
      {"cmruncl", {"n", ""}},     {"cmhaltcl", {"", "f"}},  {"cmcheckconf", {"C", ""}},
      {"cmapplyconf", {"C", ""}}, {"cmgetconf", {"C", ""}}, {"hpvmmigrate", {"Phcr", "s"}},
      {"hpvmstatus", {"P", ""}}};
  const auto& [with_value, plain] = kFlags.at(name);
  // -h is help everywhere except hpvmmigrate, where it names the host.
  const std::string help_flag = name == "hpvmmigrate" ? "" : "h";
  Flags flags = Parse(args, with_value, plain + help_flag);
  if (flags.Has('h') && name != "hpvmmigrate") flags.help = true;
  if (flags.help) return Usage(name, "", out, err);
  if (!flags.error.empty()) return Usage(name, flags.error, out, err);
  return Dispatch(name, flags, out, err);
}

namespace {

// One PKG (or NODE), or a usage error.
bool One(const Flags& flags, bool optional) {
  return flags.positional.size() == 1 || (optional && flags.positional.empty());
}

int Dispatch(const std::string& name, const Flags& flags, std::ostream& out, std::ostream& err) {
  const GlobalOptions options = AliasOptions();
  const std::string first = flags.positional.empty() ? "" : flags.positional[0];
  if (name == "cmviewcl") return Cmviewcl(flags, out, err);
  if (name == "hpvmmigrate") return Hpvmmigrate(flags, out, err);
  if (name == "cmgetconf") return Cmgetconf(flags, out, err);
  if (name == "hpvmstatus") {
    if (!flags.positional.empty()) return Usage(name, "unexpected " + first, out, err);
    std::vector<std::string> words = {"--format", "hpvmstatus"};
    if (flags.Has('P')) words.push_back(flags.Value('P'));
    return RunView(options, words, out, err);
  }
  if (name == "cmcheckconf" || name == "cmapplyconf") {
    if (!flags.positional.empty()) return Usage(name, "unexpected " + first, out, err);
    std::vector<std::string> words;
    if (flags.Has('C')) words.push_back(flags.Value('C'));
    return name == "cmapplyconf" ? RunConfigApply(options, words, out, err)
                                 : RunConfigCheck(options, words, out, err);
  }
  if (name == "cmruncl" || name == "cmhaltcl") {
    if (!flags.positional.empty()) return Usage(name, "unexpected " + first, out, err);
    std::vector<std::string> words = {name == "cmruncl" ? "run" : "halt"};
    if (flags.Has('f')) words.push_back("--force");
    if (flags.Has('n')) {
      for (const std::string& node : flags.values.at('n')) words.insert(words.end(), {"-n", node});
    }
    return RunCluster(options, words, out, err);
  }
  if (name == "cmrunnode" || name == "cmhaltnode") {
    if (!One(flags, true)) return Usage(name, "expected at most one NODE", out, err);
    std::vector<std::string> words = {name == "cmrunnode" ? "run" : "halt"};
    if (!first.empty()) words.push_back(first);
    return RunNodeCommand(options, words, true, out, err);
  }
  if (!One(flags, false)) return Usage(name, "expected one PKG", out, err);
  std::vector<std::string> words = {first};
  if (flags.Has('n')) words.insert(words.end(), {"-n", flags.Value('n')});
  if (name == "cmrunpkg") {
    words.push_back("--keep-switching");
    return RunRun(options, words, out, err);
  }
  if (name == "cmhaltpkg") return RunHalt(options, words, out, err);
  // cmmodpkg. -m on|off: package maintenance (issue 10).
  if (flags.Has('m')) {
    if (flags.Has('e') || flags.Has('d') || flags.Has('n')) {
      return Usage(name, "-m goes without -e, -d and -n", out, err);
    }
    return RunMaintenance(options, false, {first, flags.Value('m')}, out, err);
  }
  if (flags.Has('e') == flags.Has('d')) return Usage(name, "needs one of -e or -d", out, err);
  return flags.Has('e') ? RunEnable(options, words, out, err)
                        : RunDisable(options, words, out, err);
}

}  // namespace

}  // namespace cmcl::pkgctl
