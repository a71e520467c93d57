// A bounds-checked pull parser over encoded values. Every length, count and
// shape is checked against the bytes really present before anyone allocates
// for it, so hostile bytes give a DecodeError (with the byte offset), never a
// crash or a huge allocation. Views in a Token point into the parsed buffer.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "callmonitor/dtype.h"
#include "callmonitor/value_format.h"

namespace callmonitor {

struct Token {
    Tag tag = Tag::None;
    bool memo = false;           // item takes the next memo index
    int64_t integer = 0;         // Int; Object: its ObjectForm; Ref: its RefKind
    bool negative = false;       // BigInt sign
    double real = 0, imag = 0;   // Float, Complex
    uint64_t count = 0;          // List/Tuple/Set/FrozenSet: items; Dict: pairs; Backref: index
    std::string_view data;       // Str/Bytes/ByteArray/BigInt magnitude/Handler/Pickle payload,
                                 // NpScalar bytes, inline Array bytes, Opaque repr
    std::string_view name;       // Handler/Legacy handler name, Opaque/Pickle type name,
                                 // Array/NpScalar dtype, Object/Ref module
    std::string_view extra;      // Opaque reason, Legacy directory, Object/Ref qualname
    // Array
    DtypeInfo dtype;
    char order = 'C';
    std::vector<uint64_t> shape;
    ArrayStorage storage = ArrayStorage::Inline;
    uint32_t blobIndex = 0;      // Array stored apart, PayloadBytes: the payload slot
    Tag payloadKind = Tag::Bytes; // PayloadBytes: Str, Bytes or ByteArray
    uint64_t nbytes = 0;
};

struct ParserLimits {
    uint64_t maxArrayDims = 64;
    uint64_t maxBlobBytes = uint64_t(1) << 40;  // sanity bound on a blob's declared size
};

class ValueParser {
public:
    explicit ValueParser(std::string_view bytes, ParserLimits limits = {});

    // Reads the next token. Throws DecodeError on malformed input. A container
    // token's count is already checked against the remaining bytes (each item
    // takes at least one byte).
    Token next();
    // Like next(), into an existing token (reuses its shape vector).
    void next(Token& out);

    // Skips one whole value (a container with all of its items).
    void skipValue();

    size_t offset() const { return static_cast<size_t>(p_ - begin_); }
    size_t remaining() const { return static_cast<size_t>(end_ - p_); }
    bool atEnd() const { return p_ >= end_; }
    std::string_view rest() const { return {reinterpret_cast<const char*>(p_), remaining()}; }

    // Throws DecodeError saying `what` at the current offset.
    [[noreturn]] void fail(const char* what) const;

protected:
    // Low-level reads (the call record's fields around its values use them,
    // through src/codec/record_fields.h; not public API).
    uint64_t readVarint();
    uint8_t readByte();
    std::string_view readText();
    std::string_view take(uint64_t n);

private:
    const uint8_t* begin_;
    const uint8_t* p_;
    const uint8_t* end_;
    ParserLimits limits_;
};

}  // namespace callmonitor
