/* pshell — the `test` and `[` builtins (see sh.h).
 *
 * Up to four arguments follow the POSIX table (which reads -a/-o as binary primaries when they
 * are the middle of three arguments); longer expressions, and the cases POSIX leaves open, go
 * to a recursive-descent parser with dash's grammar and precedence:
 *     expr := and { -o and }   and := not { -a not }   not := ! not | primary
 *     primary := ( expr ) | word binop word | unop word | word
 * A missing operand reads as false, as in dash.  Errors are status 2. */
#include "sh.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char **v;
    int pos, end;           /* the words still to read are v[pos..end) */
    const char *name;       /* "test" or "[" for messages */
    bool error;
    int depth;
} tp;

static void complain(tp *t, const char *what, const char *msg)
{
    if (t->error)
        return;
    t->error = true;
    if (what)
        fprintf(stderr, "pshell: %s: %s: %s\n", t->name, what, msg);
    else
        fprintf(stderr, "pshell: %s: %s\n", t->name, msg);
}

static bool is(const char *s, const char *lit) { return strcmp(s, lit) == 0; }

static bool is_unop(const char *s)
{
    return s[0] == '-' && s[1] && !s[2] && strchr("bcdefghkLnprsStuwxzGO", s[1]);
}

static const char *const binops[] = {
    "=", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef", NULL
};

static bool is_binop(const char *s)
{
    for (int i = 0; binops[i]; i++)
        if (is(s, binops[i]))
            return true;
    return false;
}

/* a decimal integer with optional blanks around it and a sign, as dash's test reads them */
static intmax_t number(tp *t, const char *s)
{
    char *end;
    errno = 0;
    intmax_t v = strtoimax(s, &end, 10);
    bool bad = end == s || errno;
    while (*end == ' ' || (*end >= '\t' && *end <= '\r'))
        end++;
    if (bad || *end)
        complain(t, s, "bad number");
    return v;
}

static bool unary(tp *t, char op, const char *s)
{
    struct stat st;
    switch (op) {
    case 'n': return *s != '\0';
    case 'z': return *s == '\0';
    case 't': {
        intmax_t fd = number(t, s);
        return !t->error && fd >= 0 && fd <= INT_MAX && isatty((int)fd);
    }
    case 'h':
    case 'L': return lstat(s, &st) == 0 && S_ISLNK(st.st_mode);
    case 'r': return faccessat(AT_FDCWD, s, R_OK, AT_EACCESS) == 0;
    case 'w': return faccessat(AT_FDCWD, s, W_OK, AT_EACCESS) == 0;
    case 'x': return faccessat(AT_FDCWD, s, X_OK, AT_EACCESS) == 0;
    }
    if (stat(s, &st) != 0)
        return false;
    switch (op) {
    case 'b': return S_ISBLK(st.st_mode);
    case 'c': return S_ISCHR(st.st_mode);
    case 'd': return S_ISDIR(st.st_mode);
    case 'f': return S_ISREG(st.st_mode);
    case 'p': return S_ISFIFO(st.st_mode);
    case 'S': return S_ISSOCK(st.st_mode);
    case 'g': return (st.st_mode & S_ISGID) != 0;
    case 'u': return (st.st_mode & S_ISUID) != 0;
    case 'k': return (st.st_mode & S_ISVTX) != 0;
    case 's': return st.st_size > 0;
    case 'G': return st.st_gid == getegid();
    case 'O': return st.st_uid == geteuid();
    }
    return true;    /* -e */
}

/* -1, 0, 1: how f1's modification time compares with f2's; 2 when either is missing */
static int newer(const char *f1, const char *f2)
{
    struct stat a, b;
    if (stat(f1, &a) != 0 || stat(f2, &b) != 0)
        return 2;
    if (a.st_mtim.tv_sec != b.st_mtim.tv_sec)
        return a.st_mtim.tv_sec < b.st_mtim.tv_sec ? -1 : 1;
    return (a.st_mtim.tv_nsec > b.st_mtim.tv_nsec) - (a.st_mtim.tv_nsec < b.st_mtim.tv_nsec);
}

