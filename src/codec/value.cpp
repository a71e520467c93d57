// Decoding value bytes into Value trees (value.h) and rendering them as text.
#include "callmonitor/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "callmonitor/errors.h"
#include "callmonitor/value_parser.h"

namespace callmonitor {

// ---------------------------------------------------------------------------
// decodeValue: one pass over the tokens with an explicit stack of open
// containers. A container node is attached to its parent (and memoized) when
// its header is read, so Backrefs inside it can point at it.

namespace {

struct Frame {
    Value* node;          // the open container
    uint64_t remaining;   // items still to read (Dict: keys + values)
};

bool isContainer(Tag t) {
    return t == Tag::List || t == Tag::Tuple || t == Tag::Set || t == Tag::FrozenSet || t == Tag::Dict;
}

// Puts `child` into the innermost open container. Dict items alternate key, value.
void attach(Frame& f, ValuePtr child) {
    Value& parent = *f.node;
    if (parent.tag == Tag::Dict) {
        if (f.remaining % 2 == 0) parent.pairs.emplace_back(std::move(child), nullptr);
        else parent.pairs.back().second = std::move(child);
    } else {
        parent.items.push_back(std::move(child));
    }
    --f.remaining;
}

void setDtype(Value& v, ValueParser& p) {
    // Re-parse from the node's own copy so the views in dtype point into it.
    if (!parseDtype(v.name, v.dtype)) p.fail("unsupported dtype");
}

}  // namespace

namespace {

// Only memoized nodes can close a cycle; emptying them frees the partial
// graph of a value that failed to decode.
struct CycleBreaker {
    std::vector<ValuePtr>& memo;
    bool armed = true;
    ~CycleBreaker() {
        if (!armed) return;
        for (auto& m : memo) {
            m->items.clear();
            m->pairs.clear();
        }
    }
};

}  // namespace

ValuePtr decodeValue(std::string_view bytes, const BlobResolver& blobs, bool requireEnd) {
    ValueParser p(bytes);
    std::vector<ValuePtr> memo;
    CycleBreaker onError{memo};
    std::vector<Frame> stack;
    ValuePtr root;
    Token t;
    do {
        size_t at = p.offset();
        p.next(t);
        ValuePtr node;
        if (t.tag == Tag::Backref) {
            if (t.count >= memo.size()) {
                throw DecodeError("malformed value: back-reference to memo index " + std::to_string(t.count) +
                                  ", which is not assigned yet, at byte " + std::to_string(at));
            }
            node = memo[static_cast<size_t>(t.count)];
        } else {
            node = std::make_shared<Value>();
            Value& v = *node;
            v.tag = t.tag;
            switch (t.tag) {
                case Tag::None: break;
                case Tag::False: v.boolean = false; break;
                case Tag::True: v.boolean = true; break;
                case Tag::Int: v.integer = t.integer; break;
                case Tag::BigInt:
                    v.negative = t.negative;
                    v.bytes.assign(t.data);
                    break;
                case Tag::Float: v.real = t.real; break;
                case Tag::Complex:
                    v.real = t.real;
                    v.imag = t.imag;
                    break;
                case Tag::Str:
                case Tag::Bytes:
                case Tag::ByteArray:
                    v.bytes.assign(t.data);
                    break;
                case Tag::Pickle:
                    v.name.assign(t.name);
                    v.bytes.assign(t.data);
                    break;
                // Items follow. Reserve only a few: a hostile count must not
                // allocate (each node already costs more than its header bytes).
                case Tag::List: case Tag::Tuple: case Tag::Set: case Tag::FrozenSet:
                    v.items.reserve(static_cast<size_t>(std::min<uint64_t>(t.count, 8)));
                    break;
                case Tag::Dict:
                    v.pairs.reserve(static_cast<size_t>(std::min<uint64_t>(t.count, 8)));
                    break;
                case Tag::Array: {
                    v.name.assign(t.name);
                    setDtype(v, p);
                    v.order = t.order;
                    v.shape = t.shape;
                    if (t.storage == ArrayStorage::Inline) {
                        v.bytes.assign(t.data);
                    } else {
                        if (!blobs) throw DecodeError("malformed value: array stored apart but no blob source, at byte " +
                                                      std::to_string(at));
                        std::string_view b = blobs(t.blobIndex);
                        if (b.size() != t.nbytes)
                            throw DecodeError("array blob " + std::to_string(t.blobIndex) + " holds " +
                                              std::to_string(b.size()) + " bytes, the array needs " +
                                              std::to_string(t.nbytes));
                        v.bytes.assign(b);
                    }
                    break;
                }
                case Tag::NpScalar:
                    v.name.assign(t.name);
                    setDtype(v, p);
                    v.bytes.assign(t.data);
                    break;
                case Tag::Builtin: v.name.assign(t.name); break;  // its state: the one item that follows
                case Tag::Handler:
                    v.name.assign(t.name);
                    v.bytes.assign(t.data);
                    break;
                case Tag::Opaque:
                    v.name.assign(t.name);
                    v.bytes.assign(t.data);
                    v.extra.assign(t.extra);
                    break;
                case Tag::Legacy:
                    v.name.assign(t.name);
                    v.extra.assign(t.extra);
                    break;
                case Tag::Object:
                case Tag::Ref:
                    v.name.assign(t.name);
                    v.extra.assign(t.extra);
                    v.integer = t.integer;
                    break;
                case Tag::PayloadBytes: {
                    // Decoded as the str/bytes/bytearray it stands for.
                    v.tag = t.payloadKind;
                    if (!blobs) throw DecodeError("malformed value: bytes stored apart but no payload source, at byte " +
                                                  std::to_string(at));
                    std::string_view b = blobs(t.blobIndex);
                    if (b.size() != t.nbytes)
                        throw DecodeError("payload " + std::to_string(t.blobIndex) + " holds " + std::to_string(b.size()) +
                                          " bytes, the value needs " + std::to_string(t.nbytes));
                    v.bytes.assign(b);
                    break;
                }
                case Tag::Backref: break;  // handled above
            }
            if (t.memo) memo.push_back(node);
        }

        Value* raw = node.get();
        if (stack.empty()) root = std::move(node);
        else attach(stack.back(), std::move(node));
        while (!stack.empty() && stack.back().remaining == 0) stack.pop_back();

        if (t.tag != Tag::Backref) {
            if (t.tag == Tag::Builtin)
                stack.push_back({raw, 1});
            else if (isContainer(t.tag) && t.count > 0)
                stack.push_back({raw, t.tag == Tag::Dict ? 2 * t.count : t.count});
            else if (t.tag == Tag::Legacy || t.tag == Tag::Object)
                stack.push_back({raw, 1});
        }
        if (stack.size() > 0 && stack.back().remaining > p.remaining())
            p.fail("more items announced than bytes present");
    } while (!stack.empty());

    if (requireEnd && !p.atEnd()) p.fail("trailing bytes after the value");
    onError.armed = false;
    return root;
}

namespace {
// Empties every container reachable from `root`, so a graph nobody will be
// handed (a cycle included) is freed.
void dismantle(const ValuePtr& root) {
    std::vector<ValuePtr> nodes{root};
    for (size_t i = 0; i < nodes.size(); ++i) {
        Value& n = *nodes[i];
        for (auto& c : n.items) nodes.push_back(std::move(c));
        for (auto& kv : n.pairs) {
            nodes.push_back(std::move(kv.first));
            nodes.push_back(std::move(kv.second));
        }
        n.items.clear();
        n.pairs.clear();
        nodes[i].reset();
    }
}
}  // namespace

DecodedInputs decodeInputs(std::string_view inputs, const BlobResolver& blobs) {
    ValuePtr v = decodeValue(inputs, blobs);
    DecodedInputs out;
    try {
        if (v->tag != Tag::Tuple || v->items.size() != 2 || v->items[0]->tag != Tag::Tuple ||
            v->items[1]->tag != Tag::Dict)
            throw DecodeError("call inputs are not an (args tuple, kwargs dict) pair");
        out.args = v->items[0]->items;
        for (auto& kv : v->items[1]->pairs) {
            if (kv.first->tag != Tag::Str) throw DecodeError("call kwargs has a key that is not a str");
            out.kwargs.emplace_back(kv.first->bytes, kv.second);
        }
    } catch (...) {
        out = {};
        dismantle(v);  // hostile bytes may have tied the graph into cycles
        throw;
    }
    // The pair, the args tuple and the kwargs dict are not handed out: a
    // hostile record can make a cycle through them (a valid one cannot).
    v->items[0]->items.clear();
    v->items[1]->pairs.clear();
    v->items.clear();
    return out;
}

// ---------------------------------------------------------------------------
// toText

namespace {

constexpr size_t kMaxDepth = 100;  // deeper levels print as "[...]", like reprlib

// Python's float repr: shortest round-trip digits, fixed notation for
// exponents in [-4, 16), else d.ddde±XX. `pointZero` adds ".0" to integral
// values (float repr does, complex parts do not).
template <class F>
std::string floatRepr(F x, bool pointZero = true) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    std::string sign;
    if (s[0] == '-') {
        sign = "-";
        s.erase(0, 1);
    }
    size_t e = s.find('e');
    int exp = std::stoi(s.substr(e + 1));
    std::string digits;
    for (size_t i = 0; i < e; ++i)
        if (s[i] != '.') digits.push_back(s[i]);
    std::string out;
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
            out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0');
            if (pointZero) out += ".0";
        } else {
            out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    }
    return sign + out;
}

