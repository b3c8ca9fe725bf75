// Signals and crashes look exactly as they do without damon-prof: the program's own handlers,
// alternate stacks and masks work while read sampling protects pages all around them; fatal
// signals end the program (and the launcher) the same way, with the program's own core dump.
#include <elf.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "damon_prof/trace_format.h"
#include "integration_support.h"

using namespace dprof::testing;

namespace {

// Aggressive monitoring: many pages protected at any moment.
std::vector<std::string> under_damon_prof(const std::string& trace,
                                          std::vector<std::string> program) {
  std::vector<std::string> command = {
      damon_prof_binary(), "-q",   "-o",         trace, "--sampling", "1ms",
      "--aggregation",     "10ms", "--overhead", "100%"};
  command.insert(command.end(), program.begin(), program.end());
  return command;
}

struct CoreFacts {
  int signal = 0;  // from NT_SIGINFO
  int code = 0;    // si_code: > 0 for a fault the kernel raised, SI_TKILL for raise()
};

// Reads the signal and its si_code from an ELF core file's NT_SIGINFO note.
std::optional<CoreFacts> read_core(const std::string& path) {
  if (std::filesystem::file_size(path) > (256u << 20)) return std::nullopt;
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof(Elf64_Ehdr)) return std::nullopt;
  Elf64_Ehdr header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_type != ET_CORE) {
    return std::nullopt;
  }
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    size_t at = header.e_phoff + i * sizeof(Elf64_Phdr);
    if (at + sizeof(segment) > bytes.size()) return std::nullopt;
    std::memcpy(&segment, bytes.data() + at, sizeof(segment));
    if (segment.p_type != PT_NOTE) continue;
    size_t offset = segment.p_offset;
    size_t end = std::min<size_t>(bytes.size(), segment.p_offset + segment.p_filesz);
    while (offset + sizeof(Elf64_Nhdr) <= end) {
      Elf64_Nhdr note;
      std::memcpy(&note, bytes.data() + offset, sizeof(note));
      size_t name_at = offset + sizeof(note);
      size_t desc_at = name_at + ((note.n_namesz + 3) & ~3u);
      if (note.n_type == NT_SIGINFO && desc_at + 12 <= end) {
        CoreFacts facts;
        std::memcpy(&facts.signal, bytes.data() + desc_at, sizeof(int));
        std::memcpy(&facts.code, bytes.data() + desc_at + 8, sizeof(int));
        return facts;
      }
      offset = desc_at + ((note.n_descsz + 3) & ~3u);
    }
  }
  return std::nullopt;
}

// Core files go to the current directory as "core" or "core.<something>"; anything else (a pipe
// to a crash collector, an absolute directory) is not this test's to look at.
bool cores_land_in_the_working_directory() {
  std::ifstream pattern("/proc/sys/kernel/core_pattern");
  std::string text;
  std::getline(pattern, text);
  return !text.empty() && text[0] != '|' && text.find('/') == std::string::npos &&
         text.rfind("core", 0) == 0;
}

class CoreLimit {
 public:
  CoreLimit() {
    getrlimit(RLIMIT_CORE, &saved_);
    rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &unlimited) != 0) {
      unlimited.rlim_cur = saved_.rlim_max;
      setrlimit(RLIMIT_CORE, &unlimited);
    }
    allow_core_dumps(true);
  }
  ~CoreLimit() {
    allow_core_dumps(false);
    setrlimit(RLIMIT_CORE, &saved_);
  }
  CoreLimit(const CoreLimit&) = delete;
  CoreLimit& operator=(const CoreLimit&) = delete;

 private:
  rlimit saved_{};
};

std::vector<std::string> core_files(const TempDir& directory) {
  std::vector<std::string> cores;
  for (const std::string& file : directory.files_ending_with("")) {
    if (file.substr(file.rfind('/') + 1).rfind("core", 0) == 0) cores.push_back(file);
  }
  return cores;
}

}  // namespace

