#include "disassembler.h"

#include <capstone/capstone.h>
#include <dlfcn.h>

#include <cstdio>

namespace dprof::analyzer {
namespace {

#define DPROF_STRINGIFY_VALUE(value) #value
#define DPROF_STRINGIFY(value) DPROF_STRINGIFY_VALUE(value)

// Capstone is loaded when an access site is first decoded, not with the analyzer: its 77,000
// relocations took 7 ms of every analyzer run's start (a sampled trace's report: 44 ms), and only
// the access-site view needs it. The soname is that of the major version whose header this was
// compiled against (cs_insn's layout changes between major versions).
struct CapstoneLibrary {
  decltype(&cs_open) open = nullptr;
  decltype(&cs_close) close = nullptr;
  decltype(&cs_disasm) disasm = nullptr;
  decltype(&cs_free) free = nullptr;
  bool loaded = false;
};

template <typename Function>
void bind(void* library, const char* name, Function* function) {
  *function = reinterpret_cast<Function>(dlsym(library, name));
}

const CapstoneLibrary& capstone() {
  static const CapstoneLibrary library = [] {
    CapstoneLibrary api;
    // Never closed: the process's whole life is short, and a handle may outlive any one caller.
    void* handle = dlopen("libcapstone.so." DPROF_STRINGIFY(CS_API_MAJOR), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return api;
    bind(handle, "cs_open", &api.open);
    bind(handle, "cs_close", &api.close);
    bind(handle, "cs_disasm", &api.disasm);
    bind(handle, "cs_free", &api.free);
    api.loaded =
        api.open != nullptr && api.close != nullptr && api.disasm != nullptr && api.free != nullptr;
    return api;
  }();
  return library;
}

}  // namespace

Disassembler::Disassembler() {
  const CapstoneLibrary& library = capstone();
  csh handle = 0;
  if (library.loaded && library.open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK) {
    handle_ = handle;
    ready_ = true;
  }
}

Disassembler::~Disassembler() {
  if (ready_) {
    csh handle = handle_;
    capstone().close(&handle);
  }
}

std::string Disassembler::decode(const std::vector<uint8_t>& code, uint64_t address) const {
  if (ready_ && !code.empty()) {
    cs_insn* instruction = nullptr;
    size_t count = capstone().disasm(handle_, code.data(), code.size(), address, 1, &instruction);
    if (count > 0) {
      std::string text = instruction[0].mnemonic;
      if (instruction[0].op_str[0] != '\0') text += std::string(" ") + instruction[0].op_str;
      capstone().free(instruction, count);
      return text;
    }
  }
  std::string bytes = "(bytes";
  for (uint8_t byte : code) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), " %02x", byte);
    bytes += hex;
  }
  return bytes + ")";
}

}  // namespace dprof::analyzer
