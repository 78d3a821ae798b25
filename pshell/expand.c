/* pshell — word expansion: tilde, parameters, command substitution, arithmetic, field
 * splitting, pathname expansion and quote removal, in the order POSIX gives.
 *
 * Pass 1 walks the word's source text and appends characters to a buffer with a flag per
 * character (quoted, or produced by an unquoted expansion and so subject to splitting); pass 2
 * splits on IFS and globs.  Markers (zero-width characters) carry "a quoted part was here"
 * (so "" is an empty field) and the field breaks of "$@". */
#include "shell.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F_QUOTED 1 /* not split, not a glob character */
#define F_SPLIT 2  /* from an unquoted expansion: IFS characters split */
#define F_MARK 4   /* zero-width: a quoted part (the field exists even if empty) */
#define F_BREAK 8  /* zero-width: end the field here ("$@") */
#define F_SBREAK 16 /* zero-width: end the field if it has anything (unquoted $@) */

#define C_DQ 1      /* inside double quotes */
#define C_SPLITLIT 2 /* literal characters are splittable (word of ${x:-word} unquoted) */
#define C_ASSIGN 4  /* an assignment value: tilde after ':' too */
#define C_NOSPLIT 8 /* the result will not be split (assignment, redirection target) */
#define C_PATTERN 16 /* a pattern: quoted characters become escaped */
#define C_HEREDOC 32 /* a here-document body: \" is two characters */
#define C_DQWORD 64 /* the word of ${x-word} inside "...": inner "..." still quote */

typedef struct xbuf {
    char *s;
    unsigned char *f;
    size_t n, cap;
    bool atsign_empty; /* the last "$@" expanded to nothing */
} xbuf;

static void xput(xbuf *b, char c, unsigned char f)
{
    if (b->n + 1 >= b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->s = xrealloc(b->s, b->cap);
        b->f = xrealloc(b->f, b->cap);
    }
    b->s[b->n] = c;
    b->f[b->n] = f;
    b->n++;
}

static void xputs(xbuf *b, const char *s, size_t n, unsigned char f)
{
    for (size_t i = 0; i < n; i++)
        xput(b, s[i], f);
}

static void xfree(xbuf *b)
{
    free(b->s);
    free(b->f);
}

void sl_push(strlist *l, char *s)
{
    if (l->n + 1 >= l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
}

void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

const char *ifs_value(void)
{
    const char *v = var_get("IFS");
    return v ? v : " \t\n";
}

static bool expand_part(xbuf *b, const char *w, size_t n, int ctx);

/* ---- special and positional parameters ---------------------------------------------------- */
static char numbuf[32];

static const char *opt_letters(void)
{
    static char b[16];
    char *p = b;
    if (sh.errexit) *p++ = 'e';
    if (sh.noglob) *p++ = 'f';
    if (sh.interactive) *p++ = 'i';
    if (sh.monitor) *p++ = 'm';
    if (sh.noexec) *p++ = 'n';
    if (sh.nounset) *p++ = 'u';
    if (sh.verbose) *p++ = 'v';
    if (sh.xtrace) *p++ = 'x';
    if (sh.noclobber) *p++ = 'C';
    if (sh.allexport) *p++ = 'a';
    *p = 0;
    return b;
}

/* the value of a parameter other than @ and *; NULL when unset */
static const char *param_value(const char *name, size_t len)
{
    if (len == 1) {
        switch (name[0]) {
        case '?': snprintf(numbuf, sizeof numbuf, "%d", sh.status); return numbuf;
        case '$': snprintf(numbuf, sizeof numbuf, "%ld", (long)sh.pid); return numbuf;
        case '!':
            if (!sh.lastbg)
                return NULL;
            snprintf(numbuf, sizeof numbuf, "%ld", (long)sh.lastbg);
            return numbuf;
        case '#': snprintf(numbuf, sizeof numbuf, "%d", pos->n); return numbuf;
        case '-': return opt_letters();
        case '0': return sh.arg0;
        default: break;
        }
    }
    if (isdigit((unsigned char)name[0])) {
        long k = 0;
        for (size_t i = 0; i < len && k < 100000000; i++)
            k = k * 10 + (name[i] - '0');
        return k >= 1 && k <= pos->n ? pos->v[k - 1] : NULL;
    }
    char tmp[256];
    if (len >= sizeof tmp)
        return NULL;
    memcpy(tmp, name, len);
    tmp[len] = 0;
    if (strcmp(tmp, "pipestatus") == 0 && !var_get(tmp))
        return sh.pipestatus ? sh.pipestatus : "";
    if (strcmp(tmp, "LINENO") == 0 && !var_get(tmp)) {
        snprintf(numbuf, sizeof numbuf, "%d", sh.lineno);
        return numbuf;
    }
    return var_get(tmp);
}

/* ---- pattern helpers ------------------------------------------------------------------------- */
bool sh_match(const char *pattern, const char *s)
{
    return fnmatch(pattern, s, 0) == 0;
}

/* remove the shortest/longest prefix/suffix matching pat from v */
static char *strip(const char *v, const char *pat, bool suffix, bool longest)
{
    size_t n = strlen(v);
    char *t = xmalloc(n + 1);
    char *r = NULL;
    if (!suffix) {
        for (size_t k = 0; k <= n; k++) {
            size_t i = longest ? n - k : k;
            memcpy(t, v, i);
            t[i] = 0;
            if (sh_match(pat, t)) {
                r = xstrdup(v + i);
                break;
            }
        }
    } else {
        for (size_t k = 0; k <= n; k++) {
            size_t i = longest ? k : n - k;
            if (sh_match(pat, v + i)) {
                memcpy(t, v, i);
                t[i] = 0;
                r = xstrdup(t);
                break;
            }
        }
    }
    free(t);
    return r ? r : xstrdup(v);
}

/* buffer contents as a plain string (markers dropped; "$@" breaks become spaces) */
static char *flatten(const xbuf *b, bool pattern)
{
    char *s = xmalloc(b->n * 2 + 1);
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->f[i] & (F_MARK | F_SBREAK))
            continue;
        if (b->f[i] & F_BREAK) {
            s[k++] = ' ';
            continue;
        }
        char c = b->s[i];
        if (pattern && (b->f[i] & F_QUOTED) && strchr("*?[]\\", c))
            s[k++] = '\\';
        s[k++] = c;
    }
    s[k] = 0;
    return s;
}

