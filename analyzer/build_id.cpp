#include "build_id.h"

#include <sys/stat.h>

namespace dprof::analyzer {

std::string build_id_hex(const std::string& build_id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : build_id) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

std::string debug_file_for_build_id(const std::string& build_id) {
  if (build_id.size() < 2) return {};
  std::string path = "/usr/lib/debug/.build-id/" + build_id_hex(build_id.substr(0, 1)) + "/" +
                     build_id_hex(build_id.substr(1)) + ".debug";
  struct stat status;
  if (stat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode)) return {};
  return path;
}

}  // namespace dprof::analyzer
