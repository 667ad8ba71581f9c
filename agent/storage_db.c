/* storage_db.c -- SQLite for the store: open, check, quarantine, schema and
 * statements (see storage_db.h). */
#include "storage_db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compress.h"

#define MAX_BODY (1u << 30)

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS queue ("
    " seq INTEGER PRIMARY KEY,"
    " exporter TEXT NOT NULL,"
    " signal INTEGER NOT NULL,"
    " shard INTEGER NOT NULL,"
    " items INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " first_failure_unix_ns INTEGER NOT NULL,"
    " enqueued_unix_ns INTEGER NOT NULL,"
    " codec INTEGER NOT NULL,"
    " body BLOB NOT NULL);"
    "PRAGMA user_version = 1;";

/* mkdir -p */
static int make_dirs(const char *dir, pp_status *st) {
    char p[4096];
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
        return pp_fail(st, PP_INVALID, "directory path too long");
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            return pp_fail(st, PP_INVALID, "cannot create %s: %s", p, strerror(errno));
        *c = '/';
    }
    if (mkdir(p, 0750) != 0 && errno != EEXIST)
        return pp_fail(st, PP_INVALID, "cannot create %s: %s", p, strerror(errno));
    return 0;
}

static int exec(sqlite3 *db, const char *sql, pp_status *st) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK) return 0;
    if (st) pp_fail(st, PP_INTERNAL, "sqlite: %s: %s", sql, err ? err : "?");
    sqlite3_free(err);
    return -1;
}

/* "ok" from PRAGMA quick_check, and a readable schema. */
static bool healthy(sqlite3 *db) {
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK &&
              sqlite3_step(s) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    return ok;
}

static int connect(const char *path, int flags, sqlite3 **out) {
    *out = NULL;
    int rc = sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) sqlite3_busy_timeout(*out, 5000);
    return rc;
}

/* Opens and checks the file; 1 = it is corrupt (or not a database). */
static int try_open(pp_sdb *db, const char *path, pp_store_fsync fsync, pp_status *st) {
    if (connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db->w) != SQLITE_OK)
        return pp_fail(st, PP_INVALID, "cannot open %s: %s", path, sqlite3_errmsg(db->w));
    /* journal_mode reads the header: a garbage file fails here or in the check. */
    if (exec(db->w, "PRAGMA journal_mode=WAL", NULL) != 0 || !healthy(db->w)) return 1;
    static const char *const sync[] = {"PRAGMA synchronous=FULL", "PRAGMA synchronous=NORMAL",
                                       "PRAGMA synchronous=OFF"};
    if (exec(db->w, sync[fsync], st) != 0 || exec(db->w, "PRAGMA journal_size_limit=67108864", st) != 0)
        return -1;
    if (exec(db->w, schema_sql, NULL) != 0) return 1; /* e.g. a foreign table named queue */
    if (connect(path, SQLITE_OPEN_READONLY, &db->r) != SQLITE_OK)
        return pp_fail(st, PP_INVALID, "cannot open %s: %s", path, sqlite3_errmsg(db->r));
    return 0;
}

static void quarantine(const char *path, char *out, size_t outlen) {
    char wal[4200];
    snprintf(out, outlen, "%s.corrupt-%lld", path, (long long)time(NULL));
    if (rename(path, out) != 0) unlink(path);
    /* A WAL belongs to the file it was written for; never apply it to a new one. */
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, pp_status *st) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) == SQLITE_OK) return 0;
    return pp_fail(st, PP_INTERNAL, "sqlite: %s: %s", sql, sqlite3_errmsg(db));
}

int pp_sdb_open(pp_sdb *db, const char *dir, pp_store_fsync fsync, char *quarantined, size_t qlen,
                pp_status *st) {
    memset(db, 0, sizeof(*db));
    quarantined[0] = '\0';
    if (make_dirs(dir, st) != 0) return -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, PP_STORE_FILE);
    int rc = try_open(db, path, fsync, st);
    if (rc == 1) {
        pp_sdb_close(db);
        quarantine(path, quarantined, qlen);
        rc = try_open(db, path, fsync, st);
        if (rc == 1) pp_fail(st, PP_INTERNAL, "%s: a fresh database fails its check", path);
    }
    if (rc != 0) {
        pp_sdb_close(db);
        return -1;
    }
    if (prepare(db->w,
                "INSERT INTO queue(seq, exporter, signal, shard, items, attempts,"
                " first_failure_unix_ns, enqueued_unix_ns, codec, body)"
                " VALUES(?,?,?,?,?,?,?,?,?,?)",
                &db->ins, st) != 0 ||
        prepare(db->w, "DELETE FROM queue WHERE seq = ?", &db->del, st) != 0 ||
        prepare(db->w,
                "UPDATE queue SET attempts = ?, first_failure_unix_ns ="
                " CASE first_failure_unix_ns WHEN 0 THEN ? ELSE first_failure_unix_ns END"
                " WHERE seq = ?",
                &db->upd, st) != 0 ||
        prepare(db->w, "BEGIN", &db->begin, st) != 0 ||
        prepare(db->w, "COMMIT", &db->commit, st) != 0 ||
        prepare(db->r, "SELECT codec, body FROM queue WHERE seq = ?", &db->body, st) != 0) {
        pp_sdb_close(db);
        return -1;
    }
    return 0;
}

