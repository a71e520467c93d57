// The ndarray handler's entry in the table (handlers/builtin_table.cpp):
// numpy.ndarray (exact type, dtypes stored natively) as Array values and
// numpy scalars as NpScalar values, bit-exact; array_python.cpp does the work.
// Arrays of other dtypes (object, structured) are declined: they are
// pickled, as before.
#include "builtin_handler.h"
#include "callmonitor/errors.h"
#include "ndarray/python/array_python.h"
#include "read/py_decoder.h"

namespace callmonitor::py {
namespace {

class NdarrayHandler final : public BuiltinHandler {
public:
    std::string_view name() const override { return "ndarray"; }
    std::string_view neededModule() const override { return "numpy"; }

    bool takesType(PyTypeObject* type) override { return ensureNumpy() && isArrayOrScalarType(type); }

    Encoded encode(HandlerEncoder& cx, PyObject* obj) override {
        if (isArrayType(Py_TYPE(obj))) {
            if (!isPlainArray(obj)) return Encoded::Declined;
            if (cx.backref(obj)) return Encoded::Written;
            bool memo = cx.takeMemo(obj);
            return writeArray(cx.writer, obj, memo, cx.payloads) ? Encoded::Written : Encoded::Failed;
        }
        if (!isNumericScalar(obj)) return Encoded::Declined;
        if (writeScalar(cx.writer, obj)) return Encoded::Written;
        PyErr_Clear();  // a scalar numpy cannot convert: pickled
        return Encoded::Declined;
    }

    bool decodesTag(Tag tag) const override { return tag == Tag::Array || tag == Tag::NpScalar; }

    PyObject* decode(const Token& t, const DecodeOptions& opt) override {
        if (t.tag == Tag::NpScalar) return readScalar(t);
        if (t.storage == ArrayStorage::Inline) return readOnly(readArray(t, t.data), opt);
        if (!opt.blobs) {
            PyErr_SetString(PyExc_ValueError, "array stored apart but no blob source");
            return nullptr;
        }
        std::string_view b = opt.blobs(t.blobIndex);
        if (b.size() != t.nbytes) {
            if (opt.blobDone) opt.blobDone();
            throw CorruptError("array blob size does not match its header");
        }
        if (opt.keepAlive) {
            PyObject* base = opt.keepAlive();
            return base ? viewArray(t, b, base) : nullptr;
        }
        PyObject* arr = readOnly(readArray(t, b), opt);
        if (opt.blobDone) opt.blobDone();
        return arr;
    }

private:
    static PyObject* readOnly(PyObject* array, const DecodeOptions& opt) {
        if (array && opt.readOnlyArrays) makeReadOnly(array);
        return array;
    }
};

}  // namespace

BuiltinHandler& ndarrayHandler() {
    static NdarrayHandler h;
    return h;
}

}  // namespace callmonitor::py
