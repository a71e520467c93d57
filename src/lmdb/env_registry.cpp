#include "lmdb/env_registry.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>

namespace callmonitor::store {
namespace {

struct Entry {
    std::weak_ptr<SharedEnv> env;
    const SharedEnv* raw = nullptr;  // identifies the entry after `env` expired
    pid_t pid = 0;
};

struct Registry {
    std::mutex mutex;
    std::condition_variable closed;  // an environment was closed and its entry erased
    std::map<std::string, Entry> entries;
};

// Never destroyed: environments released during static destruction (e.g. a
// Python object collected at exit) still find it.
Registry& registry() {
    static Registry* r = new Registry();
    return *r;
}

// The shared_ptr deleter: closes the environment under the registry lock, so
// no acquireEnv can open the same file while this one is being closed (and
// closing its lock file descriptor would drop the other's fcntl lock).
void releaseEnv(SharedEnv* e) noexcept {
    if (e->pid != ::getpid()) return;  // inherited across fork: LMDB forbids touching it here; leak it
    Registry& r = registry();
    {
        std::lock_guard<std::mutex> lock(r.mutex);
        auto it = r.entries.find(e->key);
        if (it != r.entries.end() && it->second.raw == e) r.entries.erase(it);
        delete e;  // mdb_env_close
    }
    r.closed.notify_all();
}

}  // namespace

std::string envKey(const std::string& path, bool subdir) {
    std::string canonical;
    if (char* resolved = ::realpath(path.c_str(), nullptr)) {
        canonical = resolved;
        std::free(resolved);
    } else {
        std::error_code ec;
        canonical = std::filesystem::absolute(path, ec).lexically_normal().string();
        if (ec) canonical = path;
    }
    if (subdir) canonical += "/data.mdb";
    return canonical;
}

std::shared_ptr<SharedEnv> acquireEnv(const std::string& key, const EnvOpener& open) {
    Registry& r = registry();
    const pid_t pid = ::getpid();
    std::unique_lock<std::mutex> lock(r.mutex);
    for (;;) {
        auto it = r.entries.find(key);
        if (it == r.entries.end() || it->second.pid != pid) break;  // none, or the parent's (forked child)
        if (std::shared_ptr<SharedEnv> env = it->second.env.lock()) return env;
        r.closed.wait(lock);  // its last user is closing it right now
    }
    std::unique_ptr<SharedEnv> fresh = open();
    fresh->key = key;
    fresh->pid = pid;
    const SharedEnv* raw = fresh.get();
    std::shared_ptr<SharedEnv> env(fresh.release(), &releaseEnv);
    r.entries[key] = Entry{env, raw, pid};
    return env;
}

}  // namespace callmonitor::store