void pp_sdb_close(pp_sdb *db) {
    sqlite3_stmt *all[] = {db->ins, db->del, db->upd, db->begin, db->commit, db->body};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) sqlite3_finalize(all[i]);
    sqlite3_close(db->r);
    sqlite3_close(db->w); /* the last connection checkpoints the WAL */
    memset(db, 0, sizeof(*db));
}

int pp_sdb_scan(pp_sdb *db, void (*fn)(void *arg, const pp_sdb_row *row), void *arg, pp_status *st) {
    sqlite3_stmt *s = NULL;
    if (prepare(db->r,
                "SELECT seq, exporter, signal, shard, items, attempts, first_failure_unix_ns,"
                " enqueued_unix_ns, length(body) FROM queue ORDER BY seq",
                &s, st) != 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        pp_sdb_row row = {
            .seq = (uint64_t)sqlite3_column_int64(s, 0),
            .exporter = (const char *)sqlite3_column_text(s, 1),
            .signal = sqlite3_column_int(s, 2),
            .shard = (uint64_t)sqlite3_column_int64(s, 3),
            .items = (uint32_t)sqlite3_column_int64(s, 4),
            .attempts = (uint32_t)sqlite3_column_int64(s, 5),
            .first_failure_unix_ns = sqlite3_column_int64(s, 6),
            .enqueued_unix_ns = sqlite3_column_int64(s, 7),
            .bytes = (uint64_t)sqlite3_column_int64(s, 8),
        };
        if (row.exporter && row.signal >= 0 && row.signal < PP_SIGNAL_COUNT) fn(arg, &row);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return pp_fail(st, PP_INTERNAL, "sqlite: scan: %s", sqlite3_errmsg(db->r));
    return 0;
}

static int step_reset(sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int pp_sdb_insert(pp_sdb *db, const pp_sdb_row *row, int codec, const void *body, size_t len) {
    sqlite3_stmt *s = db->ins;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)row->seq);
    sqlite3_bind_text(s, 2, row->exporter, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, row->signal);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)row->shard);
    sqlite3_bind_int64(s, 5, row->items);
    sqlite3_bind_int64(s, 6, row->attempts);
    sqlite3_bind_int64(s, 7, row->first_failure_unix_ns);
    sqlite3_bind_int64(s, 8, row->enqueued_unix_ns);
    sqlite3_bind_int(s, 9, codec);
    sqlite3_bind_blob64(s, 10, body, len, SQLITE_STATIC);
    int rc = step_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int pp_sdb_delete(pp_sdb *db, uint64_t seq) {
    sqlite3_bind_int64(db->del, 1, (sqlite3_int64)seq);
    return step_reset(db->del);
}

int pp_sdb_update(pp_sdb *db, uint64_t seq, uint32_t attempts, int64_t first_failure_unix_ns) {
    sqlite3_bind_int64(db->upd, 1, attempts);
    sqlite3_bind_int64(db->upd, 2, first_failure_unix_ns);
    sqlite3_bind_int64(db->upd, 3, (sqlite3_int64)seq);
    return step_reset(db->upd);
}

int pp_sdb_begin(pp_sdb *db) { return step_reset(db->begin); }
int pp_sdb_commit(pp_sdb *db) { return step_reset(db->commit); }

uint8_t *pp_sdb_read_body(pp_sdb *db, uint64_t seq, size_t *len, char *msg, size_t msglen) {
    sqlite3_stmt *s = db->body;
    uint8_t *out = NULL;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        snprintf(msg, msglen, "row %llu: %s", (unsigned long long)seq,
                 rc == SQLITE_DONE ? "missing" : sqlite3_errmsg(db->r));
    } else {
        int codec = sqlite3_column_int(s, 0);
        const uint8_t *b = sqlite3_column_blob(s, 1);
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        if (codec == 1) {
            if (pp_decompress(PP_COMP_ZSTD, b, n, MAX_BODY, &out, len) != 0) {
                snprintf(msg, msglen, "row %llu: bad zstd body", (unsigned long long)seq);
                out = NULL;
            }
        } else if ((out = malloc(n ? n : 1)) != NULL) {
            if (n) memcpy(out, b, n);
            *len = n;
        } else {
            snprintf(msg, msglen, "out of memory");
        }
    }
    sqlite3_reset(s);
    return out;
}

uint8_t *pp_sdb_encode(const uint8_t *body, size_t len, int *codec, size_t *out_len) {
    uint8_t *z = NULL;
    size_t zn = 0;
    /* Already-compressed bodies (gzip, zstd) do not shrink: keep them as they are. */
    if (len >= 64 && pp_compress(PP_COMP_ZSTD, body, len, &z, &zn) == 0 && zn < len - len / 16) {
        *codec = 1;
        *out_len = zn;
        return z;
    }
    free(z);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return NULL;
    if (len) memcpy(copy, body, len);
    *codec = 0;
    *out_len = len;
    return copy;
}
