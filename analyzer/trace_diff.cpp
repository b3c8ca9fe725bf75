#include "trace_diff.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "json_writer.h"
#include "limit_check.h"
#include "site_identity.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

void add_figures(Site& into, const Site& from) {
  into.alloc_count += from.alloc_count;
  into.alloc_bytes += from.alloc_bytes;
  into.peak_bytes += from.peak_bytes;
  into.peak_count += from.peak_count;
  into.leaked_bytes += from.leaked_bytes;
  into.leaked_count += from.leaked_count;
  into.temporary_count += from.temporary_count;
  into.mmap_count += from.mmap_count;
  into.access.add(from.access);
}

std::vector<std::string> stack_lines(const Site& site) {
  std::vector<std::string> lines;
  for (size_t i = site.name_frame; i < site.frames.size(); ++i) {
    const SiteFrame& frame = site.frames[i];
    std::string function = frame.function.empty() ? module_and_offset(frame) : frame.function;
    lines.push_back(function + "  " + frame_location(frame));
  }
  return lines;
}

double change(const SiteDelta& site, const SiteMetric& metric, const Analysis& before,
              const Analysis& after) {
  return metric.value(site.after, after) - metric.value(site.before, before);
}

std::string signed_metric(const SiteMetric& metric, double delta) {
  return (delta < 0 ? "-" : "+") + format_metric(metric, std::fabs(delta));
}

std::string percent_change(double before, double after) {
  if (before <= 0) return after > 0 ? "new" : "";
  char text[32];
  std::snprintf(text, sizeof text, "%+.1f%%", (after - before) / before * 100.0);
  return text;
}

std::string pad(const std::string& text, size_t width) {
  // Widths count characters, not the bytes of the arrow.
  size_t shown = 0;
  for (unsigned char c : text) shown += (c & 0xc0) != 0x80;
  return shown >= width ? text + " " : text + std::string(width - shown, ' ');
}

}  // namespace

TraceDiff diff_traces(const Analysis& before, const Analysis& after) {
  TraceDiff diff;
  for (const QuantityInfo& info : quantities()) {
    QuantityDelta delta{info.quantity, std::nullopt, std::nullopt};
    std::string why;
    delta.before = program_quantity(info.quantity, before, &why);
    delta.after = program_quantity(info.quantity, after, &why);
    diff.totals.push_back(delta);
  }
  std::unordered_map<std::string, size_t> by_identity;
  auto entry = [&](const Site& site) -> SiteDelta& {
    auto [position, inserted] = by_identity.emplace(site_identity(site), diff.sites.size());
    if (inserted) diff.sites.emplace_back();
    return diff.sites[position->second];
  };
  for (const Site& site : after.sites) {
    SiteDelta& delta = entry(site);
    if (!delta.after_present) {
      delta.name = describe_site(site);
      delta.stack = stack_lines(site);
    }
    delta.after_present = true;
    add_figures(delta.after, site);
  }
  for (const Site& site : before.sites) {
    SiteDelta& delta = entry(site);
    if (!delta.after_present && !delta.before_present) {
      delta.name = describe_site(site);
      delta.stack = stack_lines(site);
    }
    delta.before_present = true;
    add_figures(delta.before, site);
  }
  return diff;
}

std::vector<size_t> sites_by_change(const TraceDiff& diff, const Analysis& before,
                                    const Analysis& after, const SiteMetric& metric, size_t limit) {
  std::vector<size_t> order;
  std::vector<double> changes(diff.sites.size());
  for (size_t i = 0; i < diff.sites.size(); ++i) {
    changes[i] = change(diff.sites[i], metric, before, after);
    if (changes[i] != 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (std::fabs(changes[a]) != std::fabs(changes[b])) {
      return std::fabs(changes[a]) > std::fabs(changes[b]);
    }
    return diff.sites[a].name < diff.sites[b].name;
  });
  if (limit != 0 && order.size() > limit) order.resize(limit);
  return order;
}