TEST(Signals, HandlersAlternateStacksAndMasksBehaveAsWithout) {
  for (const char* mode : {"altstack", "masks", "faults"}) {
    CommandResult native = run_command({test_program("signals"), mode});
    TempDir directory;
    std::string trace = directory.file("t.dprof");
    CommandResult traced = run_command(under_damon_prof(trace, {test_program("signals"), mode}));
    EXPECT_EQ(traced.out, native.out) << mode << "\n" << traced.err;
    EXPECT_EQ(traced.exit_code, native.exit_code) << mode;
    EXPECT_EQ(traced.signal, native.signal) << mode;
    EXPECT_TRUE(dprof::testing::file_exists(trace)) << mode;
  }
  // The transcripts say what was expected, not only that they agree.
  EXPECT_EQ(run_command({test_program("signals"), "altstack"}).exit_code, 43);
  EXPECT_NE(run_command({test_program("signals"), "faults"})
                .out.find("recovered from 200 of 200 faults at the right address"),
            std::string::npos);
}

TEST(Signals, BusErrorEndsTheProgramAsWithout) {
  TempDir directory;
  std::string trace = directory.file("t.dprof");
  CommandResult native = run_command({test_program("signals"), "bus"});
  CommandResult traced = run_command(under_damon_prof(trace, {test_program("signals"), "bus"}));
  EXPECT_EQ(native.signal, SIGBUS);
  EXPECT_EQ(traced.signal, SIGBUS) << traced.err;
  EXPECT_EQ(traced.out, native.out);
  auto analysis = analyze_symbolized(trace);
  ASSERT_TRUE(analysis.end.has_value());
  EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_SIGNAL));
  EXPECT_EQ(analysis.end->code, SIGBUS);
}

// The core file is the program's own, written by the kernel for the original fault (si_code of a
// real fault, not a signal sent again), exactly one, about the size it is without damon-prof.
TEST(Signals, CrashLeavesTheProgramsOwnCoreDump) {
  if (!cores_land_in_the_working_directory()) {
    GTEST_SKIP() << "core dumps do not go to the working directory here (core_pattern)";
  }
  CoreLimit unlimited;
  for (auto [mode, signal_number] : {std::pair{"segv", SIGSEGV}, std::pair{"abort", SIGABRT}}) {
    TempDir native_directory;
    CommandResult native =
        run_command({test_program("crasher"), mode}, {}, native_directory.path());
    auto native_cores = core_files(native_directory);
    if (native_cores.empty()) GTEST_SKIP() << "no core dumps here (RLIMIT_CORE?)";
    auto native_core = read_core(native_cores.front());
    ASSERT_TRUE(native_core.has_value()) << native_cores.front();

    TempDir directory;
    // A launcher built with AddressSanitizer (build-sanitize) would otherwise set RLIMIT_CORE to
    // 0 for itself, and so for the program it starts.
    CommandResult traced = run_command(
        {damon_prof_binary(), "-q", "-o", directory.file("t.dprof"), test_program("crasher"), mode},
        {"ASAN_OPTIONS=disable_coredump=0"}, directory.path());
    EXPECT_EQ(traced.signal, signal_number) << traced.err;
    EXPECT_EQ(native.signal, signal_number);
    auto cores = core_files(directory);
    ASSERT_EQ(cores.size(), 1u) << mode;  // the program's; the launcher dumps none of its own
    auto core = read_core(cores.front());
    ASSERT_TRUE(core.has_value()) << cores.front();
    EXPECT_EQ(core->signal, native_core->signal) << mode;
    EXPECT_EQ(core->code, native_core->code) << mode;
    // The runtime's own memory (gigabytes of reservations, its threads' stacks) is left out of
    // the dump: what remains beyond the program's is the runtime's libraries.
    EXPECT_LT(std::filesystem::file_size(cores.front()),
              std::filesystem::file_size(native_cores.front()) + (8u << 20))
        << mode;
  }
}
