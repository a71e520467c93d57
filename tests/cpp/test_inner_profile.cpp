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

// A Returned outcome whose InnerCalls field holds `bytes` (none: no field).
std::string outcomeWithInnerBytes(const std::string* bytes) {
    std::string out;
    appendReturned(out, 1000);
    ValueWriter(out).integer(1);
    ExtFields ext;
    if (bytes) ext.addBytes(ExtTag::InnerCalls, *bytes);
    appendExt(out, ext);
    return out;
}

// A Returned outcome carrying `calls` as its InnerCalls field (none: no field).
std::string outcomeWithInner(const InnerCalls* calls) {
    if (!calls) return outcomeWithInnerBytes(nullptr);
    std::string bytes;
    appendInnerCalls(bytes, *calls);
    return outcomeWithInnerBytes(&bytes);
}

// The profile of function `fn` of the database at `dir`, into `builder`.
analyse::InnerProfileCounts profileOf(const std::string& dir, uint64_t fn, SiteProfileBuilder& builder) {
    Database db = Database::open(dir);
    analyse::InnerProfileCounts counts;
    analyse::addInnerCalls(db, fn, builder, counts);
    return counts;
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
    SiteProfileBuilder builder;
    const analyse::InnerProfileCounts counts = profileOf(tmp.path(), 2, builder);
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
        const std::string garbage("\x07garbage", 8);  // unknown version byte
        writer.submitEntry(CallKey{1, 2}, entryRecord(2));
        writer.submitOutcome(CallKey{1, 2}, outcomeWithInnerBytes(&garbage));
        ASSERT_TRUE(writer.flush());
    }
    SiteProfileBuilder builder;
    const analyse::InnerProfileCounts counts = profileOf(tmp.path(), 1, builder);
    EXPECT_EQ(counts.calls, 2u);
    EXPECT_EQ(counts.undecodable, 1u);
    ASSERT_EQ(builder.finish().size(), 1u);
}

}  // namespace
}  // namespace callmonitor
