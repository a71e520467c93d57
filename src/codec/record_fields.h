// Reading a call record's fields around its values (format.h): ValueParser's
// low-level reads, kept out of the public API. call_record.cpp only.
#pragma once

#include "callmonitor/value_parser.h"

namespace callmonitor::codec {

class RecordFieldParser : public ValueParser {
public:
    using ValueParser::ValueParser;
    using ValueParser::readByte;
    using ValueParser::readText;
    using ValueParser::readVarint;
    void skipBytes(uint64_t n) { take(n); }
};

}  // namespace callmonitor::codec
