// Appends encoded values to a byte string (see value_format.h for the bytes).
// The writer does not check nesting: a caller that announces a container of n
// items must write exactly n values (2n for Dict) after it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "callmonitor/value_format.h"

namespace callmonitor {

struct ArrayHeader {
    std::string_view dtype;        // numpy dtype.str
    char order = 'C';              // 'C' or 'F'
    std::vector<uint64_t> shape;
};

class ValueWriter {
public:
    explicit ValueWriter(std::string& out) : out_(out) {}

    void none() { tag(Tag::None); }
    void boolean(bool v) { tag(v ? Tag::True : Tag::False); }
    void integer(int64_t v);
    // Magnitude as little-endian bytes (no leading zero bytes needed).
    void bigInteger(bool negative, const uint8_t* magnitudeLE, size_t n);
    void real(double v);
    void complex(double re, double im);
    void str(std::string_view utf8);
    void bytes(std::string_view data);
    void byteArray(std::string_view data, bool memo);

    void beginList(uint64_t n, bool memo) { container(Tag::List, n, memo); }
    void beginTuple(uint64_t n, bool memo) { container(Tag::Tuple, n, memo); }
    void beginDict(uint64_t n, bool memo) { container(Tag::Dict, n, memo); }
    void beginSet(uint64_t n, bool memo) { container(Tag::Set, n, memo); }
    void beginFrozenSet(uint64_t n, bool memo) { container(Tag::FrozenSet, n, memo); }

    // Array with its element bytes inline. `data` holds nbytes bytes in `order`.
    void arrayInline(const ArrayHeader& h, const void* data, size_t nbytes, bool memo);
    // Array whose bytes are stored apart, as payload slot `blobIndex` of this call.
    void arrayBlob(const ArrayHeader& h, uint32_t blobIndex, uint64_t nbytes, bool memo);
    // Starts an inline array and returns where its nbytes bytes must be
    // written (the caller fills them, e.g. with a strided copy).
    uint8_t* arrayInlineReserve(const ArrayHeader& h, size_t nbytes, bool memo);

    // A str/bytes/bytearray (kind) whose bytes are payload slot `slot`.
    void payloadBytes(Tag kind, uint32_t slot, uint64_t nbytes, bool memo);

    void numpyScalar(std::string_view dtype, const void* data, size_t n);
    // A value of a built-in handler's kind (e.g. "pandas.DataFrame"). Must be
    // followed by exactly one value: its state (docs/handlers.md).
    void beginBuiltin(std::string_view kind, bool memo);
    void handler(std::string_view name, std::string_view payload);
    void pickle(std::string_view typeName, std::string_view payload);
    void opaque(std::string_view typeName, std::string_view repr, std::string_view reason);
    void backref(uint64_t memoIndex);
    // Must be followed by exactly one value: the handler's state.
    void beginLegacy(std::string_view handlerName, std::string_view directory);
    // An object by its class and state: must be followed by exactly one
    // value, the state laid out as `form` says (value_format.h).
    void beginObject(std::string_view module, std::string_view qualname, ObjectForm form, bool memo);
    // A function, class or module by its qualified name.
    void reference(RefKind kind, std::string_view module, std::string_view qualname);

    std::string& buffer() { return out_; }

private:
    void tag(Tag t, bool memo = false) {
        out_.push_back(static_cast<char>(static_cast<uint8_t>(t) | (memo ? kMemoFlag : 0)));
    }
    void container(Tag t, uint64_t n, bool memo);
    void text(std::string_view s);
    void arrayHeader(const ArrayHeader& h, bool memo);

    std::string& out_;
};

}  // namespace callmonitor
