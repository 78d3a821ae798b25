/* pshell — the match builtin: a PCRE2 line filter (grep -P's habits) on libpipe's lp_regex.
 *
 *   match [-v] [-o] [-i] [-c] [-q] PATTERN [FILE...]     lines of the files (none, or -: stdin)
 *   match -q PATTERN STRING...                           test form: the operands are strings
 *
 * Lines end at '\n'; the pattern sees a line without its newline.  Input is read in blocks of
 * 1 MiB (a longer line grows the buffer) and output goes to fd 1 in 256 KiB writes.  When the
 * pattern is "line-local" (see buffer_safe) a second, multiline regex searches a whole block
 * at once: the JIT runs over many lines per call instead of being called once per line, and
 * only a match that runs across a newline sends its line to the per-line regex.  Otherwise
 * every line is matched alone.  Status: 0 a line (or string) was selected, 1 none, 2 error
 * (bad usage, bad pattern, unreadable file, write error), as grep. */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MATCH_BLOCK (1u << 20) /* read size and first buffer size */
#define MATCH_OUT (256u << 10)  /* output buffer */

typedef struct mstate {
    lp_regex *lre; /* the pattern, matched against one line */
    lp_regex *mre; /* the same with LP_RE_MULTILINE over a block of lines; NULL: line by line */
    bool invert, only, count, quiet, prefix;
    const char *name;    /* the source, for the FILE: prefix */
    unsigned long nsel;  /* lines selected in this source */
    bool any;            /* some line selected (any source) */
    bool stop;           /* -q: done */
    bool failed;         /* a read, write or memory error */
    bool write_failed;
    char *buf;
    size_t cap;
    char *out;
    size_t outn;
    char *hit;           /* -q from input: a copy of the first selected line, for MATCH_* */
    size_t hitlen;
} mstate;

/* ---- MATCH_* variables ------------------------------------------------------------------------ */
static char **set_names; /* the MATCH_* variables the last successful match set */
static size_t n_set;

static void forget_vars(void)
{
    for (size_t i = 0; i < n_set; i++) {
        var_unset(set_names[i]);
        free(set_names[i]);
    }
    free(set_names);
    set_names = NULL;
    n_set = 0;
}

static void set_var(const char *name, const char *s, size_t len)
{
    char *v = xmalloc(len + 1);
    memcpy(v, s, len);
    v[len] = 0;
    if (var_set(name, v, 0) == 0) {
        set_names = xrealloc(set_names, (n_set + 1) * sizeof *set_names);
        set_names[n_set++] = xstrdup(name);
    }
    free(v);
}

void sh_match_vars(const lp_regex *re, size_t ngroups, const char *const *cap, const size_t *len)
{
    forget_vars();
    char name[64];
    for (size_t i = 0; i <= ngroups; i++) {
        if (!cap[i])
            continue; /* a group that took no part stays unset: ${MATCH_2-none} tells */
        const char *v = cap[i];
        size_t vl = len[i];
        snprintf(name, sizeof name, "MATCH_%zu", i);
        set_var(name, v, vl);
        const char *gn = lp_regex_group_name(re, i);
        if (gn && strlen(gn) < sizeof name - 7) {
            snprintf(name, sizeof name, "MATCH_%s", gn);
            if (sh_is_name(name))
                set_var(name, v, vl);
        }
    }
}

void sh_match_vars_clear(void)
{
    forget_vars();
}

/* MATCH_* from a match of re on s[0, len): 1 matched, 0 not, <0 error */
static int set_vars(lp_regex *re, const char *s, size_t len)
{
    size_t ng = lp_regex_groups(re);
    lp_regmatch *m = xcalloc(ng + 1, sizeof *m);
    const char **cap = xcalloc(ng + 1, sizeof *cap);
    size_t *cl = xcalloc(ng + 1, sizeof *cl);
    int r = lp_regex_match(re, s, len, 0, m, ng + 1);
    if (r == 1) {
        for (size_t i = 0; i <= ng; i++)
            if (m[i].start != SIZE_MAX) {
                cap[i] = s + m[i].start;
                cl[i] = m[i].end - m[i].start;
            }
        sh_match_vars(re, ng, cap, cl);
    }
    free(m);
    free(cap);
    free(cl);
    return r;
}

