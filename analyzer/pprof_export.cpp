#include "pprof_export.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "build_id.h"
#include "protobuf_writer.h"

namespace dprof::analyzer {
namespace {

// Field numbers of profile.proto (pprof's), by message.
namespace profile_field {
constexpr uint32_t kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5,
                   kStringTable = 6, kTimeNanos = 9, kDurationNanos = 10, kPeriodType = 11,
                   kPeriod = 12, kComment = 13, kDefaultSampleType = 14;
}
namespace value_type_field {
constexpr uint32_t kType = 1, kUnit = 2;
}
namespace sample_field {
constexpr uint32_t kLocationId = 1, kValue = 2;
}
namespace mapping_field {
constexpr uint32_t kId = 1, kMemoryStart = 2, kMemoryLimit = 3, kFileOffset = 4, kFilename = 5,
                   kBuildId = 6, kHasFunctions = 7, kHasFilenames = 8, kHasLineNumbers = 9,
                   kHasInlineFrames = 10;
}
namespace location_field {
constexpr uint32_t kId = 1, kMappingId = 2, kAddress = 3, kLine = 4;
}
namespace line_field {
constexpr uint32_t kFunctionId = 1, kLine = 2;
}
namespace function_field {
constexpr uint32_t kId = 1, kName = 2, kSystemName = 3, kFilename = 4;
}

// The repeated fields of a Profile, each gathered on its own and written in field order at the
// end, as libprotobuf writes them.
class ProfileBuilder {
 public:
  ProfileBuilder() { string_index(""); }

  int64_t string_index(const std::string& text) {
    auto [position, inserted] = strings_.emplace(text, strings_.size());
    if (inserted) string_table_.add_bytes(profile_field::kStringTable, text);
    return position->second;
  }

  ProtobufWriter value_type(const char* type, const char* unit) {
    ProtobufWriter value_type;
    value_type.add_int(value_type_field::kType, string_index(type));
    value_type.add_int(value_type_field::kUnit, string_index(unit));
    return value_type;
  }

  void add_sample_type(const char* type, const char* unit) {
    sample_types_.add_message(profile_field::kSampleType, value_type(type, unit));
  }

  void add_sample(const std::vector<uint64_t>& location_ids, const std::vector<int64_t>& values) {
    ProtobufWriter sample;
    sample.add_packed(sample_field::kLocationId, location_ids);
    sample.add_packed(sample_field::kValue, values);
    samples_.add_message(profile_field::kSample, sample);
  }

  uint64_t function_id(const SiteFrame& frame) {
    std::string name = frame.function.empty() ? "??" : frame.function;
    auto key = std::make_pair(name, frame.file);
    auto known = function_ids_.find(key);
    if (known != function_ids_.end()) return known->second;
    uint64_t id = function_ids_.size() + 1;
    ProtobufWriter function;
    function.add_uint(function_field::kId, id);
    function.add_int(function_field::kName, string_index(name));
    function.add_int(function_field::kSystemName, string_index(name));
    function.add_int(function_field::kFilename, string_index(frame.file));
    functions_.add_message(profile_field::kFunction, function);
    function_ids_.emplace(key, id);
    return id;
  }

  uint64_t mapping_id(const SiteFrame& frame, const Analysis& analysis) {
    if (frame.module.empty()) return 0;
    auto known = mapping_ids_.find(frame.module);
    if (known != mapping_ids_.end()) return known->second;
    uint64_t id = mapping_ids_.size() + 1;
    const ModuleInfo* module = nullptr;
    for (const ModuleInfo& candidate : analysis.modules) {
      if (candidate.path == frame.module) {
        module = &candidate;
        break;
      }
    }
    // Fields in number order, as libprotobuf writes them.
    ProtobufWriter mapping;
    mapping.add_uint(mapping_field::kId, id);
    if (module != nullptr) {
      for (const Segment& segment : module->segments) {
        if (!segment.executable) continue;
        mapping.add_uint(mapping_field::kMemoryStart, segment.start);
        mapping.add_uint(mapping_field::kMemoryLimit, segment.end);
        mapping.add_uint(mapping_field::kFileOffset, segment.start - module->load_bias);
        break;
      }
    }
    mapping.add_int(mapping_field::kFilename, string_index(frame.module));
    if (module != nullptr) {
      mapping.add_int(mapping_field::kBuildId, string_index(build_id_hex(module->build_id)));
    }
    mapping.add_bool(mapping_field::kHasFunctions, analysis.symbolized);
    mapping.add_bool(mapping_field::kHasFilenames, analysis.symbolized);
    mapping.add_bool(mapping_field::kHasLineNumbers, analysis.symbolized);
    mapping.add_bool(mapping_field::kHasInlineFrames, analysis.symbolized);
    mappings_.add_message(profile_field::kMapping, mapping);
    mapping_ids_.emplace(frame.module, id);
    return id;
  }