static char *expand_ctx(const char *word, size_t n, int ctx, bool pattern)
{
    xbuf b = {0};
    if (!expand_part(&b, word, n, ctx)) {
        xfree(&b);
        return NULL;
    }
    char *s = flatten(&b, pattern);
    xfree(&b);
    return s;
}

char *expand_str(const char *word)
{
    return expand_ctx(word, strlen(word), C_NOSPLIT | C_ASSIGN, false);
}

char *expand_pattern(const char *word)
{
    return expand_ctx(word, strlen(word), C_NOSPLIT | C_PATTERN, true);
}

/* ---- command substitution and arithmetic ---------------------------------------------------- */
static const char *arith_get(void *ctx, const char *name)
{
    (void)ctx;
    return var_get(name);
}

static int arith_set(void *ctx, const char *name, const char *value)
{
    (void)ctx;
    return var_set(name, value, 0);
}

static bool arith(xbuf *b, const char *text, size_t len, int ctx)
{
    char *e = expand_ctx(text, len, C_DQ | C_NOSPLIT, false);
    if (!e)
        return false;
    sh_arith_env env = {arith_get, arith_set, NULL};
    intmax_t v;
    char *err = NULL;
    int r = sh_arith(e, &env, &v, &err);
    if (r < 0) {
        sh_error("arithmetic expression: %s: \"%s\"", err ? err : "error", e);
        free(err);
        free(e);
        sh.status = 2;
        if (!sh.interactive)
            sh_exit(2);
        return false;
    }
    free(e);
    char num[32];
    snprintf(num, sizeof num, "%" PRIdMAX, v);
    xputs(b, num, strlen(num), (ctx & C_DQ) ? F_QUOTED : F_SPLIT);
    return true;
}

static void put_value(xbuf *b, const char *v, int ctx)
{
    xputs(b, v, strlen(v), (ctx & C_DQ) ? F_QUOTED : F_SPLIT);
}

/* ---- ${...} ---------------------------------------------------------------------------------- */
static bool is_special(char c)
{
    return c == '?' || c == '$' || c == '!' || c == '#' || c == '-' || c == '@' || c == '*' || isdigit((unsigned char)c);
}