/* ---- output ------------------------------------------------------------------------------------ */
static void write_all(mstate *st, const char *p, size_t n)
{
    if (!st->write_failed && sh_write_all(1, p, n) < 0) {
        fprintf(stderr, "pshell: match: write error: %s\n", strerror(errno));
        st->write_failed = st->failed = st->stop = true;
    }
}

static void out_flush(mstate *st)
{
    write_all(st, st->out, st->outn);
    st->outn = 0;
}

static void out_put(mstate *st, const char *p, size_t n)
{
    if (st->outn + n > MATCH_OUT)
        out_flush(st);
    if (n >= MATCH_OUT) {
        write_all(st, p, n);
        return;
    }
    memcpy(st->out + st->outn, p, n);
    st->outn += n;
}

static void out_prefix(mstate *st)
{
    if (st->prefix) {
        out_put(st, st->name, strlen(st->name));
        out_put(st, ":", 1);
    }
}

/* ---- selection --------------------------------------------------------------------------------- */
static int line_matches(mstate *st, const char *l, size_t len)
{
    lp_regmatch m;
    int r = lp_regex_match(st->lre, l, len, 0, &m, 1);
    if (r < 0) {
        fputs("pshell: match: out of memory\n", stderr);
        st->failed = st->stop = true;
        return 0;
    }
    return r;
}

/* -o: the non-empty matches of line [l, l+len), each on its own line; an empty match moves on
 * by one byte, as grep */
static void print_only(mstate *st, const char *l, size_t len)
{
    size_t cur = 0;
    lp_regmatch m;
    while (cur <= len && lp_regex_match(st->lre, l, len, cur, &m, 1) == 1 && m.start < len) {
        if (m.end == m.start) {
            cur = m.start + 1;
            continue;
        }
        out_prefix(st);
        out_put(st, l + m.start, m.end - m.start);
        out_put(st, "\n", 1);
        cur = m.end;
    }
}

/* selected lines [p, p+len): whole lines, each with its '\n' */
static void select_lines(mstate *st, const char *p, size_t len)
{
    if (len == 0 || st->stop)
        return;
    st->any = true;
    if (st->quiet) {
        const char *nl = memchr(p, '\n', len);
        st->nsel++;
        if (!st->invert) {
            st->hitlen = (size_t)(nl - p);
            st->hit = xmalloc(st->hitlen + 1);
            memcpy(st->hit, p, st->hitlen);
        }
        st->stop = true;
        return;
    }
    if (st->count || (st->only && st->invert)) { /* count lines: -o -v prints nothing */
        for (const char *e = p + len; p < e; p++) {
            p = memchr(p, '\n', (size_t)(e - p));
            st->nsel++;
        }
        return;
    }
    if (!st->prefix && !st->only) {
        for (const char *e = p + len; p < e; p++) {
            p = memchr(p, '\n', (size_t)(e - p));
            st->nsel++;
        }
        out_put(st, p - len, len);
        return;
    }
    for (const char *e = p + len; p < e;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        st->nsel++;
        if (st->only)
            print_only(st, p, (size_t)(nl - p));
        else {
            out_prefix(st);
            out_put(st, p, (size_t)(nl - p) + 1);
        }
        p = nl + 1;
    }
}

/* lines that are not matches: selected with -v */
static void gap_lines(mstate *st, const char *p, size_t len)
{
    if (st->invert)
        select_lines(st, p, len);
}

static void match_lines(mstate *st, const char *p, size_t len)
{
    if (!st->invert)
        select_lines(st, p, len);
}

