#include "lmdb/lmdb.h"

#include <cerrno>
#include <utility>

namespace callmonitor::lmdb {

std::string describe(int rc, std::string_view call, const std::string& path) {
    std::string msg(call);
    msg += " failed on ";
    msg += path;
    msg += ": ";
    msg += mdb_strerror(rc);  // LMDB codes and errno values alike
    return msg;
}

void raise(int rc, std::string_view call, const std::string& path, Side side) {
    std::string msg = describe(rc, call, path);
    if (side == Side::Write) {
        if (rc == MDB_MAP_FULL) throw MapFullError(msg);
        throw StoreError(msg);
    }
    switch (rc) {
        case ENOENT: throw NotFoundError(msg);
        case MDB_MAP_RESIZED: throw MapResizedError(msg);
        case MDB_VERSION_MISMATCH: throw VersionError(msg + " (the file was written by another LMDB version)");
        default: throw CorruptError(msg);
    }
}

// --- Env ----------------------------------------------------------------------

Env::Env(std::string path, Side side) : path_(std::move(path)), side_(side) {
    int rc = mdb_env_create(&env_);
    if (rc) raise(rc, "mdb_env_create", path_, side_);
}

Env& Env::operator=(Env&& o) noexcept {
    if (this != &o) {
        close();
        env_ = std::exchange(o.env_, nullptr);
        path_ = std::move(o.path_);
        side_ = o.side_;
    }
    return *this;
}

void Env::setMaxDbs(unsigned n) {
    if (int rc = mdb_env_set_maxdbs(env_, n)) raise(rc, "mdb_env_set_maxdbs", path_, side_);
}

void Env::setMapSize(uint64_t bytes) {
    if (int rc = mdb_env_set_mapsize(env_, bytes)) raise(rc, "mdb_env_set_mapsize", path_, side_);
}

void Env::open(unsigned flags, mdb_mode_t mode, int* rcOut) {
    int rc = mdb_env_open(env_, path_.c_str(), flags, mode);
    if (rcOut) {
        *rcOut = rc;
        return;
    }
    if (rc) raise(rc, "mdb_env_open", path_, side_);
}

void Env::close() noexcept {
    if (env_) mdb_env_close(std::exchange(env_, nullptr));
}

MDB_envinfo Env::info() const {
    MDB_envinfo info{};
    if (int rc = mdb_env_info(env_, &info)) raise(rc, "mdb_env_info", path_, side_);
    return info;
}

unsigned Env::pageSize() const {
    MDB_stat st{};
    if (int rc = mdb_env_stat(env_, &st)) raise(rc, "mdb_env_stat", path_, side_);
    return st.ms_psize;
}

int Env::fd() const {
    mdb_filehandle_t fd = -1;
    if (int rc = mdb_env_get_fd(env_, &fd)) raise(rc, "mdb_env_get_fd", path_, side_);
    return fd;
}

// --- Txn ----------------------------------------------------------------------

Txn::Txn(const Env& env, unsigned flags, Side side) : env_(&env), side_(side) {
    if (int rc = mdb_txn_begin(env.handle(), nullptr, flags, &txn_)) {
        txn_ = nullptr;
        raise(rc, "mdb_txn_begin", env.path(), side_);
    }
}

Txn Txn::renew(const Env& env, MDB_txn* reset, Side side) {
    Txn t;
    t.env_ = &env;
    t.txn_ = reset;
    t.side_ = side;
    if (int rc = mdb_txn_renew(reset)) raise(rc, "mdb_txn_renew", env.path(), side);  // ~Txn aborts it
    return t;
}

Txn& Txn::operator=(Txn&& o) noexcept {
    if (this != &o) {
        abort();
        env_ = o.env_;
        txn_ = std::exchange(o.txn_, nullptr);
        side_ = o.side_;
    }
    return *this;
}

void Txn::commit() {
    MDB_txn* t = std::exchange(txn_, nullptr);
    if (int rc = mdb_txn_commit(t)) raise(rc, "mdb_txn_commit", env_->path(), side_);
}

void Txn::abort() noexcept {
    if (txn_) mdb_txn_abort(std::exchange(txn_, nullptr));
}

MDB_txn* Txn::resetAndRelease() noexcept {
    if (txn_) mdb_txn_reset(txn_);
    return std::exchange(txn_, nullptr);
}

// --- Dbi ----------------------------------------------------------------------

Dbi Dbi::open(const Txn& txn, const char* name, unsigned flags, bool missingOk) {
    Dbi d;
    int rc = mdb_dbi_open(txn.handle(), name, flags, &d.dbi_);
    if (rc == MDB_NOTFOUND && missingOk) return d;
    if (rc) raise(rc, std::string("mdb_dbi_open(\"") + name + "\")", txn.env().path(), txn.side());
    d.valid_ = true;
    return d;
}

bool Dbi::get(const Txn& txn, std::string_view key, std::string_view& out) const {
    MDB_val k = val(key), v{};
    int rc = mdb_get(txn.handle(), dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc) raise(rc, "mdb_get", txn.env().path(), txn.side());
    out = view(v);
    return true;
}

void Dbi::put(const Txn& txn, std::string_view key, std::string_view value, unsigned flags) const {
    MDB_val k = val(key), v = val(value);
    if (int rc = mdb_put(txn.handle(), dbi_, &k, &v, flags)) raise(rc, "mdb_put", txn.env().path(), txn.side());
}

MDB_stat Dbi::stat(const Txn& txn) const {
    MDB_stat st{};
    if (int rc = mdb_stat(txn.handle(), dbi_, &st)) raise(rc, "mdb_stat", txn.env().path(), txn.side());
    return st;
}

// --- Cursor -------------------------------------------------------------------

Cursor::Cursor(const Txn& txn, const Dbi& dbi) : txn_(&txn) {
    if (int rc = mdb_cursor_open(txn.handle(), dbi.handle(), &cur_)) {
        cur_ = nullptr;
        raise(rc, "mdb_cursor_open", txn.env().path(), txn.side());
    }
}

Cursor& Cursor::operator=(Cursor&& o) noexcept {
    if (this != &o) {
        close();
        txn_ = o.txn_;
        cur_ = std::exchange(o.cur_, nullptr);
    }
    return *this;
}

bool Cursor::get(MDB_val& key, MDB_val& value, MDB_cursor_op op) const {
    int rc = mdb_cursor_get(cur_, &key, &value, op);
    if (rc == MDB_NOTFOUND) return false;
    if (rc) raise(rc, "mdb_cursor_get", txn_->env().path(), txn_->side());
    return true;
}

int Cursor::put(std::string_view key, std::string_view value, unsigned flags) const {
    MDB_val k = val(key), v = val(value);
    int rc = mdb_cursor_put(cur_, &k, &v, flags);
    if (rc == MDB_KEYEXIST) return rc;
    if (rc) raise(rc, "mdb_cursor_put", txn_->env().path(), txn_->side());
    return 0;
}

void Cursor::close() noexcept {
    if (cur_) mdb_cursor_close(std::exchange(cur_, nullptr));
}

}  // namespace callmonitor::lmdb
