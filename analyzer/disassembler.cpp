#include "disassembler.h"

#include <capstone/capstone.h>

#include <cstdio>

namespace dprof::analyzer {

Disassembler::Disassembler() {
  csh handle = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK) {
    handle_ = handle;
    ready_ = true;
  }
}

Disassembler::~Disassembler() {
  if (ready_) {
    csh handle = handle_;
    cs_close(&handle);
  }
}

std::string Disassembler::decode(const std::vector<uint8_t>& code, uint64_t address) const {
  if (ready_ && !code.empty()) {
    cs_insn* instruction = nullptr;
    size_t count = cs_disasm(handle_, code.data(), code.size(), address, 1, &instruction);
    if (count > 0) {
      std::string text = instruction[0].mnemonic;
      if (instruction[0].op_str[0] != '\0') text += std::string(" ") + instruction[0].op_str;
      cs_free(instruction, count);
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
