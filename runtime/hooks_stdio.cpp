// stdio passes program buffers straight to the kernel in places: fread() reads large requests
// directly into the caller's buffer, and fwrite()/fputs()/printf("%s") write long data directly
// from it, all through the C library's internal read/write that no hook sees. These wrappers name
// those buffers (kernel_handoff.h). A buffer given to setvbuf() is the stream's for good: pinned.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "kernel_handoff.h"

using dprof::KernelHandoff;

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Names the strings a printf format prints. Returns false when the format cannot be walked safely
// (positional arguments, a conversion it does not know): the caller pauses instead.
bool name_format_strings(KernelHandoff& handoff, const char* format, va_list arguments) {
  if (format == nullptr) return true;
  va_list walk;
  va_copy(walk, arguments);
  bool understood = true;
  for (const char* p = format; *p != '\0' && understood; ++p) {
    if (*p != '%') continue;
    ++p;
    if (*p == '%') continue;
    while (*p != '\0' && strchr("-+ #0'I", *p) != nullptr) ++p;
    if (*p == '*') {
      (void)va_arg(walk, int);
      ++p;
    } else {
      while (is_digit(*p)) ++p;
      if (*p == '$') {
        understood = false;
        break;
      }
    }
    bool has_precision = false;
    long precision = 0;
    if (*p == '.') {
      ++p;
      has_precision = true;
      if (*p == '*') {
        precision = va_arg(walk, int);
        has_precision = precision >= 0;
        ++p;
      } else {
        while (is_digit(*p)) precision = precision * 10 + (*p++ - '0');
      }
    }
    bool wide = false;
    bool long_double = false;
    while (*p != '\0' && strchr("hlLqjzZt", *p) != nullptr) {
      if (*p == 'l') wide = true;
      if (*p == 'L' || *p == 'q') long_double = true;
      ++p;
    }
    switch (*p) {
      case 'd':
      case 'i':
      case 'o':
      case 'u':
      case 'x':
      case 'X':
      case 'c':
      case 'C':
      case 'b':
      case 'B':
      case 'p':
      case 'n':
        (void)va_arg(walk, long);  // one general-purpose slot whatever the integer's size
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
      case 'a':
      case 'A':
        if (long_double) {
          (void)va_arg(walk, long double);
        } else {
          (void)va_arg(walk, double);
        }
        break;
      case 's':
      case 'S':
        if (wide || *p == 'S') {
          const wchar_t* text = va_arg(walk, const wchar_t*);
          if (text != nullptr) {
            size_t length =
                has_precision ? wcsnlen(text, static_cast<size_t>(precision)) : wcslen(text);
            handoff.buffer(text, (length + 1) * sizeof(wchar_t));
          }
        } else {
          const char* text = va_arg(walk, const char*);
          if (text != nullptr) {
            size_t length =
                has_precision ? strnlen(text, static_cast<size_t>(precision)) : strlen(text);
            handoff.buffer(text, length + 1);
          }
        }
        break;
      case 'm':
        break;
      default:
        understood = false;
        break;
    }
  }
  va_end(walk);
  return understood;
}

void name_format(KernelHandoff& handoff, const char* format, va_list arguments) {
  if (!handoff.active()) return;
  if (!name_format_strings(handoff, format, arguments)) handoff.pause();
}

}  // namespace

extern "C" {
int __printf_chk(int, const char*, ...);
int __fprintf_chk(FILE*, int, const char*, ...);
int __vprintf_chk(int, const char*, va_list);
int __vfprintf_chk(FILE*, int, const char*, va_list);
int __dprintf_chk(int, int, const char*, ...);
int __vdprintf_chk(int, int, const char*, va_list);
size_t __fread_chk(void*, size_t, size_t, size_t, FILE*);
size_t __fread_unlocked_chk(void*, size_t, size_t, size_t, FILE*);
}

DPROF_EXPORT size_t fread(void* data, size_t size, size_t count, FILE* stream) {
  KernelHandoff handoff;
  handoff.buffer(data, size * count);
  DPROF_FORWARD(0, fread, data, size, count, stream);
}

DPROF_EXPORT size_t fread_unlocked(void* data, size_t size, size_t count, FILE* stream) {
  KernelHandoff handoff;
  handoff.buffer(data, size * count);
  DPROF_FORWARD(0, fread_unlocked, data, size, count, stream);
}

DPROF_EXPORT size_t __fread_chk(void* data, size_t room, size_t size, size_t count, FILE* stream) {
  KernelHandoff handoff;
  handoff.buffer(data, size * count);
  DPROF_FORWARD(0, __fread_chk, data, room, size, count, stream);
}

