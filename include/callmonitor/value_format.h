// The value encoding: a self-delimiting, pre-order byte stream of tagged items.
// Both the Python capture side and C++ readers go through ValueWriter /
// ValueParser, so this file and value_writer.cpp / value_parser.cpp are the
// only places that know the bytes. Layout per tag (varint = unsigned LEB128,
// str = varint length + UTF-8 bytes):
//
//   None 0x00 | False 0x01 | True 0x02
//   Int       0x03  zigzag varint                      (fits int64)
//   BigInt    0x04  u8 sign(0=+,1=-) | varint n | n bytes magnitude, little-endian
//   Float     0x05  8 bytes IEEE-754 little-endian
//   Complex   0x06  16 bytes (real, imag) little-endian
//   Str       0x07  str  (UTF-8 with surrogates passed through, as Python's "surrogatepass")
//   Bytes     0x08  varint n | n bytes
//   ByteArray 0x09  varint n | n bytes
//   List      0x0A  varint n | n values
//   Tuple     0x0B  varint n | n values
//   Dict      0x0C  varint n | n (key value, value value) pairs, insertion order
//   Set       0x0D  varint n | n values
//   FrozenSet 0x0E  varint n | n values
//   Array     0x0F  str dtype (numpy dtype.str, e.g. "<f8", ">i4", "<M8[ns]")
//                   | u8 order ('C' or 'F') | varint ndim | ndim x varint shape
//                   | u8 storage: 0 = inline: varint nbytes | bytes
//                   |             1 = payload slot: varint slot | varint nbytes
//                   |                 (v1: blob index -> `blobs`; v2: slot -> content hash, chunk.h)
//                   bytes are the elements in `order` (C: row-major, F: column-major)
//   NpScalar  0x10  str dtype | varint n | n bytes
//   Handler   0x11  str handler name | varint n | n bytes   (registered handler's payload)
//   Pickle    0x12  str type name | varint n | n bytes      (pickle protocol 5)
//   Opaque    0x13  str type name | str repr | str reason   (value that could not be kept)
//   Backref   0x14  varint memo index                       (an object seen earlier)
//   Legacy    0x15  str handler name | str directory (relative to the writer) | value state
//   PayloadBytes 0x16  u8 kind (Str, Bytes or ByteArray tag) | varint slot | varint nbytes
//                   a large str/bytes/bytearray whose bytes are a payload slot (v2)
//   Builtin   0x20  str kind (the value's type, e.g. "pandas.DataFrame") | one value: its state,
//                   as the built-in handler of that kind writes it (handlers/, docs/handlers.md);
//                   arrays in the state are Array items, so their bytes are payloads like any other
//                   (0x17..0x1F are left to the object-by-state tags of issue 9)
//
// Shared references and cycles: a tag byte with kMemoFlag set gives the item
// the next memo index (0, 1, 2, ... in stream order, assigned when its header
// is read, i.e. before its children), so a Backref inside a container can
// point at the container itself. Only container-like items (ByteArray, List,
// Tuple, Dict, Set, FrozenSet, Array, Builtin) may carry the flag.
#pragma once

#include <cstdint>

namespace callmonitor {

enum class Tag : uint8_t {
    None = 0x00,
    False = 0x01,
    True = 0x02,
    Int = 0x03,
    BigInt = 0x04,
    Float = 0x05,
    Complex = 0x06,
    Str = 0x07,
    Bytes = 0x08,
    ByteArray = 0x09,
    List = 0x0A,
    Tuple = 0x0B,
    Dict = 0x0C,
    Set = 0x0D,
    FrozenSet = 0x0E,
    Array = 0x0F,
    NpScalar = 0x10,
    Handler = 0x11,
    Pickle = 0x12,
    Opaque = 0x13,
    Backref = 0x14,
    Legacy = 0x15,
    PayloadBytes = 0x16,
    Builtin = 0x20,
};

inline constexpr uint8_t kMemoFlag = 0x80;
inline constexpr uint8_t kMaxTag = 0x16;

inline constexpr bool isMemoizable(Tag t) {
    return t == Tag::ByteArray || t == Tag::List || t == Tag::Tuple || t == Tag::Dict ||
           t == Tag::Set || t == Tag::FrozenSet || t == Tag::Array ||
           t == Tag::Builtin ||
           t == Tag::PayloadBytes;  // only with kind ByteArray
}

// True for the tag codes this reader knows (the parser refuses the others):
// up to kMaxTag, and Builtin beyond the codes left to the object tags.
inline constexpr bool isKnownTag(uint8_t code) { return code <= kMaxTag || code == static_cast<uint8_t>(Tag::Builtin); }

enum class ArrayStorage : uint8_t { Inline = 0, Blob = 1 };

}  // namespace callmonitor
