// callmonitor-fuzz-seeds OUTDIR: writes the seed corpora of both fuzz targets
// from real records (sample_records.h), in the input layouts of fuzz_inputs.h:
//   OUTDIR/decode_records/*   one record each, behind its decoder byte
//   OUTDIR/open_database/*    edit scripts re-putting each real record, and
//                             meta-page overwrites with the real meta bytes
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "callmonitor/call_record.h"
#include "callmonitor/records.h"
#include "codec/chunk.h"
#include "codec/keys.h"
#include "codec/payload_codec.h"
#include "fuzz_inputs.h"
#include "sample_records.h"

using namespace callmonitor;
namespace fs = std::filesystem;

namespace {

void writeSeed(const fs::path& dir, const std::string& name, const std::string& bytes) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string decoderSeed(fuzz::RecordKind kind, std::string_view record) {
    return std::string(1, char(kind)) + std::string(record);
}

// One RecordEdits script that puts `value` under `key` in database `db`.
std::string putSeed(uint8_t db, const std::string& key, const std::string& value) {
    std::string s(1, char(fuzz::DbMutation::RecordEdits));
    s += char(db);
    s += char(0);  // put
    s += char(key.size());
    s += key;
    const size_t n = std::min<size_t>(value.size(), 0xFFFF);
    s += char(n & 0xFF);
    s += char(n >> 8);
    s += value.substr(0, n);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const fs::path out = argv[1];
    const fs::path dec = out / "decode_records", db = out / "open_database";
    fs::create_directories(dec);
    fs::create_directories(db);
    const fuzz::SampleRecords s = fuzz::sampleRecords();

    int n = 0;
    auto name = [&n](const char* what) { return std::to_string(n++) + "-" + what; };
    writeSeed(dec, name("writer"), decoderSeed(fuzz::RecordKind::Writer, encodeWriterInfo(s.writer)));
    writeSeed(dec, name("stats"), decoderSeed(fuzz::RecordKind::Stats, encodeCaptureStats(CaptureStats{1, 2, 3, 4})));
    SourceInfo source;
    source.run = "call-monitor";
    source.writer = s.writer;
    source.functionCount = uint32_t(s.functions.size());
    source.threadCount = uint32_t(s.threads.size());
    source.callerCount = uint32_t(s.callers.size());
    source.handlerDir = "handlers/main";
    const std::string sources = encodeSources({source, source});
    writeSeed(dec, name("sources"), decoderSeed(fuzz::RecordKind::Sources, sources));
    for (const auto& f : s.functions) {
        writeSeed(dec, name("function"), decoderSeed(fuzz::RecordKind::Function, encodeFunctionInfo(f)));
        for (const auto& p : f.parameters)
            if (p.hasDefault) writeSeed(dec, name("default"), decoderSeed(fuzz::RecordKind::Value, p.defaultValue));
    }
    for (const auto& t : s.threads)
        writeSeed(dec, name("thread"), decoderSeed(fuzz::RecordKind::Thread, encodeThreadInfo(t)));
    for (const auto& c : s.calls) {
        const std::string record = c.outcome.empty() ? c.entry : completeRecord(c.entry, c.outcome);
        writeSeed(dec, name("call"), decoderSeed(fuzz::RecordKind::Call, record));
        const CallView v = parseCallRecord(record, c.key);
        writeSeed(dec, name("inputs"), decoderSeed(fuzz::RecordKind::Value, v.inputs));
        if (!v.result.empty()) writeSeed(dec, name("result"), decoderSeed(fuzz::RecordKind::Value, v.result));
    }
    // A chunk of every sample call (first invocation 1, refs on the blob calls).
    std::string body;
    uint64_t prev = 0;
    for (const auto& c : s.calls) {
        const std::string record = c.outcome.empty() ? c.entry : completeRecord(c.entry, c.outcome);
        std::string hashes;
        for (const auto& [index, bytes] : c.blobs) hashes += codec::contentHash(bytes.data(), bytes.size()).view();
        codec::appendChunkEntry(body, prev, prev + 1 + (prev % 2), record, {}, hashes, prev == 2 ? hashes : "");
        prev = prev + 1 + (prev % 2);
    }
    const std::string chunk = std::string(codec::ChunkHeader(s.calls.size(), prev - 1).view()) + body;
    writeSeed(dec, name("chunk"), decoderSeed(fuzz::RecordKind::Chunk, std::string(1, '\x01') + chunk));
    for (const auto& c : s.calls) {
        for (const auto& [index, bytes] : c.blobs) {
            writeSeed(dec, name("payload-raw"),
                      decoderSeed(fuzz::RecordKind::Payload,
                                  std::string(codec::PayloadHeader(codec::PayloadCodec::Raw, bytes.size()).view()) + bytes));
            std::string z;
            if (codec::compressPayload(bytes, 3, z))
                writeSeed(dec, name("payload-zstd"),
                          decoderSeed(fuzz::RecordKind::Payload,
                                      std::string(codec::PayloadHeader(codec::PayloadCodec::Zstd, bytes.size()).view()) + z));
        }
    }
    writeSeed(dec, name("site"), decoderSeed(fuzz::RecordKind::Site, encodeSiteInfo(SiteInfo{3, "/src/a.py", 7, "f"})));

    // Database seeds: database indices follow fuzz::kDatabaseNames.
    writeSeed(db, name("unchanged"), std::string(1, char(fuzz::DbMutation::RecordEdits)));
    writeSeed(db, name("format"), putSeed(0, format::kMetaFormat, format::encodeFormatValue()));
    writeSeed(db, name("format-v1"), putSeed(0, format::kMetaFormat, format::encodeFormatValue(1)));
    writeSeed(db, name("writer"), putSeed(0, format::kMetaWriter, encodeWriterInfo(s.writer)));
    writeSeed(db, name("sources"), putSeed(0, format::kMetaSources, sources));
    writeSeed(db, name("stats"), putSeed(0, format::kMetaStats, encodeCaptureStats(CaptureStats{1, 1, 0, 0})));
    for (const auto& f : s.functions)
        writeSeed(db, name("function"), putSeed(1, format::encodeU32Key(f.id), encodeFunctionInfo(f)));
    for (const auto& t : s.threads)
        writeSeed(db, name("thread"), putSeed(2, format::encodeU32Key(t.index), encodeThreadInfo(t)));
    for (size_t i = 0; i < s.callers.size(); ++i)
        writeSeed(db, name("caller"), putSeed(3, format::encodeU32Key(uint32_t(i)), s.callers[i]));
    for (const auto& c : s.calls) {  // each call as a one-record chunk, its payloads by hash
        const std::string record = c.outcome.empty() ? c.entry : completeRecord(c.entry, c.outcome);
        std::string hashes, one;
        for (const auto& [index, bytes] : c.blobs) {
            const codec::Hash h = codec::contentHash(bytes.data(), bytes.size());
            hashes += h.view();
            writeSeed(db, name("payload"),
                      putSeed(5, std::string(h.view()),
                              std::string(codec::PayloadHeader(codec::PayloadCodec::Raw, bytes.size()).view()) + bytes));
        }
        codec::appendChunkEntry(one, c.key.invocation - 1, c.key.invocation, record, {}, hashes, "");
        writeSeed(db, name("chunk"),
                  putSeed(4, format::encodeCallKey(c.key), std::string(codec::ChunkHeader(1, 0).view()) + one));
    }
    writeSeed(db, name("site"), putSeed(6, format::encodeU32Key(3), encodeSiteInfo(SiteInfo{3, "/src/a.py", 7, "f"})));
    writeSeed(db, name("label"), putSeed(7, format::encodeU32Key(0), "label"));

    // Meta-page seeds: the real bytes of each meta page's header and MDB_meta
    // (the first 160 bytes), written back over themselves.
    const fs::path tmp = fs::temp_directory_path() / ("callmonitor-seeds-" + std::to_string(::getpid()));
    fs::remove_all(tmp);
    fuzz::writeSampleDatabase(tmp.string(), s);
    std::ifstream in(tmp / "data.mdb", std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), {});
    fs::remove_all(tmp);
    uint32_t pageSize = 0;  // MDB_meta's free database record starts with it
    std::memcpy(&pageSize, file.data() + 40, 4);
    for (uint8_t page = 0; page < 2; ++page) {
        std::string seed(1, char(fuzz::DbMutation::MetaPageBytes));
        for (uint8_t offset = 0; offset < 160; offset += 16) {
            seed += char(page);
            seed += char(offset);
            seed += char(16);
            seed += file.substr(size_t(page) * pageSize + offset, 16);
        }
        writeSeed(db, name("meta-page"), seed);
    }
    std::printf("wrote %d seeds into %s\n", n, out.c_str());
    return 0;
}
