// Typed errors of the core. Each message says what failed and where (path,
// LMDB call, byte offset); callers handle the classes differently.
#pragma once

#include <stdexcept>
#include <string>

namespace callmonitor {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Reading a database.
struct DatabaseError : Error {
    using Error::Error;
};
struct NotFoundError : DatabaseError {       // path does not exist
    using DatabaseError::DatabaseError;
};
struct NotADatabaseError : DatabaseError {   // exists, but holds no callmonitor environment
    using DatabaseError::DatabaseError;
};
struct VersionError : DatabaseError {        // written by a newer format version
    using DatabaseError::DatabaseError;
};
struct CorruptError : DatabaseError {        // truncated or garbage LMDB file or record
    using DatabaseError::DatabaseError;
};
struct UnknownFunctionError : DatabaseError {
    using DatabaseError::DatabaseError;
};
// A name matches several recorded functions (different modules, or two
// definitions of one name: a redefined function, two lambdas); the message
// lists how to name each (Run::resolve).
struct AmbiguousFunctionError : UnknownFunctionError {
    using UnknownFunctionError::UnknownFunctionError;
};
struct CallNotFoundError : DatabaseError {   // invocation number out of range
    using DatabaseError::DatabaseError;
};

// Malformed value bytes (always treated as hostile input).
struct DecodeError : CorruptError {
    using CorruptError::CorruptError;
};

// Converting a stored value to a C++ type that does not match it
// (e.g. xarray<double> from an int32 array).
struct TypeMismatchError : Error {
    using Error::Error;
};

// Writing.
struct StoreError : Error {
    using Error::Error;
};

}  // namespace callmonitor