static void put_atsign(xbuf *b, bool star, int ctx)
{
    if (pos->n == 0) {
        if (star && (ctx & C_DQ))
            xput(b, 0, F_MARK); /* "$*" is one empty field */
        else
            b->atsign_empty = true;
        return;
    }
    if (ctx & C_DQ) {
        if (star) {
            const char *ifs = ifs_value();
            for (int i = 0; i < pos->n; i++) {
                if (i && ifs[0])
                    xput(b, ifs[0], F_QUOTED);
                xputs(b, pos->v[i], strlen(pos->v[i]), F_QUOTED);
            }
            xput(b, 0, F_MARK);
        } else {
            for (int i = 0; i < pos->n; i++) {
                if (i)
                    xput(b, 0, F_BREAK);
                xput(b, 0, F_MARK);
                xputs(b, pos->v[i], strlen(pos->v[i]), F_QUOTED);
            }
        }
        return;
    }
    for (int i = 0; i < pos->n; i++) {
        if (i)
            xput(b, 0, (ctx & C_NOSPLIT) ? F_BREAK : F_SBREAK);
        xputs(b, pos->v[i], strlen(pos->v[i]), F_SPLIT);
    }
}

static void unset_error(const char *name, size_t len)
{
    sh_error("%.*s: parameter not set", (int)len, name);
    sh.status = 2;
    if (!sh.interactive)
        sh_exit(2);
}

static bool braced(xbuf *b, const char *t, size_t n, int ctx)
{
    size_t i = 0;
    bool length = false;
    if (n >= 2 && t[0] == '#' && t[1] != '}' && !(n == 1)) {
        /* ${#name} unless it is ${#} or ${#-...}/${#?...} style operators on $# */
        if (n > 1 && (isalnum((unsigned char)t[1]) || t[1] == '_' || (is_special(t[1]) && n == 2))) {
            length = true;
            i = 1;
        }
    }
    size_t ns = i;
    if (i < n && (isalpha((unsigned char)t[i]) || t[i] == '_')) {
        while (i < n && (isalnum((unsigned char)t[i]) || t[i] == '_'))
            i++;
    } else if (i < n && isdigit((unsigned char)t[i])) {
        while (i < n && isdigit((unsigned char)t[i]))
            i++;
    } else if (i < n && is_special(t[i])) {
        i++;
    } else {
        sh_error("${%.*s}: bad substitution", (int)n, t);
        sh.status = 2;
        if (!sh.interactive)
            sh_exit(2);
        return false;
    }
    const char *name = t + ns;
    size_t nlen = i - ns;
    bool at = nlen == 1 && (name[0] == '@' || name[0] == '*');
    const char *v = at ? (pos->n ? "" : NULL) : param_value(name, nlen);
    if (length) {
        if (i != n) {
            sh_error("${%.*s}: bad substitution", (int)n, t);
            sh.status = 2;
            if (!sh.interactive)
                sh_exit(2);
            return false;
        }
        if (!v && sh.nounset && !at) {
            unset_error(name, nlen);
            return false;
        }
        size_t l = 0;
        if (at)
            l = (size_t)pos->n;
        else if (v) {
            for (const char *c = v; *c; c++) /* characters, not bytes (UTF-8) */
                l += ((unsigned char)*c & 0xC0) != 0x80;
        }
        char num[32];
        snprintf(num, sizeof num, "%zu", l);
        put_value(b, num, ctx);
        return true;
    }
    if (i == n) {
        if (at) {
            put_atsign(b, name[0] == '*', ctx);
            return true;
        }
        if (!v) {
            if (sh.nounset) {
                unset_error(name, nlen);
                return false;
            }
            return true;
        }
        put_value(b, v, ctx);
        return true;
    }
    bool colon = false;
    if (t[i] == ':') {
        colon = true;
        i++;
    }
    if (i >= n) {
        sh_error("${%.*s}: bad substitution", (int)n, t);
        sh.status = 2;
        if (!sh.interactive)
            sh_exit(2);
        return false;
    }
    char op = t[i++];
    const char *word = t + i;
    size_t wlen = n - i;
    bool set = at ? pos->n > 0 : v != NULL;
    bool nonnull;
    if (!at)
        nonnull = set && v[0];
    else if (name[0] == '*') { /* the joined value */
        const char *ifs = ifs_value();
        nonnull = false;
        for (int k = 0; k < pos->n; k++)
            nonnull |= pos->v[k][0] || (k > 0 && ifs[0]);
    } else
        nonnull = pos->n > 1 || (pos->n == 1 && pos->v[0][0]);
    bool use = colon ? nonnull : set; /* the parameter counts as "set" for the operator */
    int wctx = (ctx & (C_DQ | C_NOSPLIT)) | ((ctx & C_DQ) ? C_DQWORD : C_SPLITLIT);
    switch (op) {
    case '-':
        if (use) {
            if (at)
                put_atsign(b, name[0] == '*', ctx);
            else
                put_value(b, v, ctx);
            return true;
        }
        return expand_part(b, word, wlen, wctx);
    case '+':
        if (use)
            return expand_part(b, word, wlen, wctx);
        return true;
    case '=':
        if (use) {
            if (at)
                put_atsign(b, name[0] == '*', ctx);
            else
                put_value(b, v, ctx);
            return true;
        }
        {
            char nm[256];
            snprintf(nm, sizeof nm, "%.*s", (int)nlen, name);
            if (!sh_is_name(nm)) {
                sh_error("%s: bad variable name", nm);
                sh.status = 2;
                if (!sh.interactive)
                    sh_exit(2);
                return false;
            }
            char *val = expand_ctx(word, wlen, C_NOSPLIT | ((ctx & C_DQ) ? C_DQ | C_DQWORD : 0), false);
            if (!val)
                return false;
            if (var_set(nm, val, 0) < 0) {
                free(val);
                sh.status = 2;
                if (!sh.interactive)
                    sh_exit(2);
                return false;
            }
            put_value(b, val, ctx);
            free(val);
        }
        return true;
    case '?': {
        if (use) {
            if (at)
                put_atsign(b, name[0] == '*', ctx);
            else
                put_value(b, v, ctx);
            return true;
        }
        char *msg = wlen ? expand_ctx(word, wlen, C_NOSPLIT, false) : NULL;
        sh_error("%.*s: %s", (int)nlen, name, msg ? msg : colon ? "parameter null or not set" : "parameter not set");
        free(msg);
        sh.status = 2;
        if (!sh.interactive)
            sh_exit(2);
        return false;
    }
    case '%':
    case '#': {
        if (colon)
            break;
        bool longest = i < n && t[i] == op;
        if (longest) {
            word++;
            wlen--;
        }
        if (!v && sh.nounset && !at) {
            unset_error(name, nlen);
            return false;
        }
        char *pat = expand_ctx(word, wlen, C_NOSPLIT | C_PATTERN, true);
        if (!pat)
            return false;
        char *r = strip(v ? v : "", pat, op == '%', longest);
        put_value(b, r, ctx);
        free(r);
        free(pat);
        return true;
    }
    default:
        break;
    }
    sh_error("${%.*s}: bad substitution", (int)n, t);
    sh.status = 2;
    if (!sh.interactive)
        sh_exit(2);
    return false;
}

