/* The extension the debugger tests ask about: a static function only a debug file can place
   on a source line, and an exported one that stops the process inside the extension, so
   that a debugger attached from outside finds it there. Line numbers are asserted: keep
   scale on line 9 and the raise on line 13. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>

static long scale(long value, long factor) { return value * factor; }

/* Exported: a breakpoint finds it by name with or without a debug file. */
PyObject *debug_ext_pause(PyObject *self, PyObject *unused) {
    raise(SIGSTOP);
    return PyLong_FromLong(scale(21, 2));
}

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(scale(a + b, 1));
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "Add two integers."},
    {"pause", debug_ext_pause, METH_NOARGS, "Stop the process with SIGSTOP, then return 42."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};

PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
