/* The annotation header from a C program: a marker and a phase around one allocation. */
#include <stdlib.h>

#include "damon_prof/annotate.h"

int main(void) {
  damon_prof_marker("from C");
  damon_prof_phase_begin("c phase");
  void* volatile block = malloc(4096);
  free(block);
  damon_prof_phase_end("c phase");
  return 0;
}