/* ---- pass 1 ---------------------------------------------------------------------------------- */
static size_t find_dquote_end(const char *w, size_t n, size_t i)
{
    /* i is just after the opening quote; returns the index of the closing one */
    while (i < n && w[i] != '"') {
        if (w[i] == '\\' && i + 1 < n)
            i += 2;
        else if (w[i] == '$' || w[i] == '`') {
            size_t e = scan_subst(w, n, i);
            i = e == (size_t)-1 ? i + 1 : e;
        } else
            i++;
    }
    return i;
}

static bool tilde(xbuf *b, const char *w, size_t n, size_t *ip, int ctx)
{
    size_t i = *ip + 1, s = i;
    while (i < n && w[i] != '/' && !((ctx & C_ASSIGN) && w[i] == ':')) {
        if (w[i] == '\'' || w[i] == '"' || w[i] == '\\' || w[i] == '$' || w[i] == '`')
            return false; /* quoted or expanded: not a tilde prefix */
        i++;
    }
    const char *home = NULL;
    if (i == s) {
        home = var_get("HOME");
        if (!home) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
    } else {
        char user[256];
        if (i - s >= sizeof user)
            return false;
        memcpy(user, w + s, i - s);
        user[i - s] = 0;
        struct passwd *pw = getpwnam(user);
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return false;
    xputs(b, home, strlen(home), F_QUOTED);
    *ip = i;
    return true;
}

static bool expand_part(xbuf *b, const char *w, size_t n, int ctx)
{
    bool dq = ctx & C_DQ;
    unsigned char lit = dq ? F_QUOTED : (ctx & C_SPLITLIT) ? F_SPLIT : 0;
    for (size_t i = 0; i < n;) {
        char c = w[i];
        if (c == '\'' && !dq) {
            size_t e = i + 1;
            while (e < n && w[e] != '\'')
                e++;
            xputs(b, w + i + 1, e - i - 1, F_QUOTED);
            xput(b, 0, F_MARK);
            i = e + 1;
            continue;
        }
        if (c == '"' && (!dq || (ctx & C_DQWORD))) {
            size_t e = find_dquote_end(w, n, i + 1);
            size_t before = b->n;
            b->atsign_empty = false;
            if (!expand_part(b, w + i + 1, e - i - 1, (ctx & ~(C_SPLITLIT | C_DQWORD)) | C_DQ))
                return false;
            if (!(b->atsign_empty && b->n == before))
                xput(b, 0, F_MARK);
            b->atsign_empty = false;
            i = e + 1;
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= n) {
                xput(b, '\\', lit | F_QUOTED);
                i++;
                continue;
            }
            char d = w[i + 1];
            if (!dq || d == '$' || d == '`' || (d == '"' && !(ctx & C_HEREDOC)) || d == '\\' || d == '\n') {
                if (d != '\n')
                    xput(b, d, F_QUOTED);
                i += 2;
                continue;
            }
            xput(b, '\\', F_QUOTED);
            i++;
            continue;
        }
        if (c == '~' && !dq && (i == 0 || ((ctx & C_ASSIGN) && (w[i - 1] == ':' || w[i - 1] == '=')))) {
            if (tilde(b, w, n, &i, ctx))
                continue;
        }
        if (c == '`') {
            size_t e = scan_subst(w, n, i);
            if (e == (size_t)-1)
                e = n;
            /* undo the backquote escapes */
            char *t = xmalloc(e - i);
            size_t k = 0;
            for (size_t j = i + 1; j + 1 < e; j++) {
                if (w[j] == '\\' && j + 2 < e &&
                    (w[j + 1] == '$' || w[j + 1] == '`' || w[j + 1] == '\\' || (dq && w[j + 1] == '"')))
                    j++;
                t[k++] = w[j];
            }
            t[k] = 0;
            char *full = xmalloc(k + 2);
            memcpy(full, t, k);
            full[k] = ')';
            full[k + 1] = 0;
            bool ok;
            char *out = command_subst(full, k + 1, &ok);
            free(full);
            free(t);
            if (!ok)
                return false;
            put_value(b, out, ctx);
            free(out);
            i = e;
            continue;
        }
        if (c == '$' && i + 1 < n) {
            char d = w[i + 1];
            if (d == '(' ) {
                size_t e = scan_subst(w, n, i);
                if (e == (size_t)-1)
                    e = n;
                if (i + 2 < n && w[i + 2] == '(' && e >= i + 5 && w[e - 2] == ')') {
                    if (!arith(b, w + i + 3, e - i - 5, ctx))
                        return false;
                } else {
                    bool ok;
                    char *out = command_subst(w + i + 2, e - i - 2, &ok);
                    if (!ok)
                        return false;
                    put_value(b, out, ctx);
                    free(out);
                }
                i = e;
                continue;
            }
            if (d == '{') {
                size_t e = scan_subst(w, n, i);
                if (e == (size_t)-1)
                    e = n;
                if (!braced(b, w + i + 2, e - i - 3, ctx))
                    return false;
                i = e;
                continue;
            }
            if (isalpha((unsigned char)d) || d == '_') {
                size_t e = i + 1;
                while (e < n && (isalnum((unsigned char)w[e]) || w[e] == '_'))
                    e++;
                const char *v = param_value(w + i + 1, e - i - 1);
                if (!v && sh.nounset) {
                    unset_error(w + i + 1, e - i - 1);
                    return false;
                }
                if (v)
                    put_value(b, v, ctx);
                i = e;
                continue;
            }
            if (d == '@' || d == '*') {
                put_atsign(b, d == '*', ctx);
                i += 2;
                continue;
            }
            if (is_special(d)) {
                const char *v = param_value(w + i + 1, 1);
                if (!v && sh.nounset && d != '!' ) {
                    unset_error(w + i + 1, 1);
                    return false;
                }
                if (v)
                    put_value(b, v, ctx);
                i += 2;
                continue;
            }
        }
        xput(b, c, lit);
        i++;
    }
    return true;
}

