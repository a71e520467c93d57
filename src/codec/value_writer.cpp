#include "callmonitor/value_writer.h"

#include <cstring>

#include "codec/varint.h"

namespace callmonitor {

void ValueWriter::integer(int64_t v) {
    tag(Tag::Int);
    appendVarint(out_, zigzag(v));
}

void ValueWriter::bigInteger(bool negative, const uint8_t* mag, size_t n) {
    while (n > 0 && mag[n - 1] == 0) --n;
    tag(Tag::BigInt);
    out_.push_back(negative ? 1 : 0);
    appendVarint(out_, n);
    out_.append(reinterpret_cast<const char*>(mag), n);
}

namespace {
void appendLE64(std::string& out, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
    out.append(b, 8);
}
}  // namespace

void ValueWriter::real(double v) {
    tag(Tag::Float);
    appendLE64(out_, v);
}

void ValueWriter::complex(double re, double im) {
    tag(Tag::Complex);
    appendLE64(out_, re);
    appendLE64(out_, im);
}

void ValueWriter::text(std::string_view s) {
    appendVarint(out_, s.size());
    out_.append(s.data(), s.size());
}

void ValueWriter::str(std::string_view utf8) {
    tag(Tag::Str);
    text(utf8);
}

void ValueWriter::bytes(std::string_view data) {
    tag(Tag::Bytes);
    text(data);
}

void ValueWriter::byteArray(std::string_view data, bool memo) {
    tag(Tag::ByteArray, memo);
    text(data);
}

void ValueWriter::container(Tag t, uint64_t n, bool memo) {
    tag(t, memo);
    appendVarint(out_, n);
}

void ValueWriter::arrayHeader(const ArrayHeader& h, bool memo) {
    tag(Tag::Array, memo);
    text(h.dtype);
    out_.push_back(h.order == 'F' ? 'F' : 'C');
    appendVarint(out_, h.shape.size());
    for (uint64_t s : h.shape) appendVarint(out_, s);
}

void ValueWriter::arrayInline(const ArrayHeader& h, const void* data, size_t nbytes, bool memo) {
    uint8_t* dst = arrayInlineReserve(h, nbytes, memo);
    if (nbytes) std::memcpy(dst, data, nbytes);
}

uint8_t* ValueWriter::arrayInlineReserve(const ArrayHeader& h, size_t nbytes, bool memo) {
    arrayHeader(h, memo);
    out_.push_back(static_cast<char>(ArrayStorage::Inline));
    appendVarint(out_, nbytes);
    size_t at = out_.size();
    out_.resize(at + nbytes);
    return reinterpret_cast<uint8_t*>(&out_[at]);
}

void ValueWriter::arrayBlob(const ArrayHeader& h, uint32_t blobIndex, uint64_t nbytes, bool memo) {
    arrayHeader(h, memo);
    out_.push_back(static_cast<char>(ArrayStorage::Blob));
    appendVarint(out_, blobIndex);
    appendVarint(out_, nbytes);
}

void ValueWriter::numpyScalar(std::string_view dtype, const void* data, size_t n) {
    tag(Tag::NpScalar);
    text(dtype);
    text(std::string_view(static_cast<const char*>(data), n));
}

void ValueWriter::beginBuiltin(std::string_view kind, bool memo) {
    tag(Tag::Builtin, memo);
    text(kind);
}

void ValueWriter::handler(std::string_view name, std::string_view payload) {
    tag(Tag::Handler);
    text(name);
    text(payload);
}

void ValueWriter::pickle(std::string_view typeName, std::string_view payload) {
    tag(Tag::Pickle);
    text(typeName);
    text(payload);
}

void ValueWriter::opaque(std::string_view typeName, std::string_view repr, std::string_view reason) {
    tag(Tag::Opaque);
    text(typeName);
    text(repr);
    text(reason);
}

void ValueWriter::backref(uint64_t memoIndex) {
    tag(Tag::Backref);
    appendVarint(out_, memoIndex);
}

void ValueWriter::beginLegacy(std::string_view handlerName, std::string_view directory) {
    tag(Tag::Legacy);
    text(handlerName);
    text(directory);
}

void ValueWriter::beginObject(std::string_view module, std::string_view qualname, ObjectForm form, bool memo) {
    tag(Tag::Object, memo);
    text(module);
    text(qualname);
    out_.push_back(static_cast<char>(form));
}

void ValueWriter::reference(RefKind kind, std::string_view module, std::string_view qualname) {
    tag(Tag::Ref);
    out_.push_back(static_cast<char>(kind));
    text(module);
    text(qualname);
}

void ValueWriter::payloadBytes(Tag kind, uint32_t slot, uint64_t nbytes, bool memo) {
    tag(Tag::PayloadBytes, memo && kind == Tag::ByteArray);
    out_.push_back(static_cast<char>(kind));
    appendVarint(out_, slot);
    appendVarint(out_, nbytes);
}

}  // namespace callmonitor
