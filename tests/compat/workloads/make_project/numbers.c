#include <stdlib.h>
#include "calc.h"
unsigned long fibonacci(int n) {
  unsigned long a = 0, b = 1;
  for (int i = 0; i < n; ++i) { b = a + b; a = b - a; }
  return a;
}
unsigned long primes_below(int n) {
  char* composite = calloc((size_t)n, 1);
  unsigned long count = 0;
  for (int i = 2; i < n; ++i) {
    if (composite[i]) continue;
    ++count;
    for (long j = (long)i * i; j < n; j += i) composite[j] = 1;
  }
  free(composite);
  return count;
}
