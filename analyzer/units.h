// Parsing and printing of sizes, durations and percentages, the same for every verb:
// sizes "4096", "512KiB", "1.5GB", "2MiB"; percentages "5%".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dprof::analyzer {

// Bytes, or nullopt with `error` saying what is wrong.
std::optional<uint64_t> parse_size(std::string_view text, std::string* error = nullptr);
std::optional<double> parse_percentage(std::string_view text, std::string* error = nullptr);
// Nanoseconds from "100us", "5ms", "1.5s", "200ns" (a unit is required).
std::optional<uint64_t> parse_duration(std::string_view text, std::string* error = nullptr);

std::string format_bytes(uint64_t bytes);           // "12.3 MiB"
std::string format_duration(uint64_t nanoseconds);  // "1.23 s", "450 ms"
std::string format_count(uint64_t count);           // "1,234,567"

}  // namespace dprof::analyzer
