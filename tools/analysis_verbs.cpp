#include "commands.h"

namespace dprof::tools {

bool is_analysis_verb(const std::string& verb) {
  for (const char* known :
       {"report", "flamegraph", "heatmap", "check", "diff", "export", "record-summary"}) {
    if (verb == known) return true;
  }
  return false;
}

}  // namespace dprof::tools
