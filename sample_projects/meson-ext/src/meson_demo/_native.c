#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long negate_long(long x) { return -x; }

static PyObject *negate(PyObject *self, PyObject *arg) {
    long x = PyLong_AsLong(arg);
    if (x == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromLong(negate_long(x));
}

static PyMethodDef methods[] = {
    {"negate", negate, METH_O, "Negate an integer."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
