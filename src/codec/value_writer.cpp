#include "callmonitor/value_writer.h"

#include <cstring>

namespace callmonitor {

void ValueWriter::raw(const void* data, size_t n) {
    if (buf_) buf_->append(static_cast<const char*>(data), n);
    else str_->append(static_cast<const char*>(data), n);
}

void ValueWriter::bigInteger(bool negative, const uint8_t* mag, size_t n) {
    while (n > 0 && mag[n - 1] == 0) --n;
    char* p = begin(2 + detail::kMaxVarintBytes);
    *p++ = static_cast<char>(Tag::BigInt);
    *p++ = negative ? 1 : 0;
    end(detail::putVarint(p, n));
    raw(mag, n);
}

void ValueWriter::arrayHeader(const ArrayHeader& h, bool memo) {
    tag(Tag::Array, memo);
    field(h.dtype);
    char* p = begin(1 + detail::kMaxVarintBytes);
    *p++ = h.order == 'F' ? 'F' : 'C';
    end(detail::putVarint(p, h.shape.size()));
    for (uint64_t s : h.shape) end(detail::putVarint(begin(detail::kMaxVarintBytes), s));
}

void ValueWriter::arrayInline(const ArrayHeader& h, const void* data, size_t nbytes, bool memo) {
    uint8_t* dst = arrayInlineReserve(h, nbytes, memo);
    if (nbytes) std::memcpy(dst, data, nbytes);
}

uint8_t* ValueWriter::arrayInlineReserve(const ArrayHeader& h, size_t nbytes, bool memo) {
    arrayHeader(h, memo);
    char* p = begin(1 + detail::kMaxVarintBytes);
    *p++ = static_cast<char>(ArrayStorage::Inline);
    end(detail::putVarint(p, nbytes));
    if (buf_) {
        char* at = buf_->space(nbytes);
        buf_->advanceTo(at + nbytes);
        return reinterpret_cast<uint8_t*>(at);
    }
    const size_t at = str_->size();
    str_->resize(at + nbytes);
    return reinterpret_cast<uint8_t*>(&(*str_)[at]);
}

void ValueWriter::arrayBlob(const ArrayHeader& h, uint32_t blobIndex, uint64_t nbytes, bool memo) {
    arrayHeader(h, memo);
    char* p = begin(1 + 2 * detail::kMaxVarintBytes);
    *p++ = static_cast<char>(ArrayStorage::Blob);
    p = detail::putVarint(p, blobIndex);
    end(detail::putVarint(p, nbytes));
}

void ValueWriter::numpyScalar(std::string_view dtype, const void* data, size_t n) {
    tag(Tag::NpScalar);
    field(dtype);
    field(std::string_view(static_cast<const char*>(data), n));
}

void ValueWriter::beginBuiltin(std::string_view kind, bool memo) {
    tag(Tag::Builtin, memo);
    field(kind);
}

void ValueWriter::handler(std::string_view name, std::string_view payload) {
    tag(Tag::Handler);
    field(name);
    field(payload);
}

void ValueWriter::pickle(std::string_view typeName, std::string_view payload) {
    tag(Tag::Pickle);
    field(typeName);
    field(payload);
}

void ValueWriter::opaque(std::string_view typeName, std::string_view repr, std::string_view reason) {
    tag(Tag::Opaque);
    field(typeName);
    field(repr);
    field(reason);
}

void ValueWriter::beginLegacy(std::string_view handlerName, std::string_view directory) {
    tag(Tag::Legacy);
    field(handlerName);
    field(directory);
}

void ValueWriter::beginObject(std::string_view module, std::string_view qualname, ObjectForm form, bool memo) {
    tag(Tag::Object, memo);
    field(module);
    field(qualname);
    char* p = begin(1);
    *p = static_cast<char>(form);
    end(p + 1);
}

void ValueWriter::reference(RefKind kind, std::string_view module, std::string_view qualname) {
    char* p = begin(2);
    p[0] = static_cast<char>(tagByte(Tag::Ref, false));
    p[1] = static_cast<char>(kind);
    end(p + 2);
    field(module);
    field(qualname);
}

void ValueWriter::payloadBytes(Tag kind, uint32_t slot, uint64_t nbytes, bool memo) {
    char* p = begin(2 + 2 * detail::kMaxVarintBytes);
    *p++ = static_cast<char>(tagByte(Tag::PayloadBytes, memo && kind == Tag::ByteArray));
    *p++ = static_cast<char>(kind);
    p = detail::putVarint(p, slot);
    end(detail::putVarint(p, nbytes));
}

}  // namespace callmonitor
