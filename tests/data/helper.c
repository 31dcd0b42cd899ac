/* A shared library loaded with ctypes by the tests. */
static int twice(int x) { return 2 * x; }

int helper_mul(int a, int b) { return twice(a * b) / 2; }
