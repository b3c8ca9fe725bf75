#include "symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "build_id.h"
#include "debug_file_cache.h"
#include "debug_file_prefetch.h"

namespace dprof::analyzer {

std::string demangle(const std::string& name) {
  if (name.rfind("_Z", 0) != 0) return name;
  int status = 0;
  char* demangled = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return name;
  std::string result(demangled);
  std::free(demangled);
  return result;
}

namespace {

bool exists(const std::string& path) {
  struct stat status;
  return stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

// /usr/lib/debug/.build-id/xx/yyyy.debug, where dwfl_build_id_find_debuginfo looks too; but that
// one also keeps its own handle on the file inside the module, which libdw then reads instead of
// the descriptor the callback returns (the inflated copy). libdwfl checks the file's build-id
// against the module's when it opens it.
int open_debug_file_by_build_id(Dwfl_Module* module, char** debuginfo_file_name) {
  const unsigned char* bits = nullptr;
  GElf_Addr note_address = 0;
  int length = dwfl_module_build_id(module, &bits, &note_address);
  if (length < 2 || bits == nullptr) return -1;
  std::string id(reinterpret_cast<const char*>(bits), static_cast<size_t>(length));
  std::string path = debug_file_for_build_id(id);
  if (path.empty()) return -1;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  *debuginfo_file_name = strdup(path.c_str());
  return fd;
}

// The modules are local files, and so is their debug information: by build-id under
// /usr/lib/debug/.build-id, or by the module's .gnu_debuglink name beside it, in its .debug
// directory, or under /usr/lib/debug. dwfl_standard_find_debuginfo searches the same places and
// then asks debuginfod servers, loading libdebuginfod, libcurl and its TLS stack to learn that
// none is configured (9 ms of a 79 ms report), for every module without local debug information.
// So it is called only when a debuglink file exists, to open and check it.
int find_local_debuginfo_file(Dwfl_Module* module, void** userdata, const char* module_name,
                              GElf_Addr base, const char* file_name, const char* debuglink_file,
                              GElf_Word debuglink_crc, char** debuginfo_file_name) {
  int fd = open_debug_file_by_build_id(module, debuginfo_file_name);
  if (fd >= 0 || debuglink_file == nullptr || file_name == nullptr) return fd;
  std::string path = file_name;
  std::string directory = path.substr(0, path.rfind('/') + 1);
  for (const std::string& candidate :
       {directory + debuglink_file, directory + ".debug/" + debuglink_file,
        "/usr/lib/debug" + directory + debuglink_file}) {
    if (exists(candidate)) {
      return dwfl_standard_find_debuginfo(module, userdata, module_name, base, file_name,
                                          debuglink_file, debuglink_crc, debuginfo_file_name);
    }
  }
  return -1;
}

// The debug file found, with its compressed sections inflated in advance (debug_file_inflater.h),
// or the copy inflated by an earlier report (debug_file_cache.h).
int find_local_debuginfo(Dwfl_Module* module, void** userdata, const char* module_name,
                         GElf_Addr base, const char* file_name, const char* debuglink_file,
                         GElf_Word debuglink_crc, char** debuginfo_file_name) {
  int fd = find_local_debuginfo_file(module, userdata, module_name, base, file_name, debuglink_file,
                                     debuglink_crc, debuginfo_file_name);
  if (fd < 0) return fd;
  // Inflated while the trace was decoded, if the analysis asked for it (analysis.cpp).
  int prefetched =
      *debuginfo_file_name == nullptr ? -1 : debug_file_prefetch::take(*debuginfo_file_name);
  if (prefetched >= 0) {
    close(fd);
    return prefetched;
  }
  int inflated = DebugFileCache::standard().inflated_copy(fd);
  if (inflated < 0) return fd;
  close(fd);
  return inflated;
}

const Dwfl_Callbacks kOfflineCallbacks = {
    dwfl_build_id_find_elf,
    find_local_debuginfo,
    dwfl_offline_section_address,
    nullptr,
};

// Follows DW_AT_abstract_origin and DW_AT_specification to the DIE that declares the function,
// where its name and enclosing namespaces and classes are.
Dwarf_Die declaration_of(Dwarf_Die die) {
  for (int hops = 0; hops < 8; ++hops) {
    Dwarf_Attribute attribute;
    Dwarf_Die target;
    if ((dwarf_attr(&die, DW_AT_abstract_origin, &attribute) != nullptr ||
         dwarf_attr(&die, DW_AT_specification, &attribute) != nullptr) &&
        dwarf_formref_die(&attribute, &target) != nullptr) {
      die = target;
    } else {
      break;
    }
  }
  return die;
}

// "ns::Class::method" from the declaration's enclosing scopes, for DIEs without a linkage name
// (often the case for inlined instances).
std::string qualified_name(Dwarf_Die die) {
  Dwarf_Die declaration = declaration_of(die);
  const char* base = dwarf_diename(&declaration);
  if (base == nullptr) return {};
  std::string name = base;
  Dwarf_Die* scopes = nullptr;
  int count = dwarf_getscopes_die(&declaration, &scopes);
  for (int i = 1; i < count; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_namespace && tag != DW_TAG_class_type && tag != DW_TAG_structure_type &&
        tag != DW_TAG_union_type) {
      continue;
    }
    const char* scope = dwarf_diename(&scopes[i]);
    name = std::string(scope != nullptr ? scope : "(anonymous namespace)") + "::" + name;
  }
  std::free(scopes);
  return name;
}

std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attribute;
  for (int name_attribute : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (dwarf_attr_integrate(die, name_attribute, &attribute) != nullptr) {
      const char* linkage = dwarf_formstring(&attribute);
      if (linkage != nullptr) return demangle(linkage);
    }
  }
  return qualified_name(*die);
}

}  // namespace

