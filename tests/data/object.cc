// Source of the prebuilt objects of the fast ET_REL tests (make_objects.sh): a template in a
// COMDAT group, debug type units in their own groups, local and global symbols, an
// address-significance table, TLS, and relocations of every usual kind.
template <typename T> struct Box {
    T v;
    [[gnu::noinline]] T twice() const { return v + v; }
};
struct Point {
    int x, y;
};
static int counter;
static thread_local int tls_calls;
static int helper(int x) { return x * 3 + counter; }
static int same_a(int x) { return x * 7 + 1; }
static int same_b(int x) { return x * 7 + 1; }
int (*table[2])(int) = {same_a, same_b};
const char *greeting = "hello";
extern int external_value;
int api(int a) {
    Box<int> b{a};
    Point p{a, 2};
    counter++;
    tls_calls++;
    return b.twice() + helper(p.y) + external_value;
}
long api_long(long a) { return Box<long>{a}.twice(); }
