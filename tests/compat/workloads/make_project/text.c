#include <ctype.h>
#include "calc.h"
void shout(const char* text, char* out) {
  while ((*out++ = (char)toupper((unsigned char)*text++))) {
  }
}
