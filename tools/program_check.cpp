#include "program_check.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#ifndef DAMON_PROF_RUNTIME_RELATIVE
#define DAMON_PROF_RUNTIME_RELATIVE "../lib/damon-prof/libdamon_prof.so"
#endif
#ifndef DAMON_PROF_ANALYZER_RELATIVE
#define DAMON_PROF_ANALYZER_RELATIVE "../lib/damon-prof/damon-prof-analyze"
#endif

namespace dprof::tools {
namespace {

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= directories.size()) {
    size_t end = directories.find(':', start);
    if (end == std::string::npos) end = directories.size();
    std::string directory = directories.substr(start, end - start);
    if (directory.empty()) directory = ".";
    std::string candidate = directory + "/" + name;
    struct stat status;
    if (stat(candidate.c_str(), &status) == 0 && S_ISREG(status.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

// "" when the ELF file can take a preload, else why not.
std::string check_elf(const std::string& path, const std::vector<char>& head) {
  if (head.size() < sizeof(Elf64_Ehdr)) return "is not a valid ELF file";
  if (head[EI_CLASS] != ELFCLASS64)
    return "is a 32-bit program; damon-prof profiles 64-bit programs";
  Elf64_Ehdr header;
  std::memcpy(&header, head.data(), sizeof(header));
  if (header.e_machine != EM_X86_64) return "is not an x86-64 program";
  std::ifstream file(path, std::ios::binary);
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program_header;
    file.seekg(static_cast<std::streamoff>(header.e_phoff +
                                           static_cast<uint64_t>(i) * header.e_phentsize));
    if (!file.read(reinterpret_cast<char*>(&program_header), sizeof(program_header))) break;
    if (program_header.p_type == PT_INTERP) return {};
  }
  return "is statically linked, so the damon-prof runtime cannot be preloaded into it "
         "(rebuild it dynamically linked)";
}

}  // namespace

ProgramCheck check_program(const std::string& name) {
  ProgramCheck check;
  check.path = name.find('/') != std::string::npos ? name : find_in_path(name);
  if (check.path.empty()) {
    check.error = name + ": no such program (not found in PATH)";
    return check;
  }
  struct stat status;
  if (stat(check.path.c_str(), &status) != 0) {
    check.error = name + ": " + std::strerror(errno);
    return check;
  }
  if (!S_ISREG(status.st_mode)) {
    check.error = name + ": not a regular file";
    return check;
  }
  if (access(check.path.c_str(), X_OK) != 0) {
    check.error = name + ": not executable (" + std::strerror(errno) + ")";
    return check;
  }
  if ((status.st_mode & (S_ISUID | S_ISGID)) != 0) {
    check.error = name +
                  ": is setuid/setgid; the dynamic linker ignores preloads for such "
                  "programs, so it cannot be profiled";
    return check;
  }
  std::ifstream file(check.path, std::ios::binary);
  std::vector<char> head(sizeof(Elf64_Ehdr));
  file.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(file.gcount()));
  if (head.size() >= 4 && std::memcmp(head.data(), ELFMAG, SELFMAG) == 0) {
    std::string problem = check_elf(check.path, head);
    if (!problem.empty()) check.error = name + ": " + problem;
  } else if (head.size() < 2 || head[0] != '#' || head[1] != '!') {
    check.error = name + ": not an ELF program or a #! script";
  }
  return check;
}

namespace {

// `relative` to this executable's directory, or the path in the environment variable `override`.
std::string locate_beside_executable(const char* override, const char* relative, const char* what,
                                     std::string* error) {
  if (const char* forced = std::getenv(override)) {
    if (access(forced, R_OK) == 0) return forced;
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on a chain of string operator+.
    *error = override;
    error->append("=").append(forced).append(": cannot read the ").append(what);
    return {};
  }
  std::vector<char> self(4096);
  ssize_t length = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (length <= 0) {
    *error = "cannot find this executable's own path to locate the ";
    error->append(what);
    return {};
  }
  std::string executable(self.data(), static_cast<size_t>(length));
  std::string directory = executable.substr(0, executable.rfind('/'));
  std::string candidate = directory + "/" + relative;
  char resolved[4096];
  if (realpath(candidate.c_str(), resolved) != nullptr && access(resolved, R_OK) == 0) {
    return resolved;
  }
  *error = "cannot find the ";
  error->append(what).append(" at ").append(candidate).append(" (set ").append(override);
  error->append(" to its path)");
  return {};
}

}  // namespace

std::string locate_runtime(std::string* error) {
  return locate_beside_executable("DAMON_PROF_RUNTIME", DAMON_PROF_RUNTIME_RELATIVE,
                                  "runtime library", error);
}

std::string locate_analyzer(std::string* error) {
  return locate_beside_executable("DAMON_PROF_ANALYZER", DAMON_PROF_ANALYZER_RELATIVE, "analyzer",
                                  error);
}

}  // namespace dprof::tools
