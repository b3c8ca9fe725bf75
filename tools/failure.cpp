#include <iostream>

#include "commands.h"

namespace dprof::tools {

int fail(const std::string& message) {
  std::cerr << "damon-prof: " << message << "\n";
  return 2;
}

}  // namespace dprof::tools
