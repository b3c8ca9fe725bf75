#include <stdio.h>
#include <stdlib.h>
#include "calc.h"
int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10;
  char shouted[64];
  shout("built by make", shouted);
  printf("fibonacci(%d) = %lu, primes below %d: %lu, %s\n", n, fibonacci(n), n * 1000,
         primes_below(n * 1000), shouted);
  return 0;
}
