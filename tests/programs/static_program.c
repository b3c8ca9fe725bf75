/* Statically linked: the runtime cannot be preloaded into it. */
int main(void) {
  return 0;
}
