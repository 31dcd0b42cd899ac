/* Source of the prebuilt PIE executable of the fast rewriter tests (make.sh). */
#include <stdio.h>

__attribute__((noinline)) static int answer(void) { return 42; }

int main(void) {
    printf("tool %d\n", answer());
    return 0;
}