DPROF_EXPORT size_t __fread_unlocked_chk(void* data, size_t room, size_t size, size_t count,
                                         FILE* stream) {
  KernelHandoff handoff;
  handoff.buffer(data, size * count);
  DPROF_FORWARD(0, __fread_unlocked_chk, data, room, size, count, stream);
}

DPROF_EXPORT size_t fwrite(const void* data, size_t size, size_t count, FILE* stream) {
  KernelHandoff handoff;
  handoff.buffer(data, size * count);
  DPROF_FORWARD(0, fwrite, data, size, count, stream);
}

DPROF_EXPORT size_t fwrite_unlocked(const void* data, size_t size, size_t count, FILE* stream) {
  KernelHandoff handoff;
  handoff.buffer(data, size * count);
  DPROF_FORWARD(0, fwrite_unlocked, data, size, count, stream);
}

DPROF_EXPORT int fputs(const char* text, FILE* stream) {
  KernelHandoff handoff;
  handoff.string(text);
  DPROF_FORWARD(EOF, fputs, text, stream);
}

DPROF_EXPORT int fputs_unlocked(const char* text, FILE* stream) {
  KernelHandoff handoff;
  handoff.string(text);
  DPROF_FORWARD(EOF, fputs_unlocked, text, stream);
}

DPROF_EXPORT int puts(const char* text) {
  KernelHandoff handoff;
  handoff.string(text);
  DPROF_FORWARD(EOF, puts, text);
}

DPROF_EXPORT int vfprintf(FILE* stream, const char* format, va_list arguments) {
  KernelHandoff handoff;
  name_format(handoff, format, arguments);
  DPROF_FORWARD(-1, vfprintf, stream, format, arguments);
}

DPROF_EXPORT int vprintf(const char* format, va_list arguments) {
  KernelHandoff handoff;
  name_format(handoff, format, arguments);
  DPROF_FORWARD(-1, vprintf, format, arguments);
}

DPROF_EXPORT int vdprintf(int fd, const char* format, va_list arguments) {
  KernelHandoff handoff;
  name_format(handoff, format, arguments);
  DPROF_FORWARD(-1, vdprintf, fd, format, arguments);
}

DPROF_EXPORT int __vfprintf_chk(FILE* stream, int flag, const char* format, va_list arguments) {
  KernelHandoff handoff;
  name_format(handoff, format, arguments);
  DPROF_FORWARD(-1, __vfprintf_chk, stream, flag, format, arguments);
}

DPROF_EXPORT int __vprintf_chk(int flag, const char* format, va_list arguments) {
  KernelHandoff handoff;
  name_format(handoff, format, arguments);
  DPROF_FORWARD(-1, __vprintf_chk, flag, format, arguments);
}

DPROF_EXPORT int __vdprintf_chk(int fd, int flag, const char* format, va_list arguments) {
  KernelHandoff handoff;
  name_format(handoff, format, arguments);
  DPROF_FORWARD(-1, __vdprintf_chk, fd, flag, format, arguments);
}

// The variadic forms go to the va_list forms above, as the C library's own do.
DPROF_EXPORT int printf(const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int result = vprintf(format, arguments);
  va_end(arguments);
  return result;
}

DPROF_EXPORT int fprintf(FILE* stream, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int result = vfprintf(stream, format, arguments);
  va_end(arguments);
  return result;
}

DPROF_EXPORT int dprintf(int fd, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int result = vdprintf(fd, format, arguments);
  va_end(arguments);
  return result;
}

DPROF_EXPORT int __printf_chk(int flag, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int result = __vprintf_chk(flag, format, arguments);
  va_end(arguments);
  return result;
}

DPROF_EXPORT int __fprintf_chk(FILE* stream, int flag, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int result = __vfprintf_chk(stream, flag, format, arguments);
  va_end(arguments);
  return result;
}

DPROF_EXPORT int __dprintf_chk(int fd, int flag, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int result = __vdprintf_chk(fd, flag, format, arguments);
  va_end(arguments);
  return result;
}

DPROF_EXPORT int setvbuf(FILE* stream, char* data, int mode, size_t size) {
  dprof::pin_for_good(data, size);
  DPROF_FORWARD(EOF, setvbuf, stream, data, mode, size);
}

DPROF_EXPORT void setbuf(FILE* stream, char* data) {
  dprof::pin_for_good(data, BUFSIZ);
  auto next = DPROF_NEXT(setbuf);
  if (next != nullptr) next(stream, data);
}

DPROF_EXPORT void setbuffer(FILE* stream, char* data, size_t size) {
  dprof::pin_for_good(data, size);
  auto next = DPROF_NEXT(setbuffer);
  if (next != nullptr) next(stream, data, size);
}
