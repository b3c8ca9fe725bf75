// Build-ids, which tie a module to its debug file.
#pragma once

#include <string>

namespace dprof::analyzer {

// Lower-case hexadecimal of a build-id's raw bytes.
std::string build_id_hex(const std::string& build_id);

// /usr/lib/debug/.build-id/xx/yyyy.debug for a build-id (raw bytes), where Debian's -dbg
// packages put debug files and libdwfl looks first; empty when there is no such file.
std::string debug_file_for_build_id(const std::string& build_id);

// The build-id (raw bytes) in the GNU build-id note of the 64-bit little-endian ELF file open on
// `fd`, read with pread (the descriptor's offset is left alone); empty when it has none or is not
// such a file.
std::string build_id_of_elf_file(int fd);

}  // namespace dprof::analyzer
