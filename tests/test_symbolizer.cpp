// Symbolizes return addresses of this very test binary, which is built with debug info.
#include <gtest/gtest.h>
#include <link.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "analysis.h"
#include "symbolizer.h"

using dprof::analyzer::ModuleInfo;
using dprof::analyzer::Segment;
using dprof::analyzer::Symbolizer;

namespace {

__attribute__((noinline)) void* return_address_here() {
  return __builtin_extract_return_addr(__builtin_return_address(0));
}

int expected_line = 0;

__attribute__((noinline)) void* caller_of_known_line() {
  expected_line = __LINE__ + 1;
  void* address = return_address_here();
  asm volatile("" ::: "memory");  // keep the call from being a tail call
  return address;
}

int collect_main_program(dl_phdr_info* info, size_t, void* data) {
  auto* module = static_cast<ModuleInfo*>(data);
  char path[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  path[length > 0 ? length : 0] = '\0';
  module->id = 1;
  module->path = path;
  module->load_bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD) continue;
    module->segments.push_back(Segment{info->dlpi_addr + header.p_vaddr,
                                       info->dlpi_addr + header.p_vaddr + header.p_memsz,
                                       (header.p_flags & PF_X) != 0});
  }
  return 1;  // the main program comes first
}

ModuleInfo this_program() {
  ModuleInfo module;
  dl_iterate_phdr(collect_main_program, &module);
  return module;
}

}  // namespace

TEST(Symbolizer, ResolvesFunctionFileAndLine) {
  std::vector<ModuleInfo> modules{this_program()};
  Symbolizer symbolizer(&modules);
  auto address = reinterpret_cast<uint64_t>(caller_of_known_line());
  const auto& resolved = symbolizer.resolve(address, 1);
  ASSERT_FALSE(resolved.frames.empty());
  const auto& frame = resolved.frames.back();
  EXPECT_NE(frame.function.find("caller_of_known_line"), std::string::npos) << frame.function;
  EXPECT_NE(frame.file.find("test_symbolizer.cpp"), std::string::npos) << frame.file;
  EXPECT_EQ(frame.line, static_cast<uint32_t>(expected_line));
  EXPECT_EQ(resolved.module, modules[0].path);
  EXPECT_TRUE(symbolizer.warnings().empty());
}

TEST(Symbolizer, BuildIdMismatchFallsBackToModuleOffset) {
  std::vector<ModuleInfo> modules{this_program()};
  modules[0].build_id = std::string("\x01\x02\x03\x04", 4);
  Symbolizer symbolizer(&modules);
  auto address = reinterpret_cast<uint64_t>(caller_of_known_line());
  const auto& resolved = symbolizer.resolve(address, 1);
  EXPECT_TRUE(resolved.frames.back().function.empty());
  EXPECT_EQ(resolved.module_offset, address - modules[0].load_bias);
  ASSERT_EQ(symbolizer.warnings().size(), 1u);
  EXPECT_NE(symbolizer.warnings()[0].find("does not match"), std::string::npos);
}

TEST(Symbolizer, MissingFileAndUnknownAddressesDoNotFail) {
  std::vector<ModuleInfo> modules{this_program()};
  modules[0].path = "/nonexistent/library.so";
  Symbolizer symbolizer(&modules);
  auto address = reinterpret_cast<uint64_t>(caller_of_known_line());
  EXPECT_EQ(symbolizer.resolve(address, 1).module, "/nonexistent/library.so");
  EXPECT_EQ(symbolizer.warnings().size(), 1u);
  const auto& nowhere = symbolizer.resolve(0x10, 1);
  EXPECT_TRUE(nowhere.module.empty());
  EXPECT_EQ(nowhere.frames.size(), 1u);
}

TEST(Symbolizer, PicksTheModuleLoadedAtTheTimeAStackWasWritten) {
  ModuleInfo first;
  first.id = 1;
  first.path = "/a.so";
  first.segments = {Segment{0x1000, 0x2000, true}};
  first.load_order = 1;
  ModuleInfo second = first;
  second.id = 2;
  second.path = "/b.so";
  second.load_order = 10;
  std::vector<ModuleInfo> modules{first, second};
  Symbolizer symbolizer(&modules);
  EXPECT_EQ(symbolizer.module_for(0x1500, 5)->path, "/a.so");
  EXPECT_EQ(symbolizer.module_for(0x1500, 20)->path, "/b.so");
  EXPECT_EQ(symbolizer.module_for(0x1500, 0)->path, "/a.so");  // defined before any load
  EXPECT_EQ(symbolizer.module_for(0x3000, 20), nullptr);
}

TEST(AllocationMachinery, NamesTheFirstFrameThatIsNotAllocating) {
  using dprof::analyzer::is_allocation_machinery;
  EXPECT_TRUE(is_allocation_machinery("malloc"));
  EXPECT_TRUE(is_allocation_machinery("operator new(unsigned long)"));
  EXPECT_TRUE(is_allocation_machinery("std::vector<int, std::allocator<int> >::_M_realloc_insert"));
  EXPECT_TRUE(is_allocation_machinery("__gnu_cxx::new_allocator<char>::allocate"));
  EXPECT_TRUE(is_allocation_machinery("__cxa_allocate_exception"));
  EXPECT_FALSE(is_allocation_machinery("freeze_all"));
  EXPECT_FALSE(is_allocation_machinery("mallocator_user"));
  EXPECT_FALSE(is_allocation_machinery("build_lookup_table"));
  EXPECT_FALSE(is_allocation_machinery("strdup"));
}
