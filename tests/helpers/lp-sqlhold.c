/* lp-sqlhold DB QUEUE ROWS
 *
 * For the file: queue store's tests: opens the SQLite database DB (made by lp_queue_open),
 * starts a write transaction (BEGIN IMMEDIATE), adds ROWS items of 4 KiB ("half ...") to the
 * queue QUEUE with a page cache of a few pages, so that the uncommitted pages spill into
 * DB-wal, prints "holding" and a newline, and then waits for ever without committing: the
 * test kills it with SIGKILL in the middle of the transaction.  Exit 1 on an SQLite error,
 * 2 on bad arguments. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fputs("usage: lp-sqlhold DB QUEUE ROWS\n", stderr);
        return 2;
    }
    int rows = atoi(argv[3]);
    sqlite3 *db;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "lp-sqlhold: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *s = NULL;
    if (sqlite3_exec(db, "PRAGMA cache_size=4; BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO lpq_items(queue, data) VALUES(?1, ?2)", -1, &s,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "lp-sqlhold: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    static char data[4096];
    memset(data, 'h', sizeof data);
    memcpy(data, "half ", 5);
    for (int i = 0; i < rows; i++) {
        sqlite3_bind_text(s, 1, argv[2], -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, data, sizeof data, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) {
            fprintf(stderr, "lp-sqlhold: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(s);
    }
    printf("holding\n");
    fflush(stdout);
    for (;;)
        pause();
}
