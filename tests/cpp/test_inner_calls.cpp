// Inner-call lists as bytes and their per-site aggregation (include/callmonitor/inner_calls.h).
#include <string>

#include <gtest/gtest.h>

#include "callmonitor/errors.h"
#include "callmonitor/inner_calls.h"

using namespace callmonitor;

namespace {

InnerCalls sample() {
    InnerCalls c;
    c.entries = {{0, false, 100, 50}, {1, true, 160, 7}, {0, false, 170, 1u << 20}};
    c.summed = {{1, 3, 300}};
    return c;
}

std::string bytesOf(const InnerCalls& c) {
    std::string out;
    appendInnerCalls(out, c);
    return out;
}

}  // namespace

TEST(InnerCalls, RoundTripsEntriesAndSums) {
    InnerCalls back = parseInnerCalls(bytesOf(sample()));
    ASSERT_EQ(back.entries.size(), 3u);
    EXPECT_EQ(back.entries[1].site, 1u);
    EXPECT_TRUE(back.entries[1].raised);
    EXPECT_EQ(back.entries[1].startNs, 160u);
    EXPECT_EQ(back.entries[2].durationNs, 1u << 20);
    ASSERT_EQ(back.summed.size(), 1u);
    EXPECT_EQ(back.summed[0].count, 3u);
    EXPECT_EQ(back.summed[0].totalNs, 300u);
}

TEST(InnerCalls, EmptyListIsThreeBytes) {
    EXPECT_EQ(bytesOf(InnerCalls{}), std::string("\x01\x00\x00", 3));
    EXPECT_TRUE(parseInnerCalls(bytesOf(InnerCalls{})).entries.empty());
}

TEST(InnerCalls, RejectsEveryTruncation) {
    std::string full = bytesOf(sample());
    for (size_t n = 0; n < full.size(); ++n)
        EXPECT_THROW(parseInnerCalls(std::string_view(full).substr(0, n)), CorruptError) << n;
}

TEST(InnerCalls, RejectsUnknownVersionFlagsTrailingBytesAndHugeCounts) {
    std::string b = bytesOf(sample());
    std::string v2 = b;
    v2[0] = 2;
    EXPECT_THROW(parseInnerCalls(v2), CorruptError);
    EXPECT_THROW(parseInnerCalls(b + "x"), CorruptError);
    std::string flags = bytesOf(InnerCalls{{{0, false, 0, 0}}, {}});
    flags[3] = 4;  // version, count, site, flags
    EXPECT_THROW(parseInnerCalls(flags), CorruptError);
    EXPECT_THROW(parseInnerCalls(std::string("\x01\xff\xff\xff\xff\x0f", 6)), CorruptError);
}

TEST(SiteProfile, CountsTotalsAndNearestRankPercentilesOnAKnownWorkload) {
    SiteProfileBuilder b;
    // Site 0: durations 1..100 ns over 10 invocations; site 2: once per invocation, raised in 5.
    for (int inv = 0; inv < 10; ++inv) {
        InnerCalls c;
        uint64_t t = 0;
        for (int k = 1; k <= 10; ++k) c.entries.push_back({0, false, t++, static_cast<uint64_t>(inv * 10 + k)});
        c.entries.push_back({2, inv % 2 == 0, t++, 1000});
        b.add(c);
    }
    InnerCalls extra;
    extra.summed = {{2, 4, 8000}};
    b.add(extra);
    auto rows = b.finish();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].site, 0u);
    EXPECT_EQ(rows[0].count, 100u);
    EXPECT_EQ(rows[0].totalNs, 5050u);
    EXPECT_DOUBLE_EQ(rows[0].meanNs, 50.5);
    EXPECT_EQ(rows[0].p50Ns, 50u);
    EXPECT_EQ(rows[0].p95Ns, 95u);
    EXPECT_EQ(rows[0].maxNs, 100u);
    EXPECT_EQ(rows[0].invocations, 10u);
    EXPECT_EQ(rows[1].site, 2u);
    EXPECT_EQ(rows[1].count, 14u);
    EXPECT_EQ(rows[1].summed, 4u);
    EXPECT_EQ(rows[1].raised, 5u);
    EXPECT_EQ(rows[1].totalNs, 18000u);
    EXPECT_EQ(rows[1].p50Ns, 1000u);
    EXPECT_EQ(rows[1].invocations, 11u);
    EXPECT_EQ(b.invocations(), 11u);
}
