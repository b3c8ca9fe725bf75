// Decodes the instruction bytes an access sample carries (Capstone), so that an access site reads
// as "mov eax, dword ptr [rdi + 8]" rather than as bytes. x86-64 only: the runtime records the
// bytes on the machine that ran the program, which is where it runs today.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dprof::analyzer {

class Disassembler {
 public:
  Disassembler();
  ~Disassembler();
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;

  // "mov eax, dword ptr [rdi + 8]", or "(bytes 8b 47 ...)" when they do not decode.
  std::string decode(const std::vector<uint8_t>& code, uint64_t address) const;

 private:
  size_t handle_ = 0;
  bool ready_ = false;
};

}  // namespace dprof::analyzer
