#include <stdio.h>

static int answer(void) { return 42; }

int main(void) {
    printf("hello from a native executable: %d\n", answer());
    return 0;
}