/* ---- pass 2: splitting and globbing ---------------------------------------------------------- */
typedef struct field {
    char *s;
    unsigned char *f;
    size_t n, cap;
    bool started;
    bool glob; /* has an unquoted glob character */
} field;

static void fput(field *fl, char c, unsigned char f)
{
    if (fl->n + 1 >= fl->cap) {
        fl->cap = fl->cap ? fl->cap * 2 : 32;
        fl->s = xrealloc(fl->s, fl->cap);
        fl->f = xrealloc(fl->f, fl->cap);
    }
    fl->s[fl->n] = c;
    fl->f[fl->n] = f;
    fl->n++;
    if (!(f & F_QUOTED) && (c == '*' || c == '?' || c == '['))
        fl->glob = true;
}

/* a real pattern: an unquoted * or ?, or an unquoted [ with a ] after it (a lone "[", as in
 * `[ $x = y ]`, is no pattern, and globbing it would read the directory for nothing) */
static bool is_pattern(const field *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        if (fl->f[i] & F_QUOTED)
            continue;
        char c = fl->s[i];
        if (c == '*' || c == '?')
            return true;
        if (c == '[')
            for (size_t k = i + 1; k < fl->n; k++)
                if (fl->s[k] == ']' && k > i + 1)
                    return true;
    }
    return false;
}

