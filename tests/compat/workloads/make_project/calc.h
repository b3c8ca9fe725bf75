unsigned long fibonacci(int n);
unsigned long primes_below(int n);
void shout(const char* text, char* out);
