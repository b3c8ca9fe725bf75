#include "c_library_code.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

namespace dprof::c_library_code {
namespace {

struct Range {
  uintptr_t start;
  uintptr_t end;
};
constexpr int kMaxRanges = 8;
Range g_ranges[kMaxRanges];
int g_count = 0;

bool is_c_library(const char* name, uintptr_t base, uintptr_t libc_base) {
  if (base == libc_base) return true;
  const char* slash = strrchr(name, '/');
  const char* file = slash == nullptr ? name : slash + 1;
  return strncmp(file, "ld-linux", 8) == 0 || strncmp(file, "ld64.so", 7) == 0;
}

int collect(struct dl_phdr_info* info, size_t, void* context) {
  uintptr_t libc_base = *static_cast<uintptr_t*>(context);
  const char* name = info->dlpi_name == nullptr ? "" : info->dlpi_name;
  if (!is_c_library(name, info->dlpi_addr, libc_base)) return 0;
  for (int i = 0; i < info->dlpi_phnum && g_count < kMaxRanges; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || (header.p_flags & PF_X) == 0) continue;
    uintptr_t start = info->dlpi_addr + header.p_vaddr;
    g_ranges[g_count++] = {start, start + header.p_memsz};
  }
  return 0;
}

}  // namespace

void locate() {
  if (g_count != 0) return;
  Dl_info where;
  uintptr_t libc_base = 0;
  // fopen is the C library's, whatever its file is called.
  if (dladdr(reinterpret_cast<void*>(&fopen), &where) != 0) {
    libc_base = reinterpret_cast<uintptr_t>(where.dli_fbase);
  }
  // dlpi_addr is the load bias; dli_fbase the lowest mapped address. For shared objects
  // linked at 0 they are the same.
  dl_iterate_phdr(collect, &libc_base);
}

bool contains(const void* pc) {
  auto address = reinterpret_cast<uintptr_t>(pc);
  for (int i = 0; i < g_count; ++i) {
    if (address >= g_ranges[i].start && address < g_ranges[i].end) return true;
  }
  return false;
}

}  // namespace dprof::c_library_code
