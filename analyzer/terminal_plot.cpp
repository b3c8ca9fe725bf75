#include "terminal_plot.h"

#include <algorithm>
#include <cstdio>

#include "units.h"

namespace dprof::analyzer {

void plot_series(std::ostream& out, const std::vector<PlotSeries>& series, size_t width,
                 size_t height, bool color) {
  static const char* const kColors[] = {"\033[31m", "\033[34m", "\033[32m", "\033[35m"};
  uint64_t first = UINT64_MAX;
  uint64_t last = 0;
  uint64_t top = 0;
  for (const PlotSeries& one : series) {
    for (const auto& [time, value] : one.points) {
      first = std::min(first, time);
      last = std::max(last, time);
      top = std::max(top, value);
    }
  }
  if (first == UINT64_MAX || top == 0) {
    out << "  (nothing to plot)\n";
    return;
  }
  width = std::max<size_t>(width, 10);
  height = std::max<size_t>(height, 3);
  uint64_t span = std::max<uint64_t>(1, last - first);
  // Per series and column, the largest value that falls in it; later series draw over earlier.
  std::vector<std::string> grid(height, std::string(width, ' '));
  std::vector<std::vector<int>> owner(height, std::vector<int>(width, -1));
  for (size_t index = 0; index < series.size(); ++index) {
    std::vector<int64_t> column_max(width, -1);
    for (const auto& [time, value] : series[index].points) {
      auto column = static_cast<size_t>((time - first) * (width - 1) / span);
      column_max[column] = std::max<int64_t>(column_max[column], static_cast<int64_t>(value));
    }
    for (size_t column = 0; column < width; ++column) {
      if (column_max[column] < 0) continue;
      auto row =
          static_cast<size_t>(static_cast<double>(column_max[column]) / static_cast<double>(top) *
                                  static_cast<double>(height - 1) +
                              0.5);
      size_t line = height - 1 - std::min(row, height - 1);
      grid[line][column] = series[index].mark;
      owner[line][column] = static_cast<int>(index);
    }
  }
  for (size_t line = 0; line < height; ++line) {
    uint64_t level = top * (height - 1 - line) / (height - 1);
    char label[16];
    std::snprintf(label, sizeof(label), "%10s ", format_bytes(level).c_str());
    out << (line % 2 == 0 ? label : std::string(11, ' ')) << '|';
    for (size_t column = 0; column < width; ++column) {
      int who = owner[line][column];
      if (color && who >= 0) {
        out << kColors[who % 4] << grid[line][column] << "\033[0m";
      } else {
        out << grid[line][column];
      }
    }
    out << '\n';
  }
  out << std::string(11, ' ') << '+' << std::string(width, '-') << '\n';
  std::string left = format_duration(first);
  std::string right = format_duration(last);
  out << std::string(12, ' ') << left
      << std::string(width > left.size() + right.size() ? width - left.size() - right.size() : 1,
                     ' ')
      << right << '\n';
  out << std::string(12, ' ');
  for (const PlotSeries& one : series) out << one.mark << " = " << one.name << "   ";
  out << '\n';
}

}  // namespace dprof::analyzer
