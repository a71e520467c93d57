// cereal serialization of the structured records (records.h).
#include "callmonitor/records.h"

#include <sstream>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "callmonitor/errors.h"
#include "codec/bounded_archive.h"

CEREAL_CLASS_VERSION(callmonitor::WriterInfo, 1)
CEREAL_CLASS_VERSION(callmonitor::SourceInfo, 1)
CEREAL_CLASS_VERSION(callmonitor::FunctionInfo, 1)

namespace callmonitor {

// Bump a record's version when adding a field; load() reads old versions.
template <class A> void serialize(A& a, Parameter& p, const std::uint32_t) {
    a(p.name, p.kind, p.hasDefault, p.defaultValue, p.defaultRepr, p.annotation);
}
template <class A> void serialize(A& a, InnerSiteInfo& s, const std::uint32_t) {
    a(s.callee, s.name, s.line, s.column, s.awaited);
}
template <class A> void serialize(A& a, FunctionInfo& f, const std::uint32_t version) {
    a(f.id, f.module, f.qualname, f.name, f.file, f.line, f.signatureKnown, f.parameters,
      f.returnAnnotation, f.kind);
    if (version >= 1) a(f.innerSites);
}
template <class A> void serialize(A& a, ThreadInfo& t, const std::uint32_t) {
    a(t.index, t.ident, t.nativeId, t.name);
}
template <class A> void serialize(A& a, WriterInfo& w, const std::uint32_t version) {
    a(w.host, w.pid, w.rank, w.writerId, w.pythonVersion, w.packageVersion, w.argv, w.cwd,
      w.startedUnixNs, w.clockOriginNs);
    if (version >= 1) a(w.runId);
}
template <class A> void serialize(A& a, CaptureStats& s, const std::uint32_t) {
    a(s.opaque, s.pickled, s.captureErrors, s.droppedCalls);
}
template <class A> void serialize(A& a, SiteInfo& s, const std::uint32_t) {
    a(s.id, s.file, s.line, s.function);
}
template <class A> void serialize(A& a, SourceInfo& s, const std::uint32_t version) {
    a(s.run, s.writer, s.stats, s.functionBase, s.functionCount, s.threadBase, s.threadCount,
      s.callerBase, s.callerCount, s.handlerDir);
    if (version >= 1) a(s.siteBase, s.siteCount, s.labelBase, s.labelCount);
}

namespace {
template <class T> std::string encode(const T& value) {
    std::ostringstream os(std::ios::binary);
    {
        cereal::PortableBinaryOutputArchive ar(os);
        ar(value);
    }
    return std::move(os).str();
}

// Hostile bytes: BoundedInputArchive checks every declared size against the
// bytes present before allocating (cereal's own input archive does not).
template <class T> T decode(std::string_view bytes, const char* what) {
    T value;
    try {
        codec::BoundedInputArchive ar(bytes);
        ar(value);
    } catch (const std::exception& e) {
        throw CorruptError(std::string("cannot decode ") + what + " record: " + e.what());
    }
    return value;
}
}  // namespace

const char* parameterKindName(uint8_t kind) {
    switch (kind) {
        case Parameter::PositionalOnly: return "POSITIONAL_ONLY";
        case Parameter::PositionalOrKeyword: return "POSITIONAL_OR_KEYWORD";
        case Parameter::VarPositional: return "VAR_POSITIONAL";
        case Parameter::KeywordOnly: return "KEYWORD_ONLY";
        case Parameter::VarKeyword: return "VAR_KEYWORD";
        default: return "POSITIONAL_OR_KEYWORD";
    }
}

std::string encodeFunctionInfo(const FunctionInfo& v) { return encode(v); }
FunctionInfo decodeFunctionInfo(std::string_view b) { return decode<FunctionInfo>(b, "function"); }
std::string encodeThreadInfo(const ThreadInfo& v) { return encode(v); }
ThreadInfo decodeThreadInfo(std::string_view b) { return decode<ThreadInfo>(b, "thread"); }
std::string encodeWriterInfo(const WriterInfo& v) { return encode(v); }
WriterInfo decodeWriterInfo(std::string_view b) { return decode<WriterInfo>(b, "writer"); }
std::string encodeCaptureStats(const CaptureStats& v) { return encode(v); }
CaptureStats decodeCaptureStats(std::string_view b) { return decode<CaptureStats>(b, "stats"); }
std::string encodeSources(const std::vector<SourceInfo>& v) { return encode(v); }
std::vector<SourceInfo> decodeSources(std::string_view b) { return decode<std::vector<SourceInfo>>(b, "sources"); }
std::string encodeSiteInfo(const SiteInfo& v) { return encode(v); }
SiteInfo decodeSiteInfo(std::string_view b) { return decode<SiteInfo>(b, "site"); }

}  // namespace callmonitor
