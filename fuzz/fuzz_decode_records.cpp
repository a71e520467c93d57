// libFuzzer target: the record decoders on hostile bytes. The first input
// byte picks the decoder, the rest is the record:
//   0 value (decodeValue)       1 call record (parseCallRecord + its values)
//   2 FunctionInfo (+ defaults) 3 ThreadInfo   4 WriterInfo   5 CaptureStats
//   6 meta["sources"] of a merged environment (vector<SourceInfo>)
//   7 a v2 chunk   8 a stored payload   9 SiteInfo
// Every failure must be a callmonitor::Error; any other exception, crash,
// sanitizer report, leak or allocation above -malloc_limit_mb is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "callmonitor/records.h"
#include "callmonitor/value.h"
#include "callmonitor/value_parser.h"
#include "codec/chunk.h"
#include "codec/payload_codec.h"
#include "exercise.h"
#include "fuzz_inputs.h"

using namespace callmonitor;

namespace {

// Blob arrays resolve to this many bytes of zeros, whatever they declare:
// the decoder must check the size the resolver returns.
std::string_view fakeBlob(uint32_t index) {
    static const std::string bytes(4096, '\0');
    return std::string_view(bytes).substr(0, index % 4097);
}

void decodeOne(fuzz::RecordKind kind, std::string_view bytes) {
    switch (kind) {
        case fuzz::RecordKind::Value: {
            ValueParser p(bytes);
            p.skipValue();
            fuzz::exerciseValue(decodeValue(bytes, fakeBlob));
            break;
        }
        case fuzz::RecordKind::Call:
            fuzz::exerciseCall(parseCallRecord(bytes), fakeBlob);
            break;
        case fuzz::RecordKind::Function:
            fuzz::exerciseFunction(decodeFunctionInfo(bytes));
            break;
        case fuzz::RecordKind::Thread:
            (void)decodeThreadInfo(bytes);
            break;
        case fuzz::RecordKind::Writer:
            (void)decodeWriterInfo(bytes);
            break;
        case fuzz::RecordKind::Stats:
            (void)decodeCaptureStats(bytes);
            break;
        case fuzz::RecordKind::Sources:
            (void)decodeSources(bytes);
            break;
        case fuzz::RecordKind::Chunk: {
            if (bytes.empty()) break;
            codec::ChunkReader r(bytes.substr(1), uint64_t(uint8_t(bytes[0])));
            codec::ChunkEntry e;
            while (r.next(e)) {
                try {
                    fuzz::exerciseCall(parseCallRecord(e.record, format::CallKey{1, e.invocation}), fakeBlob);
                } catch (const Error&) {
                }
            }
            break;
        }
        case fuzz::RecordKind::Payload: {
            const codec::PayloadView p = codec::parsePayload(bytes);
            std::string raw;
            if (p.codec == codec::PayloadCodec::Zstd) codec::decompressPayload(p, raw);
            break;
        }
        case fuzz::RecordKind::Site:
            (void)decodeSiteInfo(bytes);
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const auto kind = static_cast<fuzz::RecordKind>(data[0] % fuzz::kRecordKinds);
    try {
        decodeOne(kind, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    } catch (const Error&) {
        // the expected outcome for malformed bytes
    }
    return 0;
}
