#include "target_discovery.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../internal_alloc.h"

namespace dprof::monitor {
namespace {

struct MapsLine {
  uint64_t start;
  uint64_t end;
  char permissions[5];
  bool anonymous;  // no backing file (or the [heap])
  bool special;    // [stack], [vdso], [vvar], [vsyscall], ...
};

uint64_t parse_hex(const char*& cursor, const char* end) {
  uint64_t value = 0;
  while (cursor < end) {
    char c = *cursor;
    int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) break;
    value = value * 16 + static_cast<uint64_t>(digit);
    ++cursor;
  }
  return value;
}

void skip_field(const char*& cursor, const char* end) {
  while (cursor < end && *cursor != ' ') ++cursor;
  while (cursor < end && *cursor == ' ') ++cursor;
}

// One line: "start-end perms offset dev inode   [path]".
bool parse_line(const char* line, const char* end, MapsLine* parsed) {
  const char* cursor = line;
  parsed->start = parse_hex(cursor, end);
  if (cursor >= end || *cursor != '-') return false;
  ++cursor;
  parsed->end = parse_hex(cursor, end);
  while (cursor < end && *cursor == ' ') ++cursor;
  if (end - cursor < 4) return false;
  memcpy(parsed->permissions, cursor, 4);
  parsed->permissions[4] = '\0';
  skip_field(cursor, end);  // permissions
  skip_field(cursor, end);  // offset
  skip_field(cursor, end);  // device
  const char* inode = cursor;
  skip_field(cursor, end);  // inode
  bool zero_inode = inode < end && *inode == '0' && (inode + 1 == end || inode[1] == ' ');
  const char* path = cursor;
  size_t path_length = static_cast<size_t>(end - path);
  parsed->anonymous =
      zero_inode && (path_length == 0 || (path_length == 6 && memcmp(path, "[heap]", 6) == 0));
  parsed->special =
      path_length > 0 && path[0] == '[' && !(path_length == 6 && memcmp(path, "[heap]", 6) == 0);
  return parsed->end > parsed->start;
}

void append(AddressRange* out, size_t capacity, size_t* count, uint64_t start, uint64_t end) {
  if (start >= end) return;
  if (*count > 0 && out[*count - 1].end == start) {
    out[*count - 1].end = end;
    return;
  }
  if (*count < capacity) out[(*count)++] = AddressRange{start, end};
}

// Appends [start, end) minus every excluded range.
void append_without(AddressRange* out, size_t capacity, size_t* count, uint64_t start, uint64_t end,
                    const AddressRange* excluded, size_t excluded_count) {
  // Excluded ranges are few (the runtime's own memory and known stacks): a simple sweep.
  uint64_t cursor = start;
  while (cursor < end) {
    uint64_t next_cut = end;
    uint64_t cut_end = end;
    for (size_t i = 0; i < excluded_count; ++i) {
      const AddressRange& cut = excluded[i];
      if (cut.end <= cursor || cut.start >= end) continue;
      uint64_t from = cut.start > cursor ? cut.start : cursor;
      if (from < next_cut) {
        next_cut = from;
        cut_end = cut.end;
      }
    }
    append(out, capacity, count, cursor, next_cut);
    if (next_cut >= end) break;
    cursor = cut_end;
  }
}

}  // namespace

size_t parse_maps_targets(const char* text, size_t length, const AddressRange* excluded,
                          size_t excluded_count, AddressRange* out, size_t capacity,
                          SampledPagesTest sampled) {
  size_t count = 0;
  const char* cursor = text;
  const char* end = text + length;
  MapsLine previous{};
  bool have_previous = false;
  while (cursor < end) {
    const char* line_end = static_cast<const char*>(memchr(cursor, '\n', end - cursor));
    if (line_end == nullptr) line_end = end;
    MapsLine line{};
    if (parse_line(cursor, line_end, &line)) {
      if (sampled != nullptr && line.anonymous && memcmp(line.permissions, "---p", 4) == 0 &&
          sampled(line.start, line.end)) {
        memcpy(line.permissions, "rw-p", 4);
      }
      bool writable_private =
          line.permissions[0] == 'r' && line.permissions[1] == 'w' && line.permissions[3] == 'p';
      bool below_is_guard = have_previous && previous.end == line.start && previous.anonymous &&
                            memcmp(previous.permissions, "---p", 4) == 0 &&
                            previous.end - previous.start <= kMaxThreadStackGuard;
      if (writable_private && line.anonymous && !line.special && !below_is_guard) {
        append_without(out, capacity, &count, line.start, line.end, excluded, excluded_count);
      }
      previous = line;
      have_previous = true;
    }
    cursor = line_end + 1;
  }
  return count;
}

bool maps_show_async_io(const char* text, size_t length) {
  return memmem(text, length, "[io_uring]", 10) != nullptr ||
         memmem(text, length, "/[aio]", 6) != nullptr;
}

size_t discover_targets(const AddressRange* excluded, size_t excluded_count, AddressRange* out,
                        size_t capacity, bool* async_io, SampledPagesTest sampled) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t buffer_capacity = 64 * 1024;
  size_t used = 0;
  auto* buffer = static_cast<char*>(internal_alloc::allocate(buffer_capacity));
  while (buffer != nullptr) {
    if (used == buffer_capacity) {
      buffer_capacity *= 2;
      auto* grown = static_cast<char*>(internal_alloc::reallocate(buffer, buffer_capacity));
      if (grown == nullptr) break;
      buffer = grown;
    }
    ssize_t got = read(fd, buffer + used, buffer_capacity - used);
    if (got <= 0) break;
    used += static_cast<size_t>(got);
  }
  close(fd);
  size_t count = buffer == nullptr ? 0
                                   : parse_maps_targets(buffer, used, excluded, excluded_count, out,
                                                        capacity, sampled);
  if (async_io != nullptr && buffer != nullptr) *async_io = maps_show_async_io(buffer, used);
  internal_alloc::release(buffer);
  return count;
}

}  // namespace dprof::monitor
