// A driver for callgrind (bench/callgrind_writer.sh): records N small calls
// f(1, "two", [3]) through a lane, as the capture stage submits them (entry,
// then outcome; back-pressure with hasRoom/waitForRoom), then closes the
// writer. Run it twice with N1 < N2 under
//   valgrind --tool=callgrind --separate-threads=yes
// and divide the writer thread's instruction difference by N2 - N1: the
// per-call cost without the fixed costs (open, first commit, close).
//
//   callmonitor-writer-driver N [DIR] [--payload BYTES] [--compression zstd]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "callmonitor/writer.h"
#include "small_call.h"

int main(int argc, char** argv) {
    using namespace callmonitor;
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s N [DIR] [--payload BYTES] [--compression zstd]\n", argv[0]);
        return 2;
    }
    const uint64_t n = std::strtoull(argv[1], nullptr, 10);
    std::string dir = "writer-driver-db";
    uint64_t payload = 0;
    WriterOptions o;
    for (int i = 2; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--payload") && i + 1 < argc) payload = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--compression") && i + 1 < argc) o.compression = std::strcmp(argv[++i], "zstd") ? Compression::None : Compression::Zstd;
        else dir = argv[i];
    }
    std::filesystem::remove_all(dir);
    o.directory = dir;
    o.initialMapSize = uint64_t(1) << 30;
    Writer writer(o, WriterInfo{});
    Writer::Lane* lane = writer.openLane();
    std::string entry, outcome;
    std::string bytes(payload, '\0');
    for (uint64_t i = 1; i <= n; ++i) {
        bench::smallEntry(entry, 1000 * i);
        format::CallKey key{1, i};
        if (!writer.hasRoom()) writer.waitForRoom();
        if (payload) {
            std::memcpy(bytes.data(), &i, std::min<size_t>(8, bytes.size()));  // distinct payloads
            std::vector<Payload> in;
            in.push_back(Payload::copyOf(bytes.data(), bytes.size()));
            writer.submitEntry(lane, key, entry, std::move(in));
        } else {
            writer.submitEntry(lane, key, entry);
        }
        bench::smallOutcome(outcome, 700);
        writer.submitOutcome(lane, key, outcome);
    }
    writer.close();
    std::printf("%llu calls into %s\n", (unsigned long long)n, dir.c_str());
    return writer.failed() ? 1 : 0;
}