template <class F>
std::string complexRepr(F re, F im) {
    std::string imag = floatRepr(im, false);
    if (re == 0 && !std::signbit(re)) return imag + "j";
    const char* sep = (std::signbit(im) && !std::isnan(im)) ? "" : "+";
    return "(" + floatRepr(re, false) + sep + imag + "j)";
}

// Decimal digits of a little-endian magnitude (schoolbook division by 1e9).
std::string bigIntRepr(bool negative, const std::string& mag) {
    if (mag.size() > 2048) return std::string("<int of ") + std::to_string(mag.size() * 8) + " bits>";
    std::vector<uint32_t> limbs((mag.size() + 3) / 4, 0);
    for (size_t i = 0; i < mag.size(); ++i) limbs[i / 4] |= uint32_t(uint8_t(mag[i])) << (8 * (i % 4));
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    if (limbs.empty()) return "0";
    std::vector<uint32_t> chunks;  // base 1e9, least significant first
    while (!limbs.empty()) {
        uint64_t rem = 0;
        for (size_t i = limbs.size(); i-- > 0;) {
            uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = static_cast<uint32_t>(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunks.push_back(static_cast<uint32_t>(rem));
        while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    }
    std::string out = negative ? "-" : "";
    out += std::to_string(chunks.back());
    char buf[16];
    for (size_t i = chunks.size() - 1; i-- > 0;) {
        std::snprintf(buf, sizeof buf, "%09u", chunks[i]);
        out += buf;
    }
    return out;
}

void appendHex(std::string& out, unsigned c, int width) {
    static const char* hex = "0123456789abcdef";
    for (int i = width - 1; i >= 0; --i) out.push_back(hex[(c >> (4 * i)) & 0xF]);
}

char pickQuote(std::string_view s) {
    return (s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos) ? '"' : '\'';
}

// Longest str/bytes body printed before "..." (0 = everything).
size_t textLimit(size_t maxItems) { return maxItems ? maxItems * 50 : 0; }

std::string strRepr(std::string_view s, size_t maxItems) {
    size_t limit = textLimit(maxItems);
    bool cut = limit && s.size() > limit;
    std::string_view body = cut ? s.substr(0, limit) : s;
    char q = pickQuote(s);
    std::string out(1, q);
    const auto* p = reinterpret_cast<const uint8_t*>(body.data());
    const auto* end = p + body.size();
    while (p < end) {
        uint8_t c = *p;
        if (c < 0x80) {
            ++p;
            if (c == '\\') out += "\\\\";
            else if (c == static_cast<uint8_t>(q)) { out.push_back('\\'); out.push_back(q); }
            else if (c == '\n') out += "\\n";
            else if (c == '\r') out += "\\r";
            else if (c == '\t') out += "\\t";
            else if (c < 0x20 || c == 0x7F) { out += "\\x"; appendHex(out, c, 2); }
            else out.push_back(static_cast<char>(c));
            continue;
        }
        // Multi-byte UTF-8 (surrogates allowed, as written with surrogatepass).
        int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (n == 0 || end - p < n || c > 0xF4) {  // invalid byte: show it, go on
            out += "\\x";
            appendHex(out, c, 2);
            ++p;
            continue;
        }
        uint32_t cp = c & (0x7F >> n);
        bool ok = true;
        for (int i = 1; i < n; ++i) {
            if ((p[i] & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (!ok) {
            out += "\\x";
            appendHex(out, c, 2);
            ++p;
            continue;
        }
        if (cp < 0xA0) { out += "\\x"; appendHex(out, cp, 2); }
        else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) {
            out += "\\u";
            appendHex(out, cp, 4);
        } else {
            out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
        }
        p += n;
    }
    out.push_back(q);
    if (cut) out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

std::string bytesRepr(std::string_view s, size_t maxItems) {
    size_t limit = textLimit(maxItems);
    bool cut = limit && s.size() > limit;
    std::string_view body = cut ? s.substr(0, limit) : s;
    char q = pickQuote(s);
    std::string out = "b";
    out.push_back(q);
    for (char ch : body) {
        auto c = static_cast<uint8_t>(ch);
        if (c == '\\') out += "\\\\";
        else if (c == static_cast<uint8_t>(q)) { out.push_back('\\'); out.push_back(q); }
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c >= 0x7F) { out += "\\x"; appendHex(out, c, 2); }
        else out.push_back(ch);
    }
    out.push_back(q);
    if (cut) out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

bool hostLittle() {
    const uint16_t one = 1;
    uint8_t b;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

// Reads one element of `size` bytes in the stored byte order into host order.
template <class T>
T loadElement(const char* p, bool swap) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, p, sizeof(T));
    if (swap)
        for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    T v;
    std::memcpy(&v, b, sizeof(T));
    return v;
}

float halfToFloat(uint16_t h) {
    uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, frac = h & 0x3FF;
    float v;
    if (exp == 0) v = std::ldexp(static_cast<float>(frac), -24);
    else if (exp == 31) v = frac ? NAN : INFINITY;
    else v = std::ldexp(static_cast<float>(frac | 0x400), static_cast<int>(exp) - 25);
    return sign ? -v : v;
}

// One element as text, or "" when this dtype is not rendered element-wise.
std::string elementText(const DtypeInfo& d, const char* p) {
    bool swap = (d.byteOrder == '>' && hostLittle()) || (d.byteOrder == '<' && !hostLittle());
    switch (d.kind) {
        case 'b': return *p ? "True" : "False";
        case 'i':
            switch (d.itemSize) {
                case 1: return std::to_string(loadElement<int8_t>(p, false));
                case 2: return std::to_string(loadElement<int16_t>(p, swap));
                case 4: return std::to_string(loadElement<int32_t>(p, swap));
                case 8: return std::to_string(loadElement<int64_t>(p, swap));
            }
            break;
        case 'u':
            switch (d.itemSize) {
                case 1: return std::to_string(loadElement<uint8_t>(p, false));
                case 2: return std::to_string(loadElement<uint16_t>(p, swap));
                case 4: return std::to_string(loadElement<uint32_t>(p, swap));
                case 8: return std::to_string(loadElement<uint64_t>(p, swap));
            }
            break;
        case 'f':
            switch (d.itemSize) {
                case 2: return floatRepr(halfToFloat(loadElement<uint16_t>(p, swap)));
                case 4: return floatRepr(loadElement<float>(p, swap));
                case 8: return floatRepr(loadElement<double>(p, swap));
            }
            break;
        case 'c':
            switch (d.itemSize) {
                case 8: return complexRepr(loadElement<float>(p, swap), loadElement<float>(p + 4, swap));
                case 16: return complexRepr(loadElement<double>(p, swap), loadElement<double>(p + 8, swap));
            }
            break;
    }
    return "";
}

bool rendersElements(const DtypeInfo& d) {
    static const char zeros[16] = {};
    return d.itemSize > 0 && d.itemSize <= 16 && !elementText(d, zeros).empty();
}

std::string shapeText(const std::vector<uint64_t>& shape) {
    std::string out = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(shape[i]);
    }
    if (shape.size() == 1) out += ",";
    return out + ")";
}

std::string arrayText(const Value& v, size_t maxItems) {
    std::string out = "array(dtype=" + v.name + ", shape=" + shapeText(v.shape);
    if (v.order == 'F' && v.shape.size() > 1) out += ", order='F'";
    uint64_t n = 1;
    for (uint64_t s : v.shape) n = s == 0 ? 0 : (n > UINT64_MAX / s ? UINT64_MAX : n * s);
    size_t item = v.dtype.itemSize;
    if (!rendersElements(v.dtype) || n > v.bytes.size() / item) return out + ")";
    uint64_t shown = maxItems ? std::min<uint64_t>(n, maxItems) : n;
    out += ", [";
    std::vector<uint64_t> idx(v.shape.size(), 0);  // C-order multi-index of element k
    for (uint64_t k = 0; k < shown; ++k) {
        uint64_t off = 0;  // element offset in storage order
        if (v.order == 'F') {
            for (size_t d = v.shape.size(); d-- > 0;) off = off * v.shape[d] + idx[d];
        } else {
            for (size_t d = 0; d < v.shape.size(); ++d) off = off * v.shape[d] + idx[d];
        }
        if (k) out += ", ";
        out += elementText(v.dtype, v.bytes.data() + off * item);
        for (size_t d = v.shape.size(); d-- > 0;) {  // advance in C order
            if (++idx[d] < v.shape[d]) break;
            idx[d] = 0;
        }
    }
    if (shown < n) out += ", ...";
    return out + "])";
}

std::string scalarText(const Value& v, size_t maxItems) {
    const DtypeInfo& d = v.dtype;
    std::string name = numpyTypeName(d);
    if (v.bytes.size() != d.itemSize) return name + "(<" + std::to_string(v.bytes.size()) + " bytes>)";
    std::string e = d.itemSize ? elementText(d, v.bytes.data()) : "";
    if (!e.empty()) return name + "(" + e + ")";
    bool swap = (d.byteOrder == '>' && hostLittle()) || (d.byteOrder == '<' && !hostLittle());
    if ((d.kind == 'M' || d.kind == 'm') && d.itemSize == 8) {
        int64_t x = loadElement<int64_t>(v.bytes.data(), swap);
        std::string unit(d.unit);
        return name + "(" + (x == INT64_MIN ? std::string("'NaT'") : std::to_string(x)) +
               (unit.empty() ? "" : ",'" + unit + "'") + ")";
    }
    if (d.kind == 'S') {
        std::string_view s = v.bytes;
        while (!s.empty() && s.back() == '\0') s.remove_suffix(1);
        return name + "(" + bytesRepr(s, maxItems) + ")";
    }
    return name + "(" + bytesRepr(v.bytes, maxItems) + ")";
}

class Printer {
public:
    explicit Printer(size_t maxItems) : maxItems_(maxItems) {}

    // A built-in handler's value: its kind, then its state as recorded
    // ("pandas.Series({'data': ...})"); cycle- and depth-safe like containers.
    void printBuiltin(const Value& v, std::string& out) {
        bool onPath = false;
        for (const Value* p : path_) onPath |= (p == &v);
        if (onPath || path_.size() >= kMaxDepth) {
            out += "<" + v.name + " ...>";
            return;
        }
        path_.push_back(&v);
        out += v.name + "(";
        print(v.items.empty() ? nullptr : v.items[0].get(), out);
        out += ")";
        path_.pop_back();
    }

    void print(const Value* v, std::string& out) {
        if (!v) {
            out += "<null>";
            return;
        }
        switch (v->tag) {
            case Tag::None: out += "None"; return;
            case Tag::Builtin: printBuiltin(*v, out); return;
            case Tag::False: out += "False"; return;
            case Tag::True: out += "True"; return;
            case Tag::Int: out += std::to_string(v->integer); return;
            case Tag::BigInt: out += bigIntRepr(v->negative, v->bytes); return;
            case Tag::Float: out += floatRepr(v->real); return;
            case Tag::Complex: out += complexRepr(v->real, v->imag); return;
            case Tag::Str: out += strRepr(v->bytes, maxItems_); return;
            case Tag::Bytes: out += bytesRepr(v->bytes, maxItems_); return;
            case Tag::ByteArray: out += "bytearray(" + bytesRepr(v->bytes, maxItems_) + ")"; return;
            case Tag::Array: out += arrayText(*v, maxItems_); return;
            case Tag::NpScalar: out += scalarText(*v, maxItems_); return;
            case Tag::Handler:
                out += "<handler " + v->name + ": " + std::to_string(v->bytes.size()) + " bytes>";
                return;
            case Tag::Pickle:
                out += "<pickled " + (v->name.empty() ? std::string("object") : v->name) + ": " +
                       std::to_string(v->bytes.size()) + " bytes>";
                return;
            case Tag::Opaque: out += "<unrestorable " + v->name + ": " + v->bytes + ">"; return;
            case Tag::Backref: out += "<backref " + std::to_string(v->integer) + ">"; return;
            case Tag::Ref: {
                static const char* const kinds[] = {"function", "class", "module"};
                out += std::string("<") + kinds[std::min<int64_t>(v->integer, kMaxRefKind)] + " " +
                       v->qualifiedName() + ">";
                return;
            }
            default: break;
        }
        // Containers and Legacy: cycle- and depth-safe.
        const char* open = "[";
        const char* close = "]";
        switch (v->tag) {
            case Tag::Tuple: open = "("; close = ")"; break;
            case Tag::Dict: case Tag::Set: open = "{"; close = "}"; break;
            case Tag::FrozenSet: open = "frozenset({"; close = "})"; break;
            case Tag::Legacy: case Tag::Object: open = ""; close = ""; break;
            default: break;
        }
        bool onPath = false;
        for (const Value* p : path_) onPath |= (p == v);
        if (onPath || path_.size() >= kMaxDepth) {
            out += v->tag == Tag::Legacy   ? "<legacy ...>"
                   : v->tag == Tag::Object ? v->qualifiedName() + "(...)"
                                           : std::string(open) + "..." + close;
            return;
        }
        path_.push_back(v);
        if (v->tag == Tag::Legacy) {
            out += "<legacy " + v->name + " in " + v->extra + ": ";
            print(v->items.empty() ? nullptr : v->items[0].get(), out);
            out += ">";
        } else if (v->tag == Tag::Object) {
            printObject(*v, out);
        } else if (v->tag == Tag::Dict) {
            out += open;
            size_t n = 0;
            for (auto& kv : v->pairs) {
                if (n) out += ", ";
                if (maxItems_ && n == maxItems_) {
                    out += "...";
                    break;
                }
                print(kv.first.get(), out);
                out += ": ";
                print(kv.second.get(), out);
                ++n;
            }
            out += close;
        } else if ((v->tag == Tag::Set || v->tag == Tag::FrozenSet) && v->items.empty()) {
            out += v->tag == Tag::Set ? "set()" : "frozenset()";
        } else {
            out += open;
            size_t n = 0;
            for (auto& item : v->items) {
                if (n) out += ", ";
                if (maxItems_ && n == maxItems_) {
                    out += "...";
                    break;
                }
                print(item.get(), out);
                ++n;
            }
            if (v->tag == Tag::Tuple && v->items.size() == 1) out += ",";
            out += close;
        }
        path_.pop_back();
    }

private:
    // mypkg.Grid(n=3, u=array(...)); an enum member as mypkg.Color.RED; a
    // __getstate__ state as mypkg.Grid(<state>).
    void printObject(const Value& v, std::string& out) {
        const Value* state = v.items.empty() ? nullptr : v.items[0].get();
        const auto form = static_cast<ObjectForm>(v.integer);
        if (form == ObjectForm::Enum && state && state->tag == Tag::Dict) {
            for (auto& kv : state->pairs)
                if (kv.first && kv.first->bytes == "name" && kv.second && kv.second->tag == Tag::Str) {
                    out += v.qualifiedName() + "." + kv.second->bytes;
                    return;
                }
        }
        if (form == ObjectForm::Method) {  // <bound method Model.loss of Model(...)>
            out += "<bound method " + v.qualifiedName() + " of ";
            print(state, out);
            out += ">";
            return;
        }
        if (form == ObjectForm::Local) {  // <function f.<locals>.g defined at a.py:12>
            out += "<function " + v.qualifiedName() + " defined at ";
            if (state && state->tag == Tag::Dict)
                for (auto& kv : state->pairs) {
                    if (!kv.first || !kv.second) continue;
                    if (kv.first->bytes == "file") out += kv.second->bytes;
                    if (kv.first->bytes == "line") out += ":" + std::to_string(kv.second->integer);
                }
            out += ">";
            return;
        }
        out += v.qualifiedName() + "(";
        if (form != ObjectForm::State && state && state->tag == Tag::Dict) {
            size_t n = 0;
            for (auto& kv : state->pairs) {
                if (n) out += ", ";
                if (maxItems_ && n == maxItems_) {
                    out += "...";
                    break;
                }
                if (kv.first && kv.first->tag == Tag::Str) out += kv.first->bytes;
                else print(kv.first.get(), out);
                out += "=";
                print(kv.second.get(), out);
                ++n;
            }
        } else {
            print(state, out);
        }
        out += ")";
    }

    size_t maxItems_;
    std::vector<const Value*> path_;
};

}  // namespace

Value::~Value() {
    // Children whose last owner is this tree are emptied before they die,
    // so each destructor below runs on a leaf.
    std::vector<ValuePtr> pending;
    auto take = [&pending](Value& v) {
        for (auto& c : v.items) pending.push_back(std::move(c));
        for (auto& kv : v.pairs) {
            pending.push_back(std::move(kv.first));
            pending.push_back(std::move(kv.second));
        }
        v.items.clear();
        v.pairs.clear();
    };
    if (items.empty() && pairs.empty()) return;
    take(*this);
    while (!pending.empty()) {
        ValuePtr p = std::move(pending.back());
        pending.pop_back();
        if (p && p.use_count() == 1) take(*p);
    }
}

std::string qualifiedName(std::string_view module, std::string_view qualname) {
    if (qualname.empty()) return std::string(module);
    if (module.empty() || module == "builtins") return std::string(qualname);
    return std::string(module) + "." + std::string(qualname);
}

std::string Value::qualifiedName() const { return callmonitor::qualifiedName(name, extra); }

std::string Value::toText(size_t maxItems) const {
    std::string out;
    Printer(maxItems).print(this, out);
    return out;
}

}  // namespace callmonitor