struct Symbolizer::ModuleDebugInfo {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* module = nullptr;
  ~ModuleDebugInfo() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

Symbolizer::Symbolizer(const std::vector<ModuleInfo>* modules) : modules_(modules) {}
Symbolizer::~Symbolizer() = default;

const ModuleInfo* Symbolizer::module_for(uint64_t address, uint64_t defined_order) const {
  const ModuleInfo* best_before = nullptr;
  const ModuleInfo* first_after = nullptr;
  for (const ModuleInfo& module : *modules_) {
    bool contains = false;
    for (const Segment& segment : module.segments) {
      if (address >= segment.start && address < segment.end) contains = true;
    }
    if (!contains) continue;
    if (module.load_order < defined_order) {
      if (best_before == nullptr || module.load_order > best_before->load_order)
        best_before = &module;
    } else if (first_after == nullptr || module.load_order < first_after->load_order) {
      // Loaded after the stack was written (a dlopen'ed library's constructor allocated before
      // the writer described it): still the best guess.
      first_after = &module;
    }
  }
  return best_before != nullptr ? best_before : first_after;
}

Symbolizer::ModuleDebugInfo* Symbolizer::debug_info_for(const ModuleInfo& module) {
  auto found = debug_info_.find(module.id);
  if (found != debug_info_.end()) return found->second.get();
  auto info = std::make_unique<ModuleDebugInfo>();
  if (module.path.empty() || module.path[0] != '/') {
    // The vDSO and other objects without a file: nothing to read.
    return (debug_info_[module.id] = std::move(info)).get();
  }
  // A trace names the files to open: only regular files are read (a device or a FIFO named by a
  // damaged or hostile trace would block or never end).
  struct stat file {};
  if (stat(module.path.c_str(), &file) != 0 || !S_ISREG(file.st_mode)) {
    warnings_.push_back(module.path +
                        ": not a readable file, its frames are shown as module+offset");
    return (debug_info_[module.id] = std::move(info)).get();
  }
  info->dwfl = dwfl_begin(&kOfflineCallbacks);
  if (info->dwfl != nullptr) {
    dwfl_report_begin(info->dwfl);
    info->module = dwfl_report_elf(info->dwfl, module.path.c_str(), module.path.c_str(), -1,
                                   module.load_bias, false);
    dwfl_report_end(info->dwfl, nullptr, nullptr);
  }
  if (info->module == nullptr) {
    warnings_.push_back(module.path + ": cannot be read, its frames are shown as module+offset");
  } else if (!module.build_id.empty()) {
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int length = dwfl_module_build_id(info->module, &bits, &vaddr);
    std::string on_disk =
        length > 0 ? std::string(reinterpret_cast<const char*>(bits), static_cast<size_t>(length))
                   : std::string();
    if (on_disk != module.build_id) {
      warnings_.push_back(module.path + ": build-id " + build_id_hex(on_disk) +
                          " does not match the traced " + build_id_hex(module.build_id) +
                          " (file changed since the run), its frames are shown as module+offset");
      info->module = nullptr;
    }
  }
  return (debug_info_[module.id] = std::move(info)).get();
}

const ResolvedAddress& Symbolizer::resolve(uint64_t address, uint64_t defined_order) {
  const ModuleInfo* module = module_for(address, defined_order);
  uint64_t key = address ^ ((module == nullptr ? 0 : module->id) << 48);
  auto cached = cache_.find(key);
  if (cached != cache_.end()) return *cached->second;
  auto resolved = std::make_unique<ResolvedAddress>();
  resolved->address = address;
  if (module != nullptr) {
    resolved->module = module->path;
    resolved->module_offset = address - module->load_bias;
    ModuleDebugInfo* info = debug_info_for(*module);
    if (info->module != nullptr) {
      // A return address points after the call; the call itself is one byte earlier.
      Dwarf_Addr lookup = address - 1;
      std::string current_file;
      uint32_t current_line = 0;
      if (Dwfl_Line* line = dwfl_module_getsrc(info->module, lookup)) {
        int line_number = 0;
        const char* file = dwfl_lineinfo(line, nullptr, &line_number, nullptr, nullptr, nullptr);
        if (file != nullptr) current_file = file;
        current_line = static_cast<uint32_t>(line_number);
      }
      Dwarf_Addr bias = 0;
      Dwarf_Die* unit = dwfl_module_addrdie(info->module, lookup, &bias);
      Dwarf_Die* scopes = nullptr;
      int count = unit == nullptr ? 0 : dwarf_getscopes(unit, lookup - bias, &scopes);
      if (count > 0) {
        // dwarf_getscopes follows an inlined function to its abstract definition; the concrete
        // chain of callers (inlined ones, then the real function) comes from the innermost DIE.
        Dwarf_Die innermost = scopes[0];
        std::free(scopes);
        scopes = nullptr;
        count = dwarf_getscopes_die(&innermost, &scopes);
      }
      Dwarf_Files* files = nullptr;
      size_t file_count = 0;
      if (unit != nullptr) dwarf_getsrcfiles(unit, &files, &file_count);
      for (int i = 0; i < count; ++i) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
        SourceFrame frame;
        frame.function = die_function_name(&scopes[i]);
        frame.file = current_file;
        frame.line = current_line;
        frame.inlined = tag == DW_TAG_inlined_subroutine;
        resolved->frames.push_back(frame);
        if (tag == DW_TAG_subprogram) break;
        // The outer function's position is where this one was inlined.
        Dwarf_Attribute attribute;
        Dwarf_Word value = 0;
        current_file.clear();
        current_line = 0;
        if (dwarf_attr(&scopes[i], DW_AT_call_file, &attribute) != nullptr &&
            dwarf_formudata(&attribute, &value) == 0 && files != nullptr && value < file_count) {
          const char* name = dwarf_filesrc(files, value, nullptr, nullptr);
          if (name != nullptr) current_file = name;
        }
        if (dwarf_attr(&scopes[i], DW_AT_call_line, &attribute) != nullptr &&
            dwarf_formudata(&attribute, &value) == 0) {
          current_line = static_cast<uint32_t>(value);
        }
      }
      std::free(scopes);
      if (resolved->frames.empty() || resolved->frames.back().function.empty()) {
        GElf_Off offset = 0;
        GElf_Sym symbol;
        const char* name =
            dwfl_module_addrinfo(info->module, lookup, &offset, &symbol, nullptr, nullptr, nullptr);
        if (resolved->frames.empty()) {
          SourceFrame frame;
          frame.file = current_file;
          frame.line = current_line;
          resolved->frames.push_back(frame);
        }
        if (name != nullptr) resolved->frames.back().function = demangle(name);
      }
    }
  }
  if (resolved->frames.empty()) resolved->frames.push_back(SourceFrame{});
  return *(cache_[key] = std::move(resolved));
}

}  // namespace dprof::analyzer
