// A 3x5 pixel font for labels in PNG images (no font library needed): digits, letters (lower
// case drawn as upper case) and the punctuation that addresses, sizes, times and C++ names use.
#pragma once

#include <cstdint>

namespace dprof::analyzer {

// Five rows of three bits (bit 2 = left column) for `c`; a box for characters it lacks.
const uint8_t* pixel_glyph(char c);

}  // namespace dprof::analyzer
