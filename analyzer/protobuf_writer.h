// The protocol buffers wire format, written by hand for the one message the analyzer writes
// (pprof's Profile, pprof_export.cpp). Linking libprotobuf cost every analyzer run 4.5 ms at start
// (its relocations and static initialisers), for a verb few runs use; the encoding is small. The
// tests read what this writes back with libprotobuf itself, from the same profile.proto.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dprof::analyzer {

class ProtobufWriter {
 public:
  // Varint fields (uint64, int64, bool); proto3 leaves a zero value out.
  void add_uint(uint32_t field, uint64_t value) {
    if (value == 0) return;
    add_key(field, kVarint);
    add_varint(value);
  }
  // int64 goes on the wire as its two's complement, as a varint.
  void add_int(uint32_t field, int64_t value) { add_uint(field, static_cast<uint64_t>(value)); }
  void add_bool(uint32_t field, bool value) { add_uint(field, value ? 1 : 0); }
  // A string, or an element of a repeated string (written even when empty: its position counts).
  void add_bytes(uint32_t field, std::string_view value) {
    add_key(field, kLengthDelimited);
    add_varint(value.size());
    bytes_.append(value);
  }
  // A submessage, or an element of a repeated one.
  void add_message(uint32_t field, const ProtobufWriter& message) {
    add_bytes(field, message.bytes_);
  }
  // A repeated varint field, packed (proto3's default): one length-delimited run of varints.
  template <typename Integer>
  void add_packed(uint32_t field, const std::vector<Integer>& values) {
    if (values.empty()) return;
    ProtobufWriter run;
    for (Integer value : values) run.add_varint(static_cast<uint64_t>(value));
    add_bytes(field, run.bytes_);
  }
  // Another writer's fields, after this one's (fields may come in any order on the wire).
  void append(const ProtobufWriter& fields) { bytes_.append(fields.bytes_); }

  const std::string& bytes() const { return bytes_; }

 private:
  static constexpr uint32_t kVarint = 0;
  static constexpr uint32_t kLengthDelimited = 2;

  void add_key(uint32_t field, uint32_t wire_type) {
    add_varint((uint64_t{field} << 3) | wire_type);
  }
  void add_varint(uint64_t value) {
    while (value >= 0x80) {
      bytes_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    bytes_.push_back(static_cast<char>(value));
  }

  std::string bytes_;
};

}  // namespace dprof::analyzer
