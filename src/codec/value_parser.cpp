#include "callmonitor/value_parser.h"

#include <cstring>
#include <string>

#include "callmonitor/errors.h"
#include "codec/varint.h"

namespace callmonitor {

ValueParser::ValueParser(std::string_view bytes, ParserLimits limits)
    : begin_(reinterpret_cast<const uint8_t*>(bytes.data())),
      p_(begin_),
      end_(begin_ + bytes.size()),
      limits_(limits) {}

void ValueParser::fail(const char* what) const {
    throw DecodeError(std::string("malformed value: ") + what + " at byte " + std::to_string(offset()));
}

uint64_t ValueParser::readVarint() {
    uint64_t v;
    if (!callmonitor::readVarint(p_, end_, v)) fail("truncated or overlong varint");
    return v;
}

uint8_t ValueParser::readByte() {
    if (p_ >= end_) fail("unexpected end of data");
    return *p_++;
}

std::string_view ValueParser::take(uint64_t n) {
    if (n > remaining()) fail("length exceeds the bytes present");
    std::string_view v(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return v;
}

std::string_view ValueParser::readText() { return take(readVarint()); }

namespace {
double readLE64(std::string_view b) {
    uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(b[i]);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
}
}  // namespace

Token ValueParser::next() {
    Token t;
    next(t);
    return t;
}

void ValueParser::next(Token& t) {
    uint8_t raw = readByte();
    uint8_t code = raw & static_cast<uint8_t>(~kMemoFlag);
    if (!isKnownTag(code)) fail("unknown tag");
    t.tag = static_cast<Tag>(code);
    t.memo = (raw & kMemoFlag) != 0;
    if (t.memo && !isMemoizable(t.tag)) fail("memo flag on a value that cannot be shared");
    t.data = {};
    t.name = {};
    t.extra = {};
    t.count = 0;
    switch (t.tag) {
        case Tag::None:
        case Tag::False:
        case Tag::True:
            break;
        case Tag::Int:
            t.integer = unzigzag(readVarint());
            break;
        case Tag::BigInt: {
            uint8_t sign = readByte();
            if (sign > 1) fail("bad integer sign");
            t.negative = sign == 1;
            t.data = readText();
            break;
        }
        case Tag::Float:
            t.real = readLE64(take(8));
            break;
        case Tag::Complex: {
            auto b = take(16);
            t.real = readLE64(b.substr(0, 8));
            t.imag = readLE64(b.substr(8, 8));
            break;
        }
        case Tag::Str:
        case Tag::Bytes:
        case Tag::ByteArray:
            t.data = readText();
            break;
        case Tag::Pickle:
            t.name = readText();
            t.data = readText();
            break;
        case Tag::List:
        case Tag::Tuple:
        case Tag::Set:
        case Tag::FrozenSet:
            t.count = readVarint();
            if (t.count > remaining()) fail("item count exceeds the bytes present");
            break;
        case Tag::Dict:
            t.count = readVarint();
            if (t.count > remaining() / 2) fail("pair count exceeds the bytes present");
            break;
        case Tag::Array: {
            t.name = readText();
            if (!parseDtype(t.name, t.dtype)) fail("unsupported array dtype");
            uint8_t order = readByte();
            if (order != 'C' && order != 'F') fail("bad array order");
            t.order = static_cast<char>(order);
            uint64_t ndim = readVarint();
            if (ndim > limits_.maxArrayDims || ndim > remaining()) fail("too many array dimensions");
            t.shape.resize(static_cast<size_t>(ndim));
            // Like numpy, the product of the non-zero dimensions times the item
            // size must fit (else strides overflow, even for an empty array).
            uint64_t elems = 1;
            bool zero = false;
            for (auto& s : t.shape) {
                s = readVarint();
                if (s == 0) zero = true;
                else if (elems > (uint64_t(1) << 62) / s) fail("array shape overflows");
                else elems *= s;
            }
            if (t.dtype.itemSize != 0 && elems > (uint64_t(1) << 62) / t.dtype.itemSize)
                fail("array size overflows");
            if (zero) elems = 0;
            uint64_t expect = elems * t.dtype.itemSize;
            uint8_t storage = readByte();
            if (storage == static_cast<uint8_t>(ArrayStorage::Inline)) {
                t.storage = ArrayStorage::Inline;
                t.nbytes = readVarint();
                if (t.nbytes != expect) fail("array byte count does not match its shape and dtype");
                t.data = take(t.nbytes);
            } else if (storage == static_cast<uint8_t>(ArrayStorage::Blob)) {
                t.storage = ArrayStorage::Blob;
                uint64_t idx = readVarint();
                if (idx > 0xFFFFFFFFu) fail("blob index out of range");
                t.blobIndex = static_cast<uint32_t>(idx);
                t.nbytes = readVarint();
                if (t.nbytes != expect) fail("array byte count does not match its shape and dtype");
                if (t.nbytes > limits_.maxBlobBytes) fail("array blob too large");
            } else {
                fail("bad array storage");
            }
            break;
        }
        case Tag::NpScalar:
            t.name = readText();
            if (!parseDtype(t.name, t.dtype)) fail("unsupported scalar dtype");
            t.data = readText();
            if (t.data.size() != t.dtype.itemSize) fail("scalar size does not match its dtype");
            break;
        case Tag::Builtin:
            t.name = readText();
            if (remaining() == 0) fail("built-in handler value without state");
            break;
        case Tag::Handler:
            t.name = readText();
            t.data = readText();
            break;
        case Tag::Opaque:
            t.name = readText();
            t.data = readText();
            t.extra = readText();
            break;
        case Tag::Backref:
            t.count = readVarint();
            break;
        case Tag::Legacy:
            t.name = readText();
            t.extra = readText();
            if (remaining() == 0) fail("legacy handler without state");
            break;
        case Tag::Object: {
            t.name = readText();
            t.extra = readText();
            const uint8_t form = readByte();
            if (form > kMaxObjectForm) fail("unknown object form");
            t.integer = form;
            if (remaining() == 0) fail("object without state");
            break;
        }
        case Tag::Ref: {
            const uint8_t kind = readByte();
            if (kind > kMaxRefKind) fail("unknown reference kind");
            t.integer = kind;
            t.name = readText();
            t.extra = readText();
            break;
        }
        case Tag::PayloadBytes: {
            const uint8_t kind = readByte();
            if (kind != uint8_t(Tag::Str) && kind != uint8_t(Tag::Bytes) && kind != uint8_t(Tag::ByteArray))
                fail("bad payload bytes kind");
            t.payloadKind = static_cast<Tag>(kind);
            if (t.memo && t.payloadKind != Tag::ByteArray) fail("memo flag on a value that cannot be shared");
            const uint64_t idx = readVarint();
            if (idx > 0xFFFFFFFFu) fail("payload slot out of range");
            t.blobIndex = static_cast<uint32_t>(idx);
            t.nbytes = readVarint();
            if (t.nbytes > limits_.maxBlobBytes) fail("payload too large");
            break;
        }
    }
}

void ValueParser::skipValue() {
    uint64_t pending = 1;
    Token t;
    while (pending > 0) {
        // The common tags inline, with next()'s checks but without filling a
        // Token (the streaming reader skips every call's inputs this way).
        if (p_ < end_) {
            const uint8_t raw = *p_;
            bool fast = true;
            if (raw & kMemoFlag) {
                fast = false;
            } else {
                switch (static_cast<Tag>(raw)) {
                    case Tag::None: case Tag::False: case Tag::True: ++p_; break;
                    case Tag::Int: ++p_; (void)readVarint(); break;
                    case Tag::Float: ++p_; (void)take(8); break;
                    case Tag::Str: case Tag::Bytes: ++p_; (void)readText(); break;
                    case Tag::List: case Tag::Tuple: {
                        ++p_;
                        const uint64_t n = readVarint();
                        if (n > remaining()) fail("item count exceeds the bytes present");
                        pending += n;
                        break;
                    }
                    case Tag::Dict: {
                        ++p_;
                        const uint64_t n = readVarint();
                        if (n > remaining() / 2) fail("pair count exceeds the bytes present");
                        pending += 2 * n;
                        break;
                    }
                    default: fast = false;
                }
            }
            if (fast) {
                --pending;
                if (pending > remaining()) fail("more items announced than bytes present");
                continue;
            }
        }
        next(t);
        --pending;
        switch (t.tag) {
            case Tag::Builtin: pending += 1; break;  // its state
            case Tag::List: case Tag::Tuple: case Tag::Set: case Tag::FrozenSet: pending += t.count; break;
            case Tag::Dict: pending += 2 * t.count; break;
            case Tag::Legacy: case Tag::Object: pending += 1; break;
            default: break;
        }
        if (pending > remaining()) fail("more items announced than bytes present");
    }
}

}  // namespace callmonitor
