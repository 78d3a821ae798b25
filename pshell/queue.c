/* pshell — the queue builtin: named job queues on libpipe's lp_queue.
 *
 *   queue put|get|len|stat|ls|rm|peek|dead ...   this file
 *   queue work ...                                queue_work.c (sh_queue_work)
 *
 * A NAME without ':' is local: the queue NAME in the SQLite database
 * $XDG_STATE_HOME/pshell/queues.db (XDG_STATE_HOME default ~/.local/state), created with mode
 * 0600 in a directory of mode 0700.  A NAME with ':' is a queue URI (mem:, shm:NAME,
 * file:PATH[#QUEUE], redis://...) used as it is. */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with mode 0700 for the directories it creates. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

char *sh_queue_db_path(void)
{
    const char *state = getenv("XDG_STATE_HOME");
    char *dir;
    if (state && state[0] == '/') {
        if (asprintf(&dir, "%s/pshell", state) < 0)
            return NULL;
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            home = "/";
        if (asprintf(&dir, "%s/.local/state/pshell", home) < 0)
            return NULL;
    }
    if (make_dirs(dir) < 0) {
        sh_error("queue: cannot create %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    char *db;
    if (asprintf(&db, "%s/queues.db", dir) < 0)
        db = NULL;
    free(dir);
    if (db) {
        /* Create the file 0600 before SQLite does (it would use the umask). */
        int fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            sh_error("queue: cannot open %s: %s", db, strerror(errno));
            free(db);
            return NULL;
        }
        close(fd);
    }
    return db;
}

char *sh_queue_uri(const char *name)
{
    if (strchr(name, ':'))
        return strdup(name);
    if (!*name || strchr(name, '#') || strchr(name, '/')) {
        sh_error("queue: bad queue name '%s'", name);
        return NULL;
    }
    char *db = sh_queue_db_path();
    if (!db)
        return NULL;
    char *uri;
    if (asprintf(&uri, "file:%s#%s", db, name) < 0)
        uri = NULL;
    free(db);
    return uri;
}

int sh_queue_open(const char *name, const lp_queue_opts *o, lp_queue **q)
{
    char *uri = sh_queue_uri(name);
    if (!uri)
        return -EINVAL;
    int rc = lp_queue_open(q, uri, o);
    if (rc < 0) {
        const char *msg = lp_queue_errmsg();
        sh_error("queue: %s: %s", name, *msg ? msg : lp_strerror(rc));
    }
    free(uri);
    return rc;
}

int bi_queue(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "work") == 0)
        return sh_queue_work(argc - 1, argv + 1);
    sh_error("queue: usage: queue put|get|len|stat|ls|rm|peek|dead|work ...");
    return 2;
}