static void field_out(field *fl, strlist *out)
{
    char *lit = xmalloc(fl->n + 1);
    if (fl->n)
        memcpy(lit, fl->s, fl->n);
    lit[fl->n] = 0;
    if (fl->glob && !sh.noglob && is_pattern(fl)) {
        char *pat = xmalloc(fl->n * 2 + 1);
        size_t k = 0;
        for (size_t i = 0; i < fl->n; i++) {
            if ((fl->f[i] & F_QUOTED) && strchr("*?[]\\", fl->s[i]))
                pat[k++] = '\\';
            pat[k++] = fl->s[i];
        }
        pat[k] = 0;
        glob_t g;
        int r = glob(pat, 0, NULL, &g);
        free(pat);
        if (r == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++)
                sl_push(out, xstrdup(g.gl_pathv[i]));
            globfree(&g);
            free(lit);
            goto reset;
        }
        if (r != GLOB_NOMATCH)
            globfree(&g);
    }
    sl_push(out, lit);
reset:
    fl->n = 0;
    fl->started = false;
    fl->glob = false;
}

static void split(const xbuf *b, strlist *out)
{
    const char *ifs = ifs_value();
    field fl = {0};
    bool ws_delim = false;
    for (size_t i = 0; i < b->n; i++) {
        unsigned char f = b->f[i];
        char c = b->s[i];
        if (f & F_MARK) {
            fl.started = true;
            continue;
        }
        if (f & F_BREAK) {
            field_out(&fl, out);
            ws_delim = false;
            continue;
        }
        if (f & F_SBREAK) {
            if (fl.started)
                field_out(&fl, out);
            ws_delim = false;
            continue;
        }
        if ((f & F_SPLIT) && c && strchr(ifs, c)) {
            bool ws = c == ' ' || c == '\t' || c == '\n';
            if (ws) {
                if (fl.started) {
                    field_out(&fl, out);
                    ws_delim = true;
                }
            } else {
                if (fl.started || !ws_delim)
                    field_out(&fl, out);
                ws_delim = false;
            }
            continue;
        }
        fput(&fl, c, f);
        fl.started = true;
        ws_delim = false;
    }
    if (fl.started)
        field_out(&fl, out);
    free(fl.s);
    free(fl.f);
}

int expand_words(char **words, int n, strlist *out)
{
    for (int i = 0; i < n; i++) {
        const char *w = words[i];
        /* fast path: a plain word */
        bool plain = true;
        for (const char *c = w; *c; c++)
            if (strchr("'\"\\$`~*?[", *c)) {
                plain = false;
                break;
            }
        if (plain) {
            sl_push(out, xstrdup(w));
            continue;
        }
        xbuf b = {0};
        if (!expand_part(&b, w, strlen(w), 0)) {
            xfree(&b);
            return -1;
        }
        split(&b, out);
        xfree(&b);
    }
    return 0;
}

char *expand_heredoc(const char *body)
{
    /* $, ` and \ (before $ ` \ newline) are special; quotes are not */
    return expand_ctx(body, strlen(body), C_DQ | C_NOSPLIT | C_HEREDOC, false);
}
