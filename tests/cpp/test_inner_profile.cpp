// addInnerCalls(): the per-call-site profile of a function's inner calls,
// streamed from the outcome ext field InnerCalls of its records.
#include <gtest/gtest.h>

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/inner_profile.h"
#include "callmonitor/writer.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using format::CallKey;
using format::ExtTag;

// A Returned outcome carrying `calls` as its InnerCalls field (none: no field).
std::string outcomeWithInner(const InnerCalls* calls) {
    std::string out;
    appendReturned(out, 1000);
    ValueWriter(out).integer(1);
    ExtFields ext;
    std::string bytes;
    if (calls) {
        appendInnerCalls(bytes, *calls);
        ext.addBytes(ExtTag::InnerCalls, bytes);
    }
    appendExt(out, ext);
    return out;
}

TEST(InnerProfile, GivenCallsWithAndWithoutInnerCalls_WhenProfiled_ThenEachSiteIsAggregatedAndTheRestCounted) {
    TempDir tmp;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        for (uint64_t i = 1; i <= 10; ++i) {
            writer.submitEntry(CallKey{2, i}, entryRecord(int64_t(i)));
            InnerCalls calls;
            calls.entries.push_back({0, false, 10, 100 * i});             // site 0: 100, 200, ..., 1000 ns
            calls.entries.push_back({1, i == 3, 20 + 100 * i, 5});        // site 1 raised once
            if (i % 2 == 0) calls.summed.push_back({1, 4, 40});           // 4 more calls of site 1, summed
            writer.submitOutcome(CallKey{2, i}, i == 10 ? outcomeWithInner(nullptr) : outcomeWithInner(&calls));
        }
        writer.submitEntry(CallKey{2, 11}, entryRecord(11));  // pending: no outcome
        ASSERT_TRUE(writer.flush());
    }
    Database db = Database::open(tmp.path());
    SiteProfileBuilder builder;
    analyse::InnerProfileCounts counts;
    analyse::addInnerCalls(db, 2, builder, counts);
    EXPECT_EQ(counts.calls, 11u);
    EXPECT_EQ(counts.withoutInnerCalls, 2u);  // invocation 10 (no field) and 11 (pending)
    EXPECT_EQ(counts.undecodable, 0u);
    EXPECT_EQ(builder.invocations(), 9u);
    std::vector<SiteStats> rows = builder.finish();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].site, 0u);
    EXPECT_EQ(rows[0].count, 9u);
    EXPECT_EQ(rows[0].totalNs, 100u * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9));
    EXPECT_EQ(rows[0].p50Ns, 500u);  // nearest rank of 100..900
    EXPECT_EQ(rows[0].p95Ns, 900u);
    EXPECT_EQ(rows[0].maxNs, 900u);
    EXPECT_EQ(rows[1].site, 1u);
    EXPECT_EQ(rows[1].count, 9u + 4 * 4);  // 4 even invocations below 10 carry 4 summed calls each
    EXPECT_EQ(rows[1].summed, 16u);
    EXPECT_EQ(rows[0].invocations, 9u);
    EXPECT_EQ(rows[1].raised, 1u);
}

TEST(InnerProfile, GivenCorruptInnerCallsBytes_WhenProfiled_ThenTheCallIsCountedUndecodableAndTheRestKept) {
    TempDir tmp;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        InnerCalls good;
        good.entries.push_back({0, false, 0, 7});
        writer.submitEntry(CallKey{1, 1}, entryRecord(1));
        writer.submitOutcome(CallKey{1, 1}, outcomeWithInner(&good));
        std::string bad;
        appendReturned(bad, 3);
        ValueWriter(bad).integer(1);
        ExtFields ext;
        ext.addBytes(ExtTag::InnerCalls, std::string("\x07garbage", 8));  // unknown version byte
        appendExt(bad, ext);
        writer.submitEntry(CallKey{1, 2}, entryRecord(2));
        writer.submitOutcome(CallKey{1, 2}, bad);
        ASSERT_TRUE(writer.flush());
    }
    Database db = Database::open(tmp.path());
    SiteProfileBuilder builder;
    analyse::InnerProfileCounts counts;
    analyse::addInnerCalls(db, 1, builder, counts);
    EXPECT_EQ(counts.calls, 2u);
    EXPECT_EQ(counts.undecodable, 1u);
    ASSERT_EQ(builder.finish().size(), 1u);
}

}  // namespace
}  // namespace callmonitor
