// Test helpers for the value codec: build Value trees, encode them with
// ValueWriter (memoizing shared containers), and compare graphs structurally.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "callmonitor/value.h"
#include "callmonitor/value_writer.h"

namespace cmtest {

using namespace callmonitor;

inline ValuePtr mk(Tag t) {
    auto v = std::make_shared<Value>();
    v->tag = t;
    return v;
}
inline ValuePtr mkInt(int64_t i) {
    auto v = mk(Tag::Int);
    v->integer = i;
    return v;
}
inline ValuePtr mkFloat(double d) {
    auto v = mk(Tag::Float);
    v->real = d;
    return v;
}
inline ValuePtr mkStr(std::string s, Tag t = Tag::Str) {
    auto v = mk(t);
    v->bytes = std::move(s);
    return v;
}
inline ValuePtr mkBool(bool b) {
    auto v = mk(b ? Tag::True : Tag::False);
    v->boolean = b;
    return v;
}
inline ValuePtr mkSeq(Tag t, std::vector<ValuePtr> items) {
    auto v = mk(t);
    v->items = std::move(items);
    return v;
}
inline ValuePtr mkDict(std::vector<std::pair<ValuePtr, ValuePtr>> pairs) {
    auto v = mk(Tag::Dict);
    v->pairs = std::move(pairs);
    return v;
}
inline ValuePtr mkArray(std::string dtype, std::vector<uint64_t> shape, std::string bytes, char order = 'C') {
    auto v = mk(Tag::Array);
    v->name = std::move(dtype);
    parseDtype(v->name, v->dtype);
    v->shape = std::move(shape);
    v->bytes = std::move(bytes);
    v->order = order;
    return v;
}
template <class T>
std::string rawBytes(const std::vector<T>& xs) {
    return std::string(reinterpret_cast<const char*>(xs.data()), xs.size() * sizeof(T));
}

inline bool isContainerTag(Tag t) {
    return t == Tag::List || t == Tag::Tuple || t == Tag::Dict || t == Tag::Set || t == Tag::FrozenSet;
}

// Encodes a Value graph: containers/arrays/bytearrays reachable more than
// once get the memo flag and later references become Backrefs.
class Encoder {
public:
    std::string encode(const Value& root) {
        counts_.clear();
        memo_.clear();
        next_ = 0;
        count(&root);
        std::string out;
        ValueWriter w(out);
        write(w, root);
        return out;
    }

private:
    void count(const Value* v) {
        if (++counts_[v] > 1) return;
        for (auto& c : v->items) count(c.get());
        for (auto& kv : v->pairs) {
            count(kv.first.get());
            count(kv.second.get());
        }
    }
    void write(ValueWriter& w, const Value& v) {
        auto it = memo_.find(&v);
        if (it != memo_.end()) {
            w.backref(it->second);
            return;
        }
        bool memo = isMemoizable(v.tag) && counts_[&v] > 1;
        if (memo) memo_[&v] = next_++;
        switch (v.tag) {
            case Tag::None: w.none(); break;
            case Tag::False: w.boolean(false); break;
            case Tag::True: w.boolean(true); break;
            case Tag::Int: w.integer(v.integer); break;
            case Tag::BigInt:
                w.bigInteger(v.negative, reinterpret_cast<const uint8_t*>(v.bytes.data()), v.bytes.size());
                break;
            case Tag::Float: w.real(v.real); break;
            case Tag::Complex: w.complex(v.real, v.imag); break;
            case Tag::Str: w.str(v.bytes); break;
            case Tag::Bytes: w.bytes(v.bytes); break;
            case Tag::ByteArray: w.byteArray(v.bytes, memo); break;
            case Tag::List: case Tag::Tuple: case Tag::Set: case Tag::FrozenSet:
                if (v.tag == Tag::List) w.beginList(v.items.size(), memo);
                if (v.tag == Tag::Tuple) w.beginTuple(v.items.size(), memo);
                if (v.tag == Tag::Set) w.beginSet(v.items.size(), memo);
                if (v.tag == Tag::FrozenSet) w.beginFrozenSet(v.items.size(), memo);
                for (auto& c : v.items) write(w, *c);
                break;
            case Tag::Dict:
                w.beginDict(v.pairs.size(), memo);
                for (auto& kv : v.pairs) {
                    write(w, *kv.first);
                    write(w, *kv.second);
                }
                break;
            case Tag::Array: {
                ArrayHeader h{v.name, v.order, v.shape};
                w.arrayInline(h, v.bytes.data(), v.bytes.size(), memo);
                break;
            }
            case Tag::NpScalar: w.numpyScalar(v.name, v.bytes.data(), v.bytes.size()); break;
            case Tag::Handler: w.handler(v.name, v.bytes); break;
            case Tag::Pickle: w.pickle(v.name, v.bytes); break;
            case Tag::Opaque: w.opaque(v.name, v.bytes, v.extra); break;
            case Tag::Legacy:
                w.beginLegacy(v.name, v.extra);
                write(w, *v.items.at(0));
                break;
            case Tag::Backref: w.backref(static_cast<uint64_t>(v.integer)); break;
        }
    }
    std::map<const Value*, int> counts_;
    std::map<const Value*, uint64_t> memo_;
    uint64_t next_ = 0;
};

inline std::string encode(const Value& v) { return Encoder().encode(v); }

inline bool sameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Structural equality of two graphs: same tags and contents, and the same
// sharing (a memoizable node of `a` always corresponds to one node of `b`).
class GraphEq {
public:
    bool eq(const Value* a, const Value* b) {
        if (!a || !b) return a == b;
        if (isMemoizable(a->tag)) {
            auto it = map_.find(a);
            if (it != map_.end()) return it->second == b;
            if (rev_.count(b)) return false;
            map_[a] = b;
            rev_.insert(b);
        }
        if (a->tag != b->tag) return fail("tag");
        switch (a->tag) {
            case Tag::True: case Tag::False: case Tag::None: return true;
            case Tag::Int: return a->integer == b->integer || fail("int");
            case Tag::BigInt: return (a->negative == b->negative && a->bytes == b->bytes) || fail("bigint");
            case Tag::Float: return sameBits(a->real, b->real) || fail("float");
            case Tag::Complex: return (sameBits(a->real, b->real) && sameBits(a->imag, b->imag)) || fail("complex");
            case Tag::Array:
                if (a->order != b->order || a->shape != b->shape || a->dtype.kind != b->dtype.kind ||
                    a->dtype.itemSize != b->dtype.itemSize)
                    return fail("array header");
                [[fallthrough]];
            default:
                if (a->bytes != b->bytes || a->name != b->name || a->extra != b->extra) return fail("payload");
        }
        if (a->items.size() != b->items.size() || a->pairs.size() != b->pairs.size()) return fail("size");
        for (size_t i = 0; i < a->items.size(); ++i)
            if (!eq(a->items[i].get(), b->items[i].get())) return false;
        for (size_t i = 0; i < a->pairs.size(); ++i)
            if (!eq(a->pairs[i].first.get(), b->pairs[i].first.get()) ||
                !eq(a->pairs[i].second.get(), b->pairs[i].second.get()))
                return false;
        return true;
    }
    std::string why;

private:
    bool fail(const char* w) {
        why = w;
        return false;
    }
    std::map<const Value*, const Value*> map_;
    std::set<const Value*> rev_;
};

inline ::testing::AssertionResult graphsEqual(const ValuePtr& a, const ValuePtr& b) {
    GraphEq g;
    if (g.eq(a.get(), b.get())) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "graphs differ (" << g.why << "): " << a->toText() << " vs "
                                         << b->toText();
}

// Breaks the cycles of a graph so the shared_ptrs can be freed (keeps
// leak checkers quiet in tests that build cycles).
inline void breakCycles(const ValuePtr& root) {
    std::vector<ValuePtr> stack{root};
    std::set<const Value*> seen;
    std::vector<ValuePtr> all;
    while (!stack.empty()) {
        ValuePtr v = stack.back();
        stack.pop_back();
        if (!v || !seen.insert(v.get()).second) continue;
        all.push_back(v);
        for (auto& c : v->items) stack.push_back(c);
        for (auto& kv : v->pairs) {
            stack.push_back(kv.first);
            stack.push_back(kv.second);
        }
    }
    for (auto& v : all) {
        v->items.clear();
        v->pairs.clear();
    }
}

// Random value trees (seeded): scalars of every kind, containers, arrays,
// and shared containers (including cycles through lists).
class TreeGen {
public:
    explicit TreeGen(uint32_t seed) : rng_(seed) {}

