// Offline symbolization of return addresses from the module files named in the trace (elfutils
// libdw): function (demangled), file:line and inlined frames. A module is used only when its
// build-id matches the one recorded; otherwise its frames stay as module+offset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace_records.h"

namespace dprof::analyzer {

struct SourceFrame {
  std::string function;  // empty when unknown
  std::string file;      // empty when unknown
  uint32_t line = 0;
  bool inlined = false;  // inlined into the next (outer) frame
};

struct ResolvedAddress {
  uint64_t address = 0;
  std::string module;               // path of the module, empty when none contains the address
  uint64_t module_offset = 0;       // address - load bias
  std::vector<SourceFrame> frames;  // innermost first; the last is the real (not inlined) function
};

class Symbolizer {
 public:
  explicit Symbolizer(const std::vector<ModuleInfo>* modules);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // `address` is a return address; `defined_order` picks among modules that shared an address
  // range over time (see ModuleInfo::load_order).
  const ResolvedAddress& resolve(uint64_t address, uint64_t defined_order);
  const ModuleInfo* module_for(uint64_t address, uint64_t defined_order) const;
  // One line per module that could not be used (file missing, build-id mismatch).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct ModuleDebugInfo;
  ModuleDebugInfo* debug_info_for(const ModuleInfo& module);

  const std::vector<ModuleInfo>* modules_;
  std::map<uint64_t, std::unique_ptr<ModuleDebugInfo>> debug_info_;       // by module id
  std::unordered_map<uint64_t, std::unique_ptr<ResolvedAddress>> cache_;  // by module id ^ address
  std::vector<std::string> warnings_;
};

std::string demangle(const std::string& name);

}  // namespace dprof::analyzer
