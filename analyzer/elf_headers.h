// The headers of a 64-bit little-endian ELF file (the only kind the analyzer reads debug files
// of): the file header and the section header table, read with pread (the descriptor's position
// is left alone) and checked against the file's size before anything trusts them.
#pragma once

#include <elf.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace dprof::analyzer {

struct ElfHeaders {
  uint64_t file_size = 0;
  Elf64_Ehdr header{};
  std::vector<Elf64_Shdr> sections;
};

// nullopt when `fd` is not a regular file holding such headers whole.
std::optional<ElfHeaders> read_elf_headers(int fd);

// Reads exactly `length` bytes at `offset`; false when the file ends first or cannot be read.
bool read_at(int fd, void* buffer, size_t length, uint64_t offset);

}  // namespace dprof::analyzer