/* Complete lines b[0, len), b[len-1] == '\n' */
static void process(mstate *st, char *b, size_t len)
{
    if (!st->mre) { /* line by line */
        size_t run = 0, cur = 0; /* run: start of the current run of lines of one kind */
        int kind = -1;
        while (cur < len && !st->stop) {
            char *nl = memchr(b + cur, '\n', len - cur);
            size_t le = (size_t)(nl - b);
            int k = line_matches(st, b + cur, le - cur);
            if (k != kind && kind >= 0) {
                (kind ? match_lines : gap_lines)(st, b + run, cur - run);
                run = cur;
            }
            kind = k;
            cur = le + 1;
        }
        if (kind >= 0 && !st->stop)
            (kind ? match_lines : gap_lines)(st, b + run, cur - run);
        return;
    }
    size_t cur = 0; /* a line start */
    lp_regmatch m;
    while (cur < len && !st->stop) {
        int r = lp_regex_match(st->mre, b, len, cur, &m, 1);
        if (r < 0) {
            fputs("pshell: match: out of memory\n", stderr);
            st->failed = st->stop = true;
            return;
        }
        if (r == 0 || m.start >= len) {
            gap_lines(st, b + cur, len - cur);
            return;
        }
        char *ls = m.start > cur ? memrchr(b + cur, '\n', m.start - cur) : NULL;
        size_t lstart = ls ? (size_t)(ls - b) + 1 : cur;
        size_t le = (size_t)((char *)memchr(b + m.start, '\n', len - m.start) - b);
        /* a match that runs across the newline: does the line match on its own? */
        if (m.end <= le || line_matches(st, b + lstart, le - lstart)) {
            gap_lines(st, b + cur, lstart - cur);
            match_lines(st, b + lstart, le + 1 - lstart);
        } else
            gap_lines(st, b + cur, le + 1 - cur);
        cur = le + 1;
    }
}

/* the lines of fd; 0, or 2 after a read error (reported) */
static int do_fd(mstate *st, int fd, const char *name)
{
    size_t n = 0;
    st->nsel = 0;
    st->name = name;
    for (;;) {
        if (st->cap - n < MATCH_BLOCK / 4 + 1) {
            st->cap *= 2;
            st->buf = xrealloc(st->buf, st->cap);
        }
        ssize_t r = read(fd, st->buf + n, st->cap - n - 1); /* room for a final '\n' */
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "pshell: match: %s: %s\n", name, strerror(errno));
            return 2;
        }
        if (r == 0) {
            if (n > 0) {
                st->buf[n++] = '\n'; /* the last line without its newline */
                process(st, st->buf, n);
            }
            break;
        }
        char *nl = memrchr(st->buf + n, '\n', (size_t)r);
        n += (size_t)r;
        if (!nl)
            continue;
        size_t upto = (size_t)(nl - st->buf) + 1;
        process(st, st->buf, upto);
        memmove(st->buf, st->buf + upto, n - upto);
        n -= upto;
        if (st->stop)
            break;
    }
    if (st->count && !st->quiet) {
        char num[32];
        int k = snprintf(num, sizeof num, "%lu\n", st->nsel);
        out_prefix(st);
        out_put(st, num, (size_t)k);
    }
    return 0;
}

/* ---- the builtin ------------------------------------------------------------------------------- */
/* A block search with the multiline regex finds the same lines as line-by-line matching when
 * nothing in the pattern can look at the newline or the block around a line without consuming
 * it (a consumed newline shows as a match across lines and is checked alone): no lookaround,
 * no \A \z \Z \G \K, no atomic groups, possessive quantifiers or verbs (they could cut off a
 * path that a line alone would take).  Conservative: an escaped look-alike also says no. */
static bool buffer_safe(const char *pat)
{
    static const char *const unsafe[] = {"\\A", "\\z", "\\Z", "\\G", "\\K", "(?=", "(?!", "(?<=",
                                         "(?<!", "(?>", "(*", "*+", "++", "?+", "}+", NULL};
    for (size_t i = 0; unsafe[i]; i++)
        if (strstr(pat, unsafe[i]))
            return false;
    return true;
}

