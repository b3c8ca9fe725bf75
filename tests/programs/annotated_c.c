/* The annotation header from a C program: a marker and a phase around one allocation, and a
 * marker whose name carries markup and a terminal escape sequence (reports must defuse both). */
#include <stdlib.h>

#include "damon_prof/annotate.h"

int main(void) {
  damon_prof_marker("from C");
  damon_prof_phase_begin("c phase");
  void* volatile block = malloc(4096);
  free(block);
  damon_prof_phase_end("c phase");
  damon_prof_marker("<script>alert(1)</script>\x1b]0;pwned\x07");
  return 0;
}
