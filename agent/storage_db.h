/* storage_db.h -- the SQLite side of the store (storage.h): opening with the
 * integrity check and quarantine, the schema, and the statements. Internal. */
#ifndef PIPIT_STORAGE_DB_H
#define PIPIT_STORAGE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "status.h"
#include "storage.h"

typedef struct pp_sdb {
    sqlite3 *w, *r; /* writer (the writer thread) and reader connections */
    sqlite3_stmt *ins, *del, *upd, *begin, *commit, *body;
} pp_sdb;

/* A row as stored, without its body. */
typedef struct pp_sdb_row {
    uint64_t seq, shard;
    const char *exporter;
    int signal;
    uint32_t items, attempts;
    int64_t first_failure_unix_ns, enqueued_unix_ns;
    uint64_t bytes;
} pp_sdb_row;

/* Opens dir/PP_STORE_FILE (creating dir and file). A file that fails the
 * integrity check is renamed to <file>.corrupt-<unix s> (and its -wal/-shm
 * removed) and *quarantined receives the new name; a fresh one is created. */
int pp_sdb_open(pp_sdb *db, const char *dir, pp_store_fsync fsync, char *quarantined, size_t qlen,
                pp_status *st);
void pp_sdb_close(pp_sdb *db);

/* Calls fn for every row in seq order (reader connection). */
int pp_sdb_scan(pp_sdb *db, void (*fn)(void *arg, const pp_sdb_row *row), void *arg, pp_status *st);

/* Writer connection (writer thread only). body/len as stored (codec 0/1). */
int pp_sdb_insert(pp_sdb *db, const pp_sdb_row *row, int codec, const void *body, size_t len);
int pp_sdb_delete(pp_sdb *db, uint64_t seq);
int pp_sdb_update(pp_sdb *db, uint64_t seq, uint32_t attempts, int64_t first_failure_unix_ns);
int pp_sdb_begin(pp_sdb *db);
int pp_sdb_commit(pp_sdb *db);

/* Reader connection: the stored body of row seq (malloc'd, decoded from
 * its codec). NULL when missing or on error (msg says why). */
uint8_t *pp_sdb_read_body(pp_sdb *db, uint64_t seq, size_t *len, char *msg, size_t msglen);

/* Encodes body for storage: zstd when it makes it smaller. malloc'd. */
uint8_t *pp_sdb_encode(const uint8_t *body, size_t len, int *codec, size_t *out_len);

#endif
