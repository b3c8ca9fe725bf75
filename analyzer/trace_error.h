// The one error type for everything wrong with a trace file. Messages name the problem; the CLI
// prefixes the file name and prints them on one line.
#pragma once

#include <stdexcept>
#include <string>

namespace dprof::analyzer {

class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace dprof::analyzer
