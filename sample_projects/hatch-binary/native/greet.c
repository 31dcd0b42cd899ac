#include <stdio.h>

static const char *greeting(void) { return "hello from libgreet"; }

int greet(char *buffer, int size) { return snprintf(buffer, (size_t)size, "%s", greeting()); }

int triple(int x) { return 3 * x; }
