#include "elf_headers.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace dprof::analyzer {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "reads ELF headers in host order");

bool read_at(int fd, void* buffer, size_t length, uint64_t offset) {
  auto* bytes = static_cast<uint8_t*>(buffer);
  while (length > 0) {
    ssize_t got = pread(fd, bytes, length, static_cast<off_t>(offset));
    if (got <= 0) return false;
    bytes += got;
    length -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

std::optional<ElfHeaders> read_elf_headers(int fd) {
  struct stat status;
  if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) return std::nullopt;
  ElfHeaders elf;
  elf.file_size = static_cast<uint64_t>(status.st_size);
  Elf64_Ehdr& header = elf.header;
  if (elf.file_size < sizeof header || !read_at(fd, &header, sizeof header, 0)) {
    return std::nullopt;
  }
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != ELFDATA2LSB || header.e_shentsize != sizeof(Elf64_Shdr) ||
      header.e_shnum == 0 || header.e_shoff > elf.file_size ||
      uint64_t{header.e_shnum} * sizeof(Elf64_Shdr) > elf.file_size - header.e_shoff) {
    return std::nullopt;
  }
  elf.sections.resize(header.e_shnum);
  if (!read_at(fd, elf.sections.data(), elf.sections.size() * sizeof(Elf64_Shdr), header.e_shoff)) {
    return std::nullopt;
  }
  return elf;
}

}  // namespace dprof::analyzer