static bool binary(tp *t, const char *l, const char *op, const char *r)
{
    if (is(op, "=")) return strcmp(l, r) == 0;
    if (is(op, "!=")) return strcmp(l, r) != 0;
    if (is(op, "<")) return strcmp(l, r) < 0;
    if (is(op, ">")) return strcmp(l, r) > 0;
    if (is(op, "-a")) return *l && *r;
    if (is(op, "-o")) return *l || *r;
    if (is(op, "-nt")) return newer(l, r) == 1;
    if (is(op, "-ot")) return newer(l, r) == -1;
    if (is(op, "-ef")) {
        struct stat a, b;
        return stat(l, &a) == 0 && stat(r, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    }
    intmax_t x = number(t, l);
    intmax_t y = t->error ? 0 : number(t, r);
    if (is(op, "-eq")) return x == y;
    if (is(op, "-ne")) return x != y;
    if (is(op, "-lt")) return x < y;
    if (is(op, "-le")) return x <= y;
    if (is(op, "-gt")) return x > y;
    return x >= y;                              /* -ge */
}

/* ---- the general grammar ------------------------------------------------------------------ */
static bool oexpr(tp *t);

static const char *cur(tp *t) { return t->pos < t->end ? t->v[t->pos] : NULL; }

static bool primary(tp *t)
{
    const char *a = cur(t);
    if (!a || t->error)
        return false;                           /* a missing operand is false, as in dash */
    if (is(a, "(") && t->pos + 1 < t->end) {
        t->pos++;
        if (is(cur(t), ")")) {
            t->pos++;
            return false;
        }
        if (++t->depth > 1000) {
            complain(t, NULL, "expression too complex");
            return false;
        }
        bool r = oexpr(t);
        t->depth--;
        if (!cur(t) || !is(cur(t), ")")) {
            complain(t, NULL, "closing paren expected");
            return false;
        }
        t->pos++;
        return r;
    }
    if (t->pos + 2 < t->end && is_binop(t->v[t->pos + 1])) {
        t->pos += 3;
        return binary(t, a, t->v[t->pos - 2], t->v[t->pos - 1]);
    }
    if (is_unop(a) && t->pos + 1 < t->end) {
        t->pos += 2;
        return unary(t, a[1], t->v[t->pos - 1]);
    }
    t->pos++;
    return *a != '\0';
}

static bool nexpr(tp *t)
{
    int bangs = 0;
    while (cur(t) && is(cur(t), "!")) {
        t->pos++;
        bangs++;
    }
    return primary(t) ^ (bangs & 1);
}

static bool aexpr(tp *t)
{
    bool r = nexpr(t);
    while (cur(t) && is(cur(t), "-a")) {
        t->pos++;
        r = nexpr(t) && r;
    }
    return r;
}

static bool oexpr(tp *t)
{
    bool r = aexpr(t);
    while (cur(t) && is(cur(t), "-o")) {
        t->pos++;
        r = aexpr(t) || r;
    }
    return r;
}

/* ---- POSIX's rules by argument count ------------------------------------------------------ */
static bool posix(tp *t)
{
    char **a = t->v + t->pos;
    switch (t->end - t->pos) {
    case 0:
        return false;
    case 1:
        return *a[0] != '\0';
    case 2:
        if (is(a[0], "!"))
            return *a[1] == '\0';
        if (is_unop(a[0]))
            return unary(t, a[0][1], a[1]);
        break;
    case 3:
        if (is_binop(a[1]) || is(a[1], "-a") || is(a[1], "-o"))
            return binary(t, a[0], a[1], a[2]);
        if (is(a[0], "!")) {
            t->pos++;
            return !posix(t);
        }
        if (is(a[0], "(") && is(a[2], ")"))
            return *a[1] != '\0';
        break;
    case 4:
        if (is(a[0], "!")) {
            t->pos++;
            return !posix(t);
        }
        if (is(a[0], "(") && is(a[3], ")")) {
            t->pos++;
            t->end--;
            return posix(t);
        }
        break;
    }
    bool r = oexpr(t);
    if (t->pos < t->end)
        complain(t, t->v[t->pos], "unexpected operator");
    return r;
}

int bi_test(int argc, char **argv)
{
    tp t = { argv, 1, argc, argv[0], false, 0 };
    if (is(argv[0], "[")) {
        if (argc < 2 || !is(argv[argc - 1], "]")) {
            fprintf(stderr, "pshell: [: missing ]\n");
            return 2;
        }
        t.end--;
    }
    bool r = posix(&t);
    return t.error ? 2 : !r;
}
