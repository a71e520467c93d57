// Shared helpers for the store and database tests: temporary directories,
// call records built with the codec, and places that can be made read-only.
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "callmonitor/call_record.h"
#include "callmonitor/value_writer.h"
#include "callmonitor/writer.h"

namespace callmonitor::testing {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "callmonitor-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A directory that can be switched to read-only: chmod for ordinary users,
// a tmpfs remounted read-only for root (whom permissions do not stop).
// usable() is false when neither is possible here.
class ReadOnlyPlace {
public:
    explicit ReadOnlyPlace(size_t tmpfsBytes = 64 << 20) : tmpfsOptions_("size=" + std::to_string(tmpfsBytes)) {
        dir_ = temp_.sub("place");
        fs::create_directory(dir_);
        if (::geteuid() == 0) {
            mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, tmpfsOptions_.c_str()) == 0;
            usable_ = mounted_;
        } else {
            usable_ = true;
        }
    }
    ~ReadOnlyPlace() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
        else ::chmod(dir_.c_str(), 0755);
        if (!chmodded_.empty()) ::chmod(chmodded_.c_str(), 0755);
    }
    bool usable() const { return usable_; }
    bool isTmpfs() const { return mounted_; }
    const std::string& path() const { return dir_; }
    // Makes the place (and, for chmod, the named sub-directory) read-only.
    bool makeReadOnly(const std::string& subdir = "") {
        if (mounted_) {
            return ::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, tmpfsOptions_.c_str()) == 0;
        }
        bool ok = ::chmod(dir_.c_str(), 0555) == 0;
        if (!subdir.empty()) {
            ok = ok && ::chmod((dir_ + "/" + subdir).c_str(), 0555) == 0;
            chmodded_ = dir_ + "/" + subdir;
        }
        return ok;
    }

private:
    TempDir temp_;
    std::string dir_;
    std::string tmpfsOptions_;
    std::string chmodded_;
    bool mounted_ = false;
    bool usable_ = false;
};

inline WriterInfo testWriterInfo() {
    WriterInfo info;
    info.host = "testhost";
    info.pid = 4242;
    info.writerId = "main";
    info.pythonVersion = "3.11.2";
    info.packageVersion = "0.4.0";
    info.argv = {"prog", "--flag"};
    return info;
}

// A call record for f(arg) with outcome Pending: the entry a caller submits.
inline std::string entryRecord(int64_t arg, uint64_t startNs = 1000, uint32_t thread = 0, uint32_t caller = 0) {
    std::string out;
    appendCallHeader(out, startNs, thread, caller);
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(1, false);
    w.integer(arg);
    w.beginDict(0, false);
    appendEmptyExt(out);
    appendPending(out);
    return out;
}

// An entry of about `size` bytes (a bytes argument as padding).
inline std::string bigEntryRecord(size_t size, char fill = 'x') {
    std::string out;
    appendCallHeader(out, 1, 0, 0);
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(1, false);
    w.bytes(std::string(size, fill));
    w.beginDict(0, false);
    appendEmptyExt(out);
    appendPending(out);
    return out;
}

// The outcome section of a call that returned `result`.
inline std::string returnedOutcome(int64_t result, uint64_t durationNs = 77) {
    std::string out;
    appendReturned(out, durationNs);
    ValueWriter(out).integer(result);
    appendEmptyExt(out);
    return out;
}

inline std::string encodedInt(int64_t v) {
    std::string out;
    ValueWriter(out).integer(v);
    return out;
}

// A payload slot's bytes (its slot is its position in the call's vector).
inline Payload makePayload(const std::string& bytes) { return Payload::copyOf(bytes.data(), bytes.size()); }
inline std::vector<Payload> payloads(std::initializer_list<std::string> slots) {
    std::vector<Payload> out;
    for (const std::string& s : slots) out.push_back(makePayload(s));
    return out;
}

inline WriterOptions optionsFor(const std::string& dir) {
    WriterOptions o;
    o.directory = dir;
    o.flushInterval = std::chrono::milliseconds(20);
    return o;
}

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace callmonitor::testing
