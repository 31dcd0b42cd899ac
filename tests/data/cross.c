/* Built for other architectures; never run, only parsed. */
static int hidden(int x) { return x + 1; }

int exported(int x) { return hidden(x) * 3; }
