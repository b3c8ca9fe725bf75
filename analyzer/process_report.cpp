#include "process_report.h"

#include <map>

#include "damon_prof/trace_format.h"
#include "json_writer.h"
#include "process_tree.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

std::string program_of(const ProcessInfo& process) {
  std::string name = process.executable;
  if (!process.command_line.empty()) name = process.command_line.front();
  size_t slash = name.rfind('/');
  return printable(slash == std::string::npos ? name : name.substr(slash + 1));
}

// "3 fork, 1 posix_spawn"
std::string started_by_kind(const Analysis& analysis) {
  std::map<uint32_t, uint64_t> counts;
  for (const ChildStart& start : analysis.child_starts) ++counts[start.how];
  std::string text;
  for (const auto& [how, count] : counts) {
    if (!text.empty()) text += ", ";
    text += format_count(count) + " " + child_how_name(how);
  }
  return text;
}

}  // namespace

void write_processes_json(JsonWriter& json, const Analysis& analysis) {
  json.key("processes").begin_object();
  json.field("children_started", analysis.child_start_count);
  json.key("started").begin_array();
  for (const ChildStart& start : analysis.child_starts) {
    json.begin_object();
    json.field("time_ns", start.time_ns);
    json.key("pid");
    if (start.pid != 0) {
      json.value(start.pid);
    } else {
      json.null();
    }
    json.field("how", child_how_name(start.how));
    json.end_object();
  }
  json.end_array();
  json.key("traces");
  if (!analysis.process_tree) {
    json.null();
  } else {
    json.begin_array();
    for (const ChildTrace& child : analysis.process_tree->traces) {
      json.begin_object();
      json.field("path", child.path);
      json.field("pid", child.process.pid);
      json.field("ppid", child.process.ppid);
      json.field("depth", static_cast<uint64_t>(child.depth));
      json.field("how", child_how_name(child.how));
      json.field("executable", child.process.executable);
      json.key("command_line").begin_array();
      for (const std::string& argument : child.process.command_line) json.value(argument);
      json.end_array();
      json.field("exec_image", (child.process.flags & DPROF_PROCESS_EXECED) != 0);
      json.end_object();
    }
    json.end_array();
  }
  json.key("untraced").begin_array();
  if (analysis.process_tree) {
    for (const ChildStart& start : analysis.process_tree->untraced) {
      json.begin_object();
      json.field("pid", start.pid).field("how", child_how_name(start.how));
      json.field("time_ns", start.time_ns);
      json.end_object();
    }
  }
  json.end_array();
  json.end_object();
}

void write_processes_text(std::ostream& out, const Style& style, const Analysis& analysis,
                          size_t max_traces) {
  bool has_traces = analysis.process_tree && !analysis.process_tree->traces.empty();
  if (analysis.child_start_count == 0 && !has_traces) return;
  out << '\n' << style.bold("CHILD PROCESSES");
  if (analysis.child_start_count != 0) {
    out << "  (" << format_count(analysis.child_start_count)
        << " started: " << started_by_kind(analysis) << ")";
  }
  out << '\n';
  if (!analysis.process_tree) return;
  const ProcessTree& tree = *analysis.process_tree;
  size_t shown = 0;
  for (const ChildTrace& child : tree.traces) {
    if (shown++ == max_traces) {
      out << style.dim("  ... " + format_count(tree.traces.size() - max_traces) +
                       " more traces (--format json lists them all)")
          << '\n';
      break;
    }
    std::string indent(size_t{2} * child.depth, ' ');
    std::string how = child.how != 0 ? std::string(child_how_name(child.how)) + ", " : "";
    if ((child.process.flags & DPROF_PROCESS_EXECED) != 0) how += "after exec, ";
    out << indent << "pid " << child.process.pid << "  " << program_of(child.process) << "  ("
        << how << "damon-prof report " << printable(child.path) << ")\n";
  }
  bool followed = true;
  if (analysis.process) {
    for (const std::string& option : analysis.process->options) {
      if (option == "follow_children=0") followed = false;
    }
  }
  if (!followed) {
    out << style.dim("  children were not traced (--no-follow)") << '\n';
    return;
  }
  if (tree.traces.empty()) out << style.dim("  no child wrote a trace beside this one") << '\n';
  if (!tree.untraced.empty()) {
    std::string pids;
    for (size_t i = 0; i < tree.untraced.size() && i < 10; ++i) {
      pids += (i == 0 ? "" : ", ") + std::to_string(tree.untraced[i].pid);
    }
    if (tree.untraced.size() > 10) pids += ", ...";
    out << style.warn("  " + format_count(tree.untraced.size()) + " without a trace") << " (pid "
        << pids
        << "): --no-follow, a static or setuid program, or one that ended before recording\n";
  }
}

}  // namespace dprof::analyzer
