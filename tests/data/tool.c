/* An executable shipped in <name>.data/scripts. */
#include <stdio.h>

static int answer(void) { return 42; }

int main(void) {
    printf("demo-tool ok %d\n", answer());
    return 0;
}
