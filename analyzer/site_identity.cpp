#include "site_identity.h"

#include <fnmatch.h>

#include "report_common.h"

namespace dprof::analyzer {

std::string site_identity(const Site& site) {
  std::string key;
  for (const SiteFrame& frame : site.frames) {
    key += frame.function.empty() ? module_and_offset(frame) : frame.function;
    key += '\n';
  }
  return key;
}

std::unordered_map<std::string, std::vector<size_t>> sites_by_identity(const Analysis& analysis) {
  std::unordered_map<std::string, std::vector<size_t>> index;
  for (size_t i = 0; i < analysis.sites.size(); ++i) {
    index[site_identity(analysis.sites[i])].push_back(i);
  }
  return index;
}

namespace {

// "Parser::read(int) const" -> "Parser::read": the name without its parameter list, as people
// write a function's name.
std::string without_parameters(const std::string& function) {
  size_t close = function.rfind(')');
  if (close == std::string::npos) return function;
  int depth = 0;
  for (size_t i = close + 1; i-- > 0;) {
    if (function[i] == ')') ++depth;
    if (function[i] == '(' && --depth == 0) return i == 0 ? function : function.substr(0, i);
  }
  return function;
}

bool matches_some_scope(const std::string& name, const std::string& pattern) {
  size_t from = 0;
  while (true) {
    if (fnmatch(pattern.c_str(), name.c_str() + from, 0) == 0) return true;
    size_t scope = name.find("::", from);
    if (scope == std::string::npos) return false;
    from = scope + 2;
  }
}

}  // namespace

bool function_matches(const std::string& function, const std::string& pattern) {
  // The whole name, or the name without its leading scopes: "make_*" matches
  // "(anonymous namespace)::make_table", "Parser::*" matches "app::Parser::parse"; with or
  // without the parameter list.
  if (matches_some_scope(function, pattern)) return true;
  std::string bare = without_parameters(function);
  return bare != function && matches_some_scope(bare, pattern);
}

bool site_matches(const Site& site, const std::string& pattern) {
  for (size_t i = site.name_frame; i < site.frames.size(); ++i) {
    const std::string& function = site.frames[i].function;
    if (!function.empty() && function_matches(function, pattern)) return true;
  }
  return false;
}

std::string describe_site(const Site& site) {
  if (site.frames.empty()) return site_name(site);
  std::string location = frame_location(site.frames[site.name_frame]);
  std::string name = site_name(site);
  return location.empty() || location == name ? name : name + " (" + location + ")";
}

}  // namespace dprof::analyzer
