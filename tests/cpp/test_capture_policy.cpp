// The capture policy's decisions (python/src/capture/capture_policy.h), exact counts.
#include "capture/capture_policy.h"

#include "callmonitor/database.h"
#include "store_fixtures.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace callmonitor::py;

namespace {

// Runs n calls through before() (and after() with `raised(i)` / `ns(i)`), counting as the capture does.
template <class Raised, class Ns>
std::unique_ptr<PolicyCounts> run(const CapturePolicy& p, uint64_t calls, Raised raised, Ns ns) {
    auto out = std::make_unique<PolicyCounts>();
    PolicyCounts& c = *out;
    for (uint64_t n = 1; n <= calls; ++n) {
        c.add(c.seen);
        DropReason r = p.before(n, c.keptSoFar());
        if (r == DropReason::Kept && p.options().decidedAtFinish()) r = p.after(raised(n), ns(n), c.keptSoFar());
        c.count(r);
    }
    return out;
}
std::unique_ptr<PolicyCounts> run(const CapturePolicy& p, uint64_t calls) {
    return run(p, calls, [](uint64_t) { return false; }, [](uint64_t) { return uint64_t(0); });
}
uint64_t dropped(const std::unique_ptr<PolicyCounts>& c, DropReason r) { return c->dropped[static_cast<size_t>(r)].load(); }

}  // namespace

TEST(CapturePolicy, DefaultKeepsEverything) {
    PolicyOptions o;
    EXPECT_TRUE(o.keepsEveryCallBefore());
    EXPECT_FALSE(o.decidedAtFinish());
    EXPECT_EQ(o.describe(), "");
    auto c = run(CapturePolicy(o, 1, 2), 100);
    EXPECT_EQ(c->seen.load(), 100u);
    EXPECT_EQ(c->kept.load(), 100u);
}

TEST(CapturePolicy, FirstEveryMaxCalls) {
    PolicyOptions o;
    o.every = 5;
    CapturePolicy every(o, 0, 0);
    EXPECT_EQ(every.before(1, 0), DropReason::Kept);
    EXPECT_EQ(every.before(6, 1), DropReason::Kept);
    EXPECT_EQ(every.before(7, 2), DropReason::Every);
    EXPECT_EQ(run(every, 100)->kept.load(), 20u);
    EXPECT_EQ(every.explain(DropReason::Every, 7), "every=5 keeps 1, 6, 11, ... (call 7 is not one of them)");

    PolicyOptions f;
    f.first = 3;
    auto c = run(CapturePolicy(f, 0, 0), 10);
    EXPECT_EQ(c->kept.load(), 3u);
    EXPECT_EQ(dropped(c, DropReason::First), 7u);

    PolicyOptions m;
    m.maxCalls = 4;
    m.every = 2;  // keeps 1, 3, 5, 7; then max_calls drops 9, 11, ...
    c = run(CapturePolicy(m, 0, 0), 20);
    EXPECT_EQ(c->kept.load(), 4u);
    EXPECT_EQ(dropped(c, DropReason::Every), 10u);
    EXPECT_EQ(dropped(c, DropReason::MaxCalls), 6u);
    EXPECT_EQ(m.describe(), "every=2, max_calls=4");
}

TEST(CapturePolicy, SampleIsSeededAndReproducible) {
    PolicyOptions o;
    o.sample = 0.25;
    const uint64_t fn = functionHash("mod.f");
    auto a = run(CapturePolicy(o, 42, fn), 20000);
    auto b = run(CapturePolicy(o, 42, fn), 20000);
    EXPECT_EQ(a->kept.load(), b->kept.load());
    EXPECT_NEAR(static_cast<double>(a->kept.load()) / 20000, 0.25, 0.02);
    // Same seed: the very same invocations; another seed or function: others.
    int same = 0, otherSeed = 0, otherFn = 0;
    for (uint64_t n = 1; n <= 1000; ++n) {
        bool k = sampled(42, fn, n, 0.25);
        same += k == sampled(42, fn, n, 0.25);
        otherSeed += k != sampled(43, fn, n, 0.25);
        otherFn += k != sampled(42, functionHash("mod.g"), n, 0.25);
    }
    EXPECT_EQ(same, 1000);
    EXPECT_GT(otherSeed, 100);
    EXPECT_GT(otherFn, 100);
    EXPECT_FALSE(sampled(1, fn, 1, 0.0));
    EXPECT_TRUE(sampled(1, fn, 1, 1.0));
}

TEST(CapturePolicy, KeepRaisedAndSlowerThan) {
    PolicyOptions r;
    r.keep = Keep::Raised;
    r.maxCalls = 2;
    EXPECT_TRUE(r.decidedAtFinish());
    auto c = run(CapturePolicy(r, 0, 0), 30, [](uint64_t n) { return n % 10 == 0; },
                         [](uint64_t) { return uint64_t(0); });
    EXPECT_EQ(c->kept.load(), 2u);  // 10 and 20; 21..30 are dropped before they run (max_calls)
    EXPECT_EQ(dropped(c, DropReason::KeepRaised), 18u);
    EXPECT_EQ(dropped(c, DropReason::MaxCalls), 10u);

    PolicyOptions s;
    s.hasSlowerThan = true;
    s.slowerThanNs = 1000;
    c = run(CapturePolicy(s, 0, 0), 10, [](uint64_t) { return false; }, [](uint64_t n) { return n * 200; });
    EXPECT_EQ(c->kept.load(), 5u);  // 1200 ns .. 2000 ns
    EXPECT_EQ(dropped(c, DropReason::SlowerThan), 5u);
    EXPECT_EQ(s.describe(), "slower_than=1e-06");
}