static bool contains_ci(const char *s, const char *w)
{
    for (size_t wl = strlen(w); *s; s++)
        if (strncasecmp(s, w, wl) == 0)
            return true;
    return false;
}

bool sh_utf8_locale(void)
{
    static const char *const names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = var_get(names[i]);
        if (v && *v)
            return contains_ci(v, "UTF-8") || contains_ci(v, "utf8");
    }
    return false;
}

static int usage(const char *why, const char *what)
{
    fprintf(stderr, "pshell: match: %s%s\n", why, what);
    fputs("usage: match [-v] [-o] [-i] [-c] [-q] PATTERN [FILE...]\n", stderr);
    return 2;
}

int bi_match(int argc, char **argv)
{
    mstate st = {0};
    bool caseless = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        for (const char *o = argv[i] + 1; *o; o++) {
            switch (*o) {
            case 'v': st.invert = true; break;
            case 'o': st.only = true; break;
            case 'i': caseless = true; break;
            case 'c': st.count = true; break;
            case 'q': st.quiet = true; break;
            case 'a': break; /* grep -a: input is always text here */
            default: {
                char bad[3] = {'-', *o, 0};
                return usage("unknown option ", bad);
            }
            }
        }
    }
    if (i >= argc)
        return usage("missing PATTERN", "");
    const char *pat = argv[i++];
    unsigned flags = (caseless ? LP_RE_CASELESS : 0) | (sh_utf8_locale() ? LP_RE_UTF : 0);
    char err[256];
    int r = lp_regex_new(&st.lre, pat, flags, err, sizeof err);
    if (r < 0) {
        if (r == -ENOMEM)
            fputs("pshell: match: out of memory\n", stderr);
        else
            fprintf(stderr, "pshell: match: bad pattern '%s': %s\n", pat, err);
        return 2;
    }
    if (buffer_safe(pat) && lp_regex_new(&st.mre, pat, flags | LP_RE_MULTILINE, NULL, 0) < 0)
        st.mre = NULL;

    int status;
    if (st.quiet && i < argc) { /* the test form: the operands are strings */
        bool hit = false;
        for (; i < argc && !hit; i++) {
            size_t len = strlen(argv[i]);
            int m = lp_regex_match(st.lre, argv[i], len, 0, &(lp_regmatch){0}, 1);
            if (m < 0) {
                fputs("pshell: match: out of memory\n", stderr);
                lp_regex_free(st.lre);
                lp_regex_free(st.mre);
                return 2;
            }
            if ((m == 1) != st.invert) {
                hit = true;
                forget_vars();
                if (!st.invert)
                    set_vars(st.lre, argv[i], len);
            }
        }
        lp_regex_free(st.lre);
        lp_regex_free(st.mre);
        return hit ? 0 : 1;
    }

    fflush(stdout);
    st.cap = MATCH_BLOCK;
    st.buf = xmalloc(st.cap);
    st.out = xmalloc(MATCH_OUT);
    st.prefix = argc - i > 1;
    bool errors = false;
    if (i >= argc)
        errors = do_fd(&st, 0, "(standard input)") != 0;
    for (; i < argc && !st.stop; i++) {
        const char *f = argv[i];
        if (strcmp(f, "-") == 0) {
            errors |= do_fd(&st, 0, "(standard input)") != 0;
            continue;
        }
        int fd = open(f, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "pshell: match: %s: %s\n", f, strerror(errno));
            errors = true;
            continue;
        }
        errors |= do_fd(&st, fd, f) != 0;
        close(fd);
    }
    out_flush(&st);
    if (st.hit) { /* -q over input: MATCH_* from the first matching line */
        forget_vars();
        set_vars(st.lre, st.hit, st.hitlen);
        free(st.hit);
    }
    if (st.failed)
        errors = true;
    status = errors && !(st.quiet && st.any) ? 2 : st.any ? 0 : 1;
    free(st.buf);
    free(st.out);
    lp_regex_free(st.lre);
    lp_regex_free(st.mre);
    return status;
}