void write_diff_text(std::ostream& out, const TraceDiff& diff, const Analysis& before,
                     const Analysis& after, const DiffOptions& options) {
  const SiteMetric& metric = options.sort != nullptr ? *options.sort : *find_site_metric("peak");
  Style style{options.color};
  out << style.bold("damon-prof diff") << " " << before.path << " -> " << after.path << "\n\n";
  out << "  " << pad("", 22) << pad("before", 14) << pad("after", 14) << "change\n";
  for (const QuantityDelta& total : diff.totals) {
    const QuantityInfo& info = quantity_info(total.quantity);
    auto shown = [&](const std::optional<double>& value) {
      return value ? format_quantity(info.kind, *value) : std::string("n/a");
    };
    std::string delta;
    if (total.before && total.after) {
      double difference = *total.after - *total.before;
      if (info.kind == QuantityKind::kRatio) {
        char text[32];
        std::snprintf(text, sizeof text, "%+.1f points", difference * 100.0);
        delta = text;
      } else {
        delta = difference == 0 ? "="
                                : (difference < 0 ? "-" : "+") +
                                      format_quantity(info.kind, std::fabs(difference)) + " (" +
                                      percent_change(*total.before, *total.after) + ")";
      }
    }
    out << "  " << pad(info.label, 22) << pad(shown(total.before), 14)
        << pad(shown(total.after), 14) << delta << "\n";
  }
  std::vector<size_t> changed = sites_by_change(diff, before, after, metric, 0);
  size_t shown = options.top == 0 ? changed.size() : std::min(options.top, changed.size());
  out << "\n"
      << style.bold(std::string("SITES BY CHANGE IN ") + metric.title) << "  (" << shown << " of "
      << changed.size() << " changed sites, " << diff.sites.size() << " sites in all)\n";
  for (size_t rank = 0; rank < shown; ++rank) {
    const SiteDelta& site = diff.sites[changed[rank]];
    double old_value = metric.value(site.before, before);
    double new_value = metric.value(site.after, after);
    std::string status = !site.before_present ? "new " : !site.after_present ? "gone" : "    ";
    std::string delta = signed_metric(metric, new_value - old_value);
    out << "  " << status << " " << pad(delta, 14)
        << pad(format_metric(metric, old_value) + " → " + format_metric(metric, new_value), 26)
        << pad(percent_change(old_value, new_value), 9) << site.name << "\n";
  }
}

void write_diff_json(std::ostream& out, const TraceDiff& diff, const Analysis& before,
                     const Analysis& after, const DiffOptions& options) {
  const SiteMetric& metric = options.sort != nullptr ? *options.sort : *find_site_metric("peak");
  JsonWriter json(out);
  json.begin_object();
  json.field("schema", "damon-prof-diff").field("schema_version", 1);
  json.field("before", before.path).field("after", after.path);
  json.field("sort", metric.name);
  json.key("totals").begin_object();
  for (const QuantityDelta& total : diff.totals) {
    json.key(quantity_info(total.quantity).key).begin_object();
    json.key("before");
    total.before ? json.value(*total.before) : json.null();
    json.key("after");
    total.after ? json.value(*total.after) : json.null();
    json.key("delta");
    total.before&& total.after ? json.value(*total.after - *total.before) : json.null();
    json.end_object();
  }
  json.end_object();
  // Every site, changed ones first by the size of their change.
  std::vector<size_t> order = sites_by_change(diff, before, after, metric, 0);
  std::vector<bool> listed(diff.sites.size());
  for (size_t index : order) listed[index] = true;
  for (size_t i = 0; i < diff.sites.size(); ++i) {
    if (!listed[i]) order.push_back(i);
  }
  if (options.top != 0 && order.size() > options.top) order.resize(options.top);
  json.key("sites").begin_array();
  for (size_t index : order) {
    const SiteDelta& site = diff.sites[index];
    json.begin_object();
    json.field("name", site.name);
    json.field("status", !site.before_present ? "new" : !site.after_present ? "gone" : "both");
    json.key("metrics").begin_object();
    for (const SiteMetric& each : site_metrics()) {
      double old_value = each.value(site.before, before);
      double new_value = each.value(site.after, after);
      json.key(each.name).begin_object();
      json.field("before", old_value).field("after", new_value);
      json.field("delta", new_value - old_value);
      json.end_object();
    }
    json.end_object();
    json.key("stack").begin_array();
    for (const std::string& line : site.stack) json.value(line);
    json.end_array();
    json.end_object();
  }
  json.end_array();
  json.end_object();
  out << "\n";
}

}  // namespace dprof::analyzer
