/* A small extension module with a static helper, so that the static symbol table has
   local symbols to drop and the debug info has something to describe. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long scale(long value, long factor) { return value * factor; }

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(scale(a + b, 1));
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "Add two integers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};

PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