TEST(PolicyLedger, SnapshotJsonAndChange) {
    PolicyLedger ledger;
    ledger.reset(7, 0);
    PolicyCounts& c = ledger.counts(2, policyOptionsJson(PolicyOptions{}, {"self"}));
    c.add(c.seen);
    c.count(DropReason::Every);
    std::string json;
    ASSERT_TRUE(ledger.snapshot(&json));
    EXPECT_EQ(json,
              "{\"seed\":7,\"max_db_bytes\":0,\"functions\":{\"2\":{\"options\":{\"max_calls\":0,\"first\":0,"
              "\"every\":1,\"sample\":1,\"max_bytes\":0,\"keep\":\"all\",\"slower_than\":null,\"exclude\":[\"self\"]},"
              "\"seen\":1,\"kept\":0,\"dropped\":{\"every\":1}}}}");
    EXPECT_FALSE(ledger.snapshot(&json));  // unchanged
    c.add(c.seen);
    EXPECT_TRUE(ledger.snapshot(&json));
    ledger.stopped(2, 9);
    ASSERT_TRUE(ledger.snapshot(&json));
    EXPECT_NE(json.find("\"stopped\":{\"function\":2,\"invocation\":9}"), std::string::npos);
}

// A writer's ledger counts its own calls; the session's names the options
// (and the other interceptors' under "also"), the seed and the stop.
TEST(PolicyLedger, AWritersLedgerCountsItsCallsWithTheSessionsOptions) {
    PolicyLedger session, tid1, tid2;
    session.reset(5, 0);
    tid1.reset(99, 0, &session);  // the writer's own seed argument is not what it stores
    tid2.reset(99, 0, &session);
    PolicyOptions every;
    every.every = 3;
    PolicyOptions first;
    first.first = 2;
    (void)session.counts(0, policyOptionsJson(every, {}));
    (void)session.counts(0, policyOptionsJson(first, {}));
    (void)session.counts(0, policyOptionsJson(every, {}));  // known: not listed twice
    PolicyCounts& a = tid1.counts(0, "");
    PolicyCounts& b = tid2.counts(0, "");
    for (int i = 0; i < 4; ++i) a.add(a.seen);
    b.add(b.seen);
    a.count(DropReason::Kept);
    a.count(DropReason::Every);
    std::string json1, json2;
    ASSERT_TRUE(tid1.snapshot(&json1));
    ASSERT_TRUE(tid2.snapshot(&json2));
    EXPECT_NE(json1.find("{\"seed\":5,"), std::string::npos) << json1;
    EXPECT_NE(json1.find("\"every\":3,"), std::string::npos) << json1;
    EXPECT_NE(json1.find("]},\"also\":[{\"max_calls\":0,\"first\":2,"), std::string::npos) << json1;
    EXPECT_EQ(json1.find("\"also\":[", json1.find("\"also\":[") + 1), std::string::npos) << json1;
    EXPECT_NE(json1.find("\"seen\":4,\"kept\":1,\"dropped\":{\"every\":1}"), std::string::npos) << json1;
    EXPECT_NE(json2.find("\"seen\":1,\"kept\":0,\"dropped\":{}"), std::string::npos) << json2;
    session.stopped(0, 7);
    EXPECT_TRUE(tid2.snapshot(&json2));  // the session's stop is news to every writer
    EXPECT_NE(json2.find("\"stopped\":{\"function\":0,\"invocation\":7}"), std::string::npos) << json2;
}

// The writer keeps meta["policy"] current: at a commit of calls, and on an
// idle round when only the counts changed (every call dropped).
TEST(PolicyLedger, TheWriterStoresTheSnapshotEvenWithNoCalls) {
    callmonitor::testing::TempDir tmp;
    PolicyLedger ledger;
    ledger.reset(3, 0);
    callmonitor::WriterOptions o = callmonitor::testing::optionsFor(tmp.path());
    o.policyRecord = [&ledger](std::string* out) { return ledger.snapshot(out); };
    callmonitor::Writer writer(o, callmonitor::WriterInfo{});
    PolicyCounts& c = ledger.counts(0, policyOptionsJson(PolicyOptions{}, {}));
    for (int i = 0; i < 5; ++i) {
        c.add(c.seen);
        c.count(DropReason::Every);
    }
    EXPECT_TRUE(ledger.snapshot(nullptr));  // changed, not yet written
    ASSERT_TRUE(writer.flush());            // nothing to commit but the counts
    EXPECT_FALSE(ledger.snapshot(nullptr));
    EXPECT_GT(writer.storedBytes(), 0u);
    {
        const std::string json = callmonitor::Database::open(tmp.path()).policy();
        EXPECT_NE(json.find("\"seen\":5,\"kept\":0,\"dropped\":{\"every\":5}"), std::string::npos) << json;
    }
    c.add(c.seen);
    c.count(DropReason::Kept);
    writer.close();
    const std::string json = callmonitor::Database::open(tmp.path()).policy();
    EXPECT_NE(json.find("\"seen\":6,\"kept\":1"), std::string::npos) << json;
}
