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
//   Object    0x17  str module | str qualname | u8 form | then one value: the state
//                   an instance recorded by its class and state, not pickled
//                   (python/src/capture/object_state.cpp). form (ObjectForm):
//                     0 Attrs      state = Dict attribute name -> value (__dict__, then slots)
//                     1 NamedTuple state = Dict field name -> value, in field order
//                     2 Enum       state = Dict {"name": member name, "value": member value}
//                     3 State      state = the value the class's __getstate__ returned
//                   callables recorded by name and parts (module/qualname: the function's):
//                     4 Method     state = __self__ (a bound method: obj.f, [].append, a classmethod
//                                  bound to its class); qualname = the function's (Model.loss)
//                     5 Partial    state = Dict {"func", "args" (Tuple), "keywords" (Dict)};
//                                  module/qualname = functools / partial
//                     6 Wrapper    state = __func__; module/qualname = builtins / staticmethod
//                                  or classmethod (the descriptor objects themselves)
//                     7 Local      state = Dict {"file": str, "line": int}: a lambda or a function
//                                  defined inside a function: not found by name, never rebuilt
//   Ref       0x18  u8 kind (RefKind: 0 function, 1 class, 2 module) | str module | str qualname
//                   a function, class or module recorded by its qualified name
//                   (a module: qualname empty)
//   Builtin   0x20  str kind (the value's type, e.g. "pandas.DataFrame") | one value: its state,
//                   as the built-in handler of that kind writes it (handlers/, docs/handlers.md);
//                   arrays in the state are Array items, so their bytes are payloads like any other
//                   (0x19..0x1F are free)
//
// Shared references and cycles: a tag byte with kMemoFlag set gives the item
// the next memo index (0, 1, 2, ... in stream order, assigned when its header
// is read, i.e. before its children), so a Backref inside a container can
// point at the container itself. Only container-like items (ByteArray, List,
// Tuple, Dict, Set, FrozenSet, Array, Object, Builtin) may carry the flag; an
// Object's index is assigned before its state, so its state may refer to it.
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
    Object = 0x17,
    Ref = 0x18,
    Builtin = 0x20,
};

inline constexpr uint8_t kMemoFlag = 0x80;
inline constexpr uint8_t kMaxTag = 0x18;

inline constexpr bool isMemoizable(Tag t) {
    return t == Tag::ByteArray || t == Tag::List || t == Tag::Tuple || t == Tag::Dict ||
           t == Tag::Set || t == Tag::FrozenSet || t == Tag::Array || t == Tag::Object ||
           t == Tag::Builtin ||
           t == Tag::PayloadBytes;  // only with kind ByteArray
}

// True for the tag codes this reader knows (the parser refuses the others):
// up to kMaxTag, and Builtin beyond the codes left to the object tags.
inline constexpr bool isKnownTag(uint8_t code) { return code <= kMaxTag || code == static_cast<uint8_t>(Tag::Builtin); }

// How an Object's state is laid out, and so how a reader rebuilds it.
enum class ObjectForm : uint8_t {
    Attrs = 0, NamedTuple = 1, Enum = 2, State = 3,
    Method = 4, Partial = 5, Wrapper = 6, Local = 7,  // callables: module/qualname name the function
};
inline constexpr uint8_t kMaxObjectForm = 7;

// The forms whose value is a callable (API derivation types them as functions).
inline constexpr bool isCallableForm(ObjectForm f) { return f >= ObjectForm::Method; }

// What a Ref names.
enum class RefKind : uint8_t { Function = 0, Class = 1, Module = 2 };
inline constexpr uint8_t kMaxRefKind = 2;

enum class ArrayStorage : uint8_t { Inline = 0, Blob = 1 };

}  // namespace callmonitor