  // The frames [first, last] share one return address: the innermost inlined into the next.
  uint64_t location_id(const Site& site, size_t first, size_t last, const Analysis& analysis) {
    const SiteFrame& outer = site.frames[last];
    std::string key = std::to_string(outer.address) + ":" + std::to_string(last - first);
    auto known = location_ids_.find(key);
    if (known != location_ids_.end()) return known->second;
    uint64_t id = location_ids_.size() + 1;
    ProtobufWriter location;
    location.add_uint(location_field::kId, id);
    location.add_uint(location_field::kMappingId, mapping_id(outer, analysis));
    location.add_uint(location_field::kAddress, outer.address);
    for (size_t i = first; i <= last; ++i) {
      ProtobufWriter line;
      line.add_uint(line_field::kFunctionId, function_id(site.frames[i]));
      line.add_int(line_field::kLine, site.frames[i].line);
      location.add_message(location_field::kLine, line);
    }
    locations_.add_message(profile_field::kLocation, location);
    location_ids_.emplace(key, id);
    return id;
  }

  // The whole Profile: the repeated fields in field order, then `scalars` (fields 7 and up).
  std::string profile(const ProtobufWriter& scalars) const {
    ProtobufWriter profile;
    for (const ProtobufWriter* field :
         {&sample_types_, &samples_, &mappings_, &locations_, &functions_, &string_table_}) {
      profile.append(*field);
    }
    profile.append(scalars);
    return profile.bytes();
  }

 private:
  ProtobufWriter sample_types_, samples_, mappings_, locations_, functions_, string_table_;
  std::unordered_map<std::string, int64_t> strings_;
  std::map<std::pair<std::string, std::string>, uint64_t> function_ids_;
  std::unordered_map<std::string, uint64_t> mapping_ids_;
  std::unordered_map<std::string, uint64_t> location_ids_;
};

}  // namespace

std::string pprof_profile_bytes(const Analysis& analysis) {
  ProfileBuilder builder;
  builder.add_sample_type("alloc_objects", "count");
  builder.add_sample_type("alloc_space", "bytes");
  builder.add_sample_type("inuse_objects", "count");
  builder.add_sample_type("inuse_space", "bytes");
  builder.add_sample_type("hot_space", "bytes");
  builder.add_sample_type("idle_space", "bytes");
  ProtobufWriter scalars;
  if (analysis.process) {
    scalars.add_int(profile_field::kTimeNanos,
                    static_cast<int64_t>(analysis.process->start_wall_ns));
  }
  scalars.add_int(profile_field::kDurationNanos, static_cast<int64_t>(analysis.duration_ns));
  scalars.add_message(profile_field::kPeriodType, builder.value_type("space", "bytes"));
  scalars.add_int(profile_field::kPeriod, 1);  // every allocation is recorded: nothing to scale
  std::vector<int64_t> comments = {
      builder.string_index("damon-prof trace " + analysis.path),
      builder.string_index(
          "inuse_*: live at the heap's peak; hot_space, idle_space: hot and idle byte-seconds "
          "over the monitored time, as average bytes")};
  scalars.add_packed(profile_field::kComment, comments);
  scalars.add_int(profile_field::kDefaultSampleType, builder.string_index("inuse_space"));

  double monitored_seconds =
      analysis.snapshot_last_ns > analysis.snapshot_first_ns
          ? static_cast<double>(analysis.snapshot_last_ns - analysis.snapshot_first_ns) / 1e9
          : 0;
  auto average_bytes = [&](double byte_seconds) {
    return monitored_seconds > 0 ? static_cast<int64_t>(byte_seconds / monitored_seconds) : 0;
  };
  for (const Site& site : analysis.sites) {
    std::vector<int64_t> values = {
        static_cast<int64_t>(site.alloc_count),      static_cast<int64_t>(site.alloc_bytes),
        static_cast<int64_t>(site.peak_count),       static_cast<int64_t>(site.peak_bytes),
        average_bytes(site.access.hot_byte_seconds), average_bytes(site.access.idle_byte_seconds)};
    bool any = false;
    for (int64_t value : values) any = any || value != 0;
    if (!any || site.frames.empty()) continue;
    std::vector<uint64_t> location_ids;
    size_t first = site.name_frame;
    for (size_t i = site.name_frame; i < site.frames.size(); ++i) {
      if (site.frames[i].inlined && i + 1 < site.frames.size()) continue;
      location_ids.push_back(builder.location_id(site, first, i, analysis));
      first = i + 1;
    }
    builder.add_sample(location_ids, values);
  }
  return builder.profile(scalars);
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