    ValuePtr tree(int depth = 0) {
        int pick = uni(0, depth >= 5 ? 13 : 21);
        if (pick >= 20 && !pool_.empty()) return pool_[uni(0, int(pool_.size()) - 1)];  // share
        switch (pick) {
            case 0: return mk(Tag::None);
            case 1: return mkBool(uni(0, 1));
            case 2: {
                static const int64_t edges[] = {0, 1, -1, INT64_MAX, INT64_MIN, 127, -128, 1 << 20};
                return mkInt(uni(0, 1) ? edges[uni(0, 7)] : static_cast<int64_t>(static_cast<uint64_t>(rng_()) << uni(0, 40)));
            }
            case 3: {
                auto v = mk(Tag::BigInt);
                v->negative = uni(0, 1);
                int n = uni(9, 40);
                for (int i = 0; i < n; ++i) v->bytes.push_back(static_cast<char>(uni(0, 255)));
                v->bytes.back() = static_cast<char>(uni(1, 255));  // no leading zero byte
                return v;
            }
            case 4: return mkFloat(randomDouble());
            case 5: {
                auto v = mk(Tag::Complex);
                v->real = randomDouble();
                v->imag = randomDouble();
                return v;
            }
            case 6: return mkStr(randomText(true));
            case 7: return mkStr(randomText(false), Tag::Bytes);
            case 8: return mkStr(randomText(false), Tag::ByteArray);
            case 9: {
                int n = uni(0, 4);
                std::vector<double> xs(static_cast<size_t>(n) * 2);
                for (auto& x : xs) x = randomDouble();
                return mkArray(uni(0, 1) ? "<f8" : ">f8", {static_cast<uint64_t>(n), 2}, rawBytes(xs),
                               uni(0, 1) ? 'C' : 'F');
            }
            case 10: {
                auto v = mk(Tag::NpScalar);
                v->name = "<i4";
                parseDtype(v->name, v->dtype);
                int32_t x = static_cast<int32_t>(rng_());
                v->bytes.assign(reinterpret_cast<const char*>(&x), 4);
                return v;
            }
            case 11: {
                auto v = mkStr(randomText(false), Tag::Handler);
                v->name = "mod.Handler";
                return v;
            }
            case 12: {
                auto v = mkStr(randomText(true), Tag::Opaque);
                v->name = "socket";
                v->extra = "unpicklable";
                return v;
            }
            case 13: return mkStr(randomText(false), Tag::Pickle);
            case 14: case 15: case 16: case 17: {
                static const Tag kinds[] = {Tag::List, Tag::Tuple, Tag::Set, Tag::FrozenSet};
                auto v = mk(kinds[pick - 14]);
                if (v->tag == Tag::List) pool_.push_back(v);  // may end up inside itself: a cycle
                int n = uni(0, 5);
                for (int i = 0; i < n; ++i) v->items.push_back(tree(depth + 1));
                return v;
            }
            case 18: {
                auto v = mk(Tag::Dict);
                pool_.push_back(v);
                int n = uni(0, 4);
                for (int i = 0; i < n; ++i) v->pairs.emplace_back(mkStr(randomText(true)), tree(depth + 1));
                return v;
            }
            default: {
                auto v = mk(Tag::Legacy);
                v->name = "pkg.OldHandler";
                v->extra = "handlers/f/1";
                v->items.push_back(tree(depth + 1));
                return v;
            }
        }
    }
    void resetPool() { pool_.clear(); }

private:
    int uni(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    double randomDouble() {
        uint64_t bits = (static_cast<uint64_t>(rng_()) << 32) | rng_();
        double d;
        std::memcpy(&d, &bits, 8);
        static const double specials[] = {0.0, -0.0, 1.5, -2.25, 1e300, 5e-324};
        return uni(0, 2) ? d : specials[uni(0, 5)];
    }
    std::string randomText(bool utf8) {
        static const char* pieces[] = {"a", "é", "€", "😀", "\\", "'", "\"", "\n", "\x01", "z"};
        std::string s;
        int n = uni(0, 12);
        for (int i = 0; i < n; ++i) {
            if (utf8) s += pieces[uni(0, 9)];
            else s.push_back(static_cast<char>(uni(0, 255)));
        }
        return s;
    }
    std::mt19937 rng_;
    std::vector<ValuePtr> pool_;
};

}  // namespace cmtest
