// Line plots for the terminal: several series over a shared time axis, drawn with one letter per
// series (the largest value in each column), the y axis in bytes and the x axis in time.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace dprof::analyzer {

struct PlotSeries {
  char mark = '*';
  std::string name;
  std::vector<std::pair<uint64_t, uint64_t>> points;  // (time ns, bytes), time ascending
};

void plot_series(std::ostream& out, const std::vector<PlotSeries>& series, size_t width,
                 size_t height, bool color);

}  // namespace dprof::analyzer
