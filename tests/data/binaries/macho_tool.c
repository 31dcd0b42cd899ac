/* Source of the prebuilt Mach-O executable of the fast rewriter tests (make.sh). */
__attribute__((noinline)) static int twice(int x) { return 2 * x; }

int main(void) { return twice(21) - 42; }
