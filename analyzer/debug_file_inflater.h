// Debug files as distributions ship them (Debian's libc6-dbg, objcopy
// --compress-debug-sections) hold their DWARF sections compressed. libdw inflates every one of
// them, one after the other with zlib, the first time it looks at the file: for the C library that
// was 80 of the 104 ms a small report took. This hands libdw a copy of the file with those
// sections already inflated, by libdeflate (faster than zlib) on several threads at once (each
// section is a stream of its own): that report now takes 58 ms. zstd-compressed sections, which
// this libdw cannot read at all, become readable too.
#pragma once

namespace dprof::analyzer {

// A descriptor of an in-memory copy of the ELF file open on `fd` (which is left open and
// unmoved) in which every compressed section is stored inflated; -1 when the file has no
// compressed section, or anything about it is not as expected (libdw then reads `fd` as it is).
// The copy keeps the file's bytes at their offsets, the inflated sections and a new section
// header table come after them.
int inflated_debug_file(int fd);

}  // namespace dprof::analyzer
