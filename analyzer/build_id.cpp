#include "build_id.h"

#include <elf.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "elf_headers.h"

namespace dprof::analyzer {

std::string build_id_hex(const std::string& build_id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : build_id) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

std::string debug_file_for_build_id(const std::string& build_id) {
  if (build_id.size() < 2) return {};
  std::string path = "/usr/lib/debug/.build-id/" + build_id_hex(build_id.substr(0, 1)) + "/" +
                     build_id_hex(build_id.substr(1)) + ".debug";
  struct stat status;
  if (stat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode)) return {};
  return path;
}

namespace {

uint64_t align4(uint64_t value) {
  return (value + 3) & ~uint64_t{3};
}

// The build-id among the notes of one note section's bytes.
std::string build_id_in_notes(const std::vector<uint8_t>& notes) {
  uint64_t at = 0;
  while (notes.size() - at >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr note;
    std::memcpy(&note, notes.data() + at, sizeof note);
    uint64_t name_at = at + sizeof note;
    uint64_t description_at = name_at + align4(note.n_namesz);
    if (description_at > notes.size() || note.n_descsz > notes.size() - description_at) break;
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == sizeof ELF_NOTE_GNU &&
        std::memcmp(notes.data() + name_at, ELF_NOTE_GNU, sizeof ELF_NOTE_GNU) == 0) {
      return std::string(reinterpret_cast<const char*>(notes.data() + description_at),
                         note.n_descsz);
    }
    at = description_at + align4(note.n_descsz);
  }
  return {};
}

}  // namespace

std::string build_id_of_elf_file(int fd) {
  // Notes are small; a section claiming more is not a build-id note.
  constexpr uint64_t kLargestNoteSection = 64 << 10;
  std::optional<ElfHeaders> elf = read_elf_headers(fd);
  if (!elf) return {};
  uint64_t file_size = elf->file_size;
  const std::vector<Elf64_Shdr>& sections = elf->sections;
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_type != SHT_NOTE || (section.sh_flags & SHF_COMPRESSED) != 0 ||
        section.sh_size > kLargestNoteSection || section.sh_offset > file_size ||
        section.sh_size > file_size - section.sh_offset) {
      continue;
    }
    std::vector<uint8_t> notes(section.sh_size);
    if (!read_at(fd, notes.data(), notes.size(), section.sh_offset)) continue;
    std::string id = build_id_in_notes(notes);
    if (!id.empty()) return id;
  }
  return {};
}

}  // namespace dprof::analyzer
