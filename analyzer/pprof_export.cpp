#include "pprof_export.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>

#include "build_id.h"
#include "profile.pb.h"

namespace dprof::analyzer {
namespace {

namespace pb = perftools::profiles;

class ProfileBuilder {
 public:
  explicit ProfileBuilder(pb::Profile& profile) : profile_(profile) { string_index(""); }

  int64_t string_index(const std::string& text) {
    auto [position, inserted] = strings_.emplace(text, strings_.size());
    if (inserted) profile_.add_string_table(text);
    return position->second;
  }

  void add_sample_type(const char* type, const char* unit) {
    pb::ValueType* value_type = profile_.add_sample_type();
    value_type->set_type(string_index(type));
    value_type->set_unit(string_index(unit));
  }

  uint64_t function_id(const SiteFrame& frame) {
    std::string name = frame.function.empty() ? "??" : frame.function;
    auto key = std::make_pair(name, frame.file);
    auto known = functions_.find(key);
    if (known != functions_.end()) return known->second;
    uint64_t id = functions_.size() + 1;
    pb::Function* function = profile_.add_function();
    function->set_id(id);
    function->set_name(string_index(name));
    function->set_system_name(string_index(name));
    function->set_filename(string_index(frame.file));
    functions_.emplace(key, id);
    return id;
  }

  uint64_t mapping_id(const SiteFrame& frame, const Analysis& analysis) {
    if (frame.module.empty()) return 0;
    auto known = mappings_.find(frame.module);
    if (known != mappings_.end()) return known->second;
    uint64_t id = mappings_.size() + 1;
    pb::Mapping* mapping = profile_.add_mapping();
    mapping->set_id(id);
    mapping->set_filename(string_index(frame.module));
    for (const ModuleInfo& module : analysis.modules) {
      if (module.path != frame.module) continue;
      for (const Segment& segment : module.segments) {
        if (!segment.executable) continue;
        mapping->set_memory_start(segment.start);
        mapping->set_memory_limit(segment.end);
        mapping->set_file_offset(segment.start - module.load_bias);
        break;
      }
      mapping->set_build_id(string_index(build_id_hex(module.build_id)));
      break;
    }
    mapping->set_has_functions(analysis.symbolized);
    mapping->set_has_filenames(analysis.symbolized);
    mapping->set_has_line_numbers(analysis.symbolized);
    mapping->set_has_inline_frames(analysis.symbolized);
    mappings_.emplace(frame.module, id);
    return id;
  }

  // The frames [first, last] share one return address: the innermost inlined into the next.
  uint64_t location_id(const Site& site, size_t first, size_t last, const Analysis& analysis) {
    const SiteFrame& outer = site.frames[last];
    std::string key = std::to_string(outer.address) + ":" + std::to_string(last - first);
    auto known = locations_.find(key);
    if (known != locations_.end()) return known->second;
    uint64_t id = locations_.size() + 1;
    pb::Location* location = profile_.add_location();
    location->set_id(id);
    location->set_address(outer.address);
    location->set_mapping_id(mapping_id(outer, analysis));
    for (size_t i = first; i <= last; ++i) {
      pb::Line* line = location->add_line();
      line->set_function_id(function_id(site.frames[i]));
      line->set_line(site.frames[i].line);
    }
    locations_.emplace(key, id);
    return id;
  }

 private:
  pb::Profile& profile_;
  std::unordered_map<std::string, int64_t> strings_;
  std::map<std::pair<std::string, std::string>, uint64_t> functions_;
  std::unordered_map<std::string, uint64_t> mappings_;
  std::unordered_map<std::string, uint64_t> locations_;
};

}  // namespace

std::string pprof_profile_bytes(const Analysis& analysis) {
  pb::Profile profile;
  ProfileBuilder builder(profile);
  builder.add_sample_type("alloc_objects", "count");
  builder.add_sample_type("alloc_space", "bytes");
  builder.add_sample_type("inuse_objects", "count");
  builder.add_sample_type("inuse_space", "bytes");
  builder.add_sample_type("hot_space", "bytes");
  builder.add_sample_type("idle_space", "bytes");
  profile.set_default_sample_type(builder.string_index("inuse_space"));
  pb::ValueType* period_type = profile.mutable_period_type();
  period_type->set_type(builder.string_index("space"));
  period_type->set_unit(builder.string_index("bytes"));
  profile.set_period(1);  // every allocation is recorded: nothing to scale
  if (analysis.process) {
    profile.set_time_nanos(static_cast<int64_t>(analysis.process->start_wall_ns));
  }
  profile.set_duration_nanos(static_cast<int64_t>(analysis.duration_ns));
  profile.add_comment(builder.string_index("damon-prof trace " + analysis.path));
  profile.add_comment(builder.string_index(
      "inuse_*: live at the heap's peak; hot_space, idle_space: hot and idle byte-seconds over "
      "the monitored time, as average bytes"));

  double monitored_seconds =
      analysis.snapshot_last_ns > analysis.snapshot_first_ns
          ? static_cast<double>(analysis.snapshot_last_ns - analysis.snapshot_first_ns) / 1e9
          : 0;
  auto average_bytes = [&](double byte_seconds) {
    return monitored_seconds > 0 ? static_cast<int64_t>(byte_seconds / monitored_seconds) : 0;
  };
  for (const Site& site : analysis.sites) {
    int64_t values[] = {
        static_cast<int64_t>(site.alloc_count),      static_cast<int64_t>(site.alloc_bytes),
        static_cast<int64_t>(site.peak_count),       static_cast<int64_t>(site.peak_bytes),
        average_bytes(site.access.hot_byte_seconds), average_bytes(site.access.idle_byte_seconds)};
    bool any = false;
    for (int64_t value : values) any = any || value != 0;
    if (!any || site.frames.empty()) continue;
    pb::Sample* sample = profile.add_sample();
    for (int64_t value : values) sample->add_value(value);
    size_t first = site.name_frame;
    for (size_t i = site.name_frame; i < site.frames.size(); ++i) {
      if (site.frames[i].inlined && i + 1 < site.frames.size()) continue;
      sample->add_location_id(builder.location_id(site, first, i, analysis));
      first = i + 1;
    }
  }
  return profile.SerializeAsString();
}

bool write_pprof_file(const std::string& path, const Analysis& analysis, std::string* error) {
  std::string bytes = pprof_profile_bytes(analysis);
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) {
    *error = path + ": cannot write the profile (" + std::strerror(errno) + ")";
    return false;
  }
  size_t written = 0;
  bool ok = true;
  while (ok && written < bytes.size()) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes.size() - written, 1u << 20));
    int wrote = gzwrite(file, bytes.data() + written, chunk);
    ok = wrote > 0;
    written += wrote > 0 ? static_cast<size_t>(wrote) : 0;
  }
  ok = gzclose(file) == Z_OK && ok;
  if (!ok) *error = path + ": write failed";
  return ok;
}

}  // namespace dprof::analyzer
