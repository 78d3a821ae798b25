/* pshell — lexer and recursive-descent parser: shell text -> AST (ast.h).  POSIX grammar:
 * lists, and-or, pipelines, simple commands with assignments and redirections, compound
 * commands, functions, here-documents, aliases.  Nothing here executes. */
#include "ast.h"
#include "shell.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------------------------------ */
struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};
struct arena {
    struct chunk *head;
};

arena *arena_new(void)
{
    return xcalloc(1, sizeof(arena));
}

void arena_free(arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void *amalloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 8000 ? n : 8000;
        c = xmalloc(sizeof *c + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *astrndup(arena *a, const char *s, size_t n)
{
    char *p = amalloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- source ----------------------------------------------------------------------------------- */
struct src {
    char *buf;
    size_t len, cap, pos;
    int line;
    size_t line_start; /* index where the current line begins (for columns) */
    const char *name;
    int (*more)(src *, void *);
    void *ctx;
    bool eof;
};

src *src_new(const char *name, const char *text, size_t len, int (*more)(src *, void *), void *ctx)
{
    src *s = xcalloc(1, sizeof *s);
    s->name = name;
    s->more = more;
    s->ctx = ctx;
    s->line = 1;
    s->cap = len + 64;
    s->buf = xmalloc(s->cap);
    if (len)
        memcpy(s->buf, text, len);
    s->len = len;
    s->buf[len] = 0;
    return s;
}

void src_append(src *s, const char *text, size_t len)
{
    if (s->len + len + 1 > s->cap) {
        while (s->len + len + 1 > s->cap)
            s->cap *= 2;
        s->buf = xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    s->buf[s->len] = 0;
}

void src_free(src *s)
{
    if (s) {
        free(s->buf);
        free(s);
    }
}

int src_line(const src *s)
{
    return s->line;
}

void src_discard(src *s)
{
    s->pos = s->len;
    s->eof = false;
    src_compact(s);
}

const char *src_text(const src *s, size_t *at)
{
    *at = s->pos;
    return s->buf;
}

void src_compact(src *s)
{
    if (s->pos == 0)
        return;
    memmove(s->buf, s->buf + s->pos, s->len - s->pos + 1);
    s->len -= s->pos;
    s->line_start = s->line_start > s->pos ? s->line_start - s->pos : 0;
    s->pos = 0;
}

/* the character at pos+k, reading more input when needed; -1 at end */
static int peekc(src *s, size_t k)
{
    while (s->pos + k >= s->len) {
        if (s->eof || !s->more || !s->more(s, s->ctx)) {
            s->eof = true;
            return -1;
        }
    }
    return (unsigned char)s->buf[s->pos + k];
}

static void advance(src *s, size_t k)
{
    for (size_t i = 0; i < k && s->pos < s->len; i++) {
        if (s->buf[s->pos] == '\n') {
            s->line++;
            s->line_start = s->pos + 1;
        }
        s->pos++;
    }
}

/* ---- tokens ----------------------------------------------------------------------------------- */
enum tok {
    T_EOF, T_WORD, T_NEWLINE, T_SEMI, T_DSEMI, T_AMP, T_AND, T_OR, T_PIPE, T_LPAREN, T_RPAREN,
    T_REDIR, T_ERR,
};

typedef struct parser {
    src *s;
    arena *a;
    bool no_alias;
    bool scanning;       /* scan_subst: finding the end of text parsed before */
    /* one token of lookahead */
    bool have;
    enum tok t;
    char *text;          /* T_WORD: raw text; T_REDIR: operator */
    bool quoted;         /* the word has a quote or backslash */
    int io_fd;           /* T_REDIR: explicit fd, -1 if none */
    enum redir_op rop;
    bool strip_tabs;     /* <<- */
    int line, col;
    size_t tstart;       /* buffer index where the token began */
    /* here-docs waiting for the next newline */
    redir *pending[64];
    int npending;
    /* stop at ')' of $( ... ) */
    int depth;
    bool error;
    const char *where;
    int line_base;
    /* active alias substitutions: name and buffer end of the substituted text */
    struct { const char *name; size_t end; } alias[16];
    int nalias;
    bool alias_next; /* the previous alias ended in a blank: check the next word too */
    size_t alias_next_at; /* ... the first word starting at or after this offset */
} parser;

static void syntax_error(parser *p, const char *fmt, ...)
{
    if (p->error)
        return;
    p->error = true;
    va_list ap;
    va_start(ap, fmt);
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pshell: %s: line %d, col %d: syntax error: %s\n", p->where, p->line + p->line_base,
            p->col, msg);
}

static const char *tok_name(parser *p)
{
    switch (p->t) {
    case T_EOF: return "end of file";
    case T_NEWLINE: return "newline";
    case T_SEMI: return "';'";
    case T_DSEMI: return "';;'";
    case T_AMP: return "'&'";
    case T_AND: return "'&&'";
    case T_OR: return "'||'";
    case T_PIPE: return "'|'";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    default: break;
    }
    static _Thread_local char b[80];
    snprintf(b, sizeof b, "'%.60s'", p->text ? p->text : "?");
    return b;
}

static void unexpected(parser *p)
{
    syntax_error(p, "unexpected %s", tok_name(p));
}

/* growable string */
typedef struct { char *s; size_t n, cap; } str;
static void sadd(str *b, const char *t, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 + 32;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, t, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void saddc(str *b, char c)
{
    sadd(b, &c, 1);
}

static bool is_meta(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' ||
           c == ')' || c == '<' || c == '>' || c == -1;
}

static node *parse_list(parser *p, bool top);
static bool scan_dollar(parser *p, str *w);
static int scan_part(parser *p, str *w, int c);

/* Copy a backslash escape or a line continuation; returns false at end of input. */
static bool scan_backslash(parser *p, str *w)
{
    int c = peekc(p->s, 1);
    if (c == '\n') { /* continuation: vanishes */
        advance(p->s, 2);
        return true;
    }
    if (c == -1) {
        saddc(w, '\\');
        advance(p->s, 1);
        return true;
    }
    saddc(w, '\\');
    saddc(w, (char)c);
    advance(p->s, 2);
    return true;
}

/* inside "...": up to and including the closing quote */
static bool scan_dquote(parser *p, str *w)
{
    saddc(w, '"');
    advance(p->s, 1);
    for (;;) {
        int c = peekc(p->s, 0);
        if (c == -1) {
            syntax_error(p, "unterminated double quote");
            return false;
        }
        if (c == '"') {
            saddc(w, '"');
            advance(p->s, 1);
            return true;
        }
        if (c == '\\') {
            scan_backslash(p, w);
            continue;
        }
        if (c == '$' || c == '`') {
            if (!scan_dollar(p, w))
                return false;
            continue;
        }
        saddc(w, (char)c);
        advance(p->s, 1);
    }
}

/* Parse the text of `...` now (undoing its backslash escapes), so a syntax error in it is
 * found before anything runs, like one in $(...). */
static bool check_backquoted(parser *p, const char *t, size_t n, int line)
{
    char *u = xmalloc(n + 2);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\\' && i + 1 < n && (t[i + 1] == '$' || t[i + 1] == '`' || t[i + 1] == '\\'))
            i++;
        u[k++] = t[i];
    }
    u[k++] = ')';
    u[k] = 0;
    arena *a = arena_new();
    size_t end;
    node *r = parse_cmdsub(u, k, &end, a, p->where, line + p->line_base);
    bool ok = r || end != (size_t)-1; /* an empty `` is fine */
    arena_free(a);
    free(u);
    if (!ok)
        p->error = true;
    return ok;
}

/* $..., ${...}, $(...), $((...)), `...` (at the current position); copies the raw text */
static bool scan_dollar(parser *p, str *w)
{
    src *s = p->s;
    int c = peekc(s, 0);
    if (c == '`') {
        size_t from = w->n;
        int line0 = s->line;
        saddc(w, '`');
        advance(s, 1);
        for (;;) {
            c = peekc(s, 0);
            if (c == -1) {
                syntax_error(p, "unterminated backquote");
                return false;
            }
            if (c == '\\') {
                int d = peekc(s, 1);
                if (d == '\n') {
                    advance(s, 2);
                    continue;
                }
                saddc(w, '\\');
                if (d != -1)
                    saddc(w, (char)d);
                advance(s, 2);
                continue;
            }
            saddc(w, (char)c);
            advance(s, 1);
            if (c == '`')
                return p->scanning || check_backquoted(p, w->s + from + 1, w->n - from - 2, line0);
        }
    }
    int d = peekc(s, 1);
    if (d == '(' && peekc(s, 2) == '(') {
        /* arithmetic: balanced parentheses up to "))" */
        sadd(w, "$((", 3);
        advance(s, 3);
        int depth = 0;
        for (;;) {
            c = peekc(s, 0);
            if (c == -1) {
                syntax_error(p, "unterminated arithmetic expansion");
                return false;
            }
            int k = scan_part(p, w, c);
            if (k < 0)
                return false;
            if (k > 0)
                continue;
            if (c == '(')
                depth++;
            else if (c == ')') {
                if (depth == 0 && peekc(s, 1) == ')') {
                    sadd(w, "))", 2);
                    advance(s, 2);
                    return true;
                }
                if (depth == 0) {
                    syntax_error(p, "unbalanced ')' in arithmetic expansion");
                    return false;
                }
                depth--;
            }
            saddc(w, (char)c);
            advance(s, 1);
        }
    }
    if (d == '(') {
        /* command substitution: parse the command list to find its end */
        advance(s, 2);
        size_t start = s->pos;
        parser sub = *p;
        sub.have = false;
        sub.depth = 1;
        sub.npending = 0;
        sub.nalias = 0;
        sub.alias_next = false;
        node *n = parse_list(&sub, false);
        (void)n;
        if (sub.error) {
            p->error = true;
            return false;
        }
        if (!sub.have || sub.t != T_RPAREN) {
            if (!sub.have) {
                p->line = s->line;
            }
            syntax_error(p, "unterminated command substitution");
            return false;
        }
        /* sub's lookahead is the ')' at sub.tstart */
        sadd(w, "$(", 2);
        sadd(w, s->buf + start, sub.tstart - start);
        saddc(w, ')');
        return true;
    }
    if (d == '{') {
        sadd(w, "${", 2);
        advance(s, 2);
        for (;;) {
            c = peekc(s, 0);
            if (c == -1) {
                syntax_error(p, "unterminated ${");
                return false;
            }
            if (c == '}') {
                saddc(w, '}');
                advance(s, 1);
                return true;
            }
            int k = scan_part(p, w, c);
            if (k < 0)
                return false;
            if (k > 0)
                continue;
            saddc(w, (char)c);
            advance(s, 1);
        }
    }
    saddc(w, '$');
    advance(s, 1);
    return true;
}

/* A quoted or substituted part starting at the current position (\x, '...', "...", $...,
 * `...`), copied to w.  1: there was one; 0: c starts none; -1: an error (reported). */
static int scan_part(parser *p, str *w, int c)
{
    src *s = p->s;
    switch (c) {
    case '\\':
        scan_backslash(p, w);
        return 1;
    case '\'':
        saddc(w, '\'');
        advance(s, 1);
        while ((c = peekc(s, 0)) != '\'' && c != -1) {
            saddc(w, (char)c);
            advance(s, 1);
        }
        if (c == -1) {
            syntax_error(p, "unterminated single quote");
            return -1;
        }
        saddc(w, '\'');
        advance(s, 1);
        return 1;
    case '"':
        return scan_dquote(p, w) ? 1 : -1;
    case '$':
    case '`':
        return scan_dollar(p, w) ? 1 : -1;
    default:
        return 0;
    }
}

static bool is_name_start(int c) { return c == '_' || isalpha(c); }
static bool is_name_char(int c) { return c == '_' || isalnum(c); }

static void read_heredocs(parser *p);

/* Read the next token into the lookahead. */
static void lex(parser *p)
{
    src *s = p->s;
    p->text = NULL;
    p->quoted = false;
    p->io_fd = -1;
again:
    for (;;) {
        int c = peekc(s, 0);
        if (c == ' ' || c == '\t')
            advance(s, 1);
        else if (c == '\\' && peekc(s, 1) == '\n')
            advance(s, 2);
        else
            break;
    }
    /* alias substitutions whose text is consumed end */
    while (p->nalias && s->pos >= p->alias[p->nalias - 1].end)
        p->nalias--;
    p->line = s->line;
    p->col = (int)(s->pos - s->line_start) + 1;
    p->tstart = s->pos;
    int c = peekc(s, 0);
    if (c == '#') {
        while ((c = peekc(s, 0)) != '\n' && c != -1)
            advance(s, 1);
        goto again;
    }
    p->have = true;
    switch (c) {
    case -1: p->t = T_EOF; return;
    case '\n':
        advance(s, 1);
        p->t = T_NEWLINE;
        if (p->npending)
            read_heredocs(p);
        return;
    case ';':
        if (peekc(s, 1) == ';') { advance(s, 2); p->t = T_DSEMI; return; }
        advance(s, 1); p->t = T_SEMI; return;
    case '&':
        if (peekc(s, 1) == '&') { advance(s, 2); p->t = T_AND; return; }
        advance(s, 1); p->t = T_AMP; return;
    case '|':
        if (peekc(s, 1) == '|') { advance(s, 2); p->t = T_OR; return; }
        advance(s, 1); p->t = T_PIPE; return;
    case '(': advance(s, 1); p->t = T_LPAREN; return;
    case ')': advance(s, 1); p->t = T_RPAREN; return;
    default: break;
    }
    /* an IO number: digits right before < or > */
    int fd = -1;
    if (isdigit(c)) {
        size_t k = 0;
        int v = 0;
        int d;
        while ((d = peekc(s, k)) != -1 && isdigit(d) && k < 9) {
            v = v * 10 + (d - '0');
            k++;
        }
        d = peekc(s, k);
        if (d == '<' || d == '>') {
            advance(s, k);
            fd = v;
            c = d;
        }
    }
    if (c == '<' || c == '>') {
        int c1 = peekc(s, 1);
        p->t = T_REDIR;
        p->strip_tabs = false;
        size_t n = 1;
        if (c == '<') {
            if (c1 == '<') {
                p->rop = R_HEREDOC;
                n = 2;
                if (peekc(s, 2) == '-') {
                    p->strip_tabs = true;
                    n = 3;
                }
            } else if (c1 == '&') { p->rop = R_DUPIN; n = 2; }
            else if (c1 == '>') { p->rop = R_RDWR; n = 2; }
            else p->rop = R_IN;
            if (fd < 0) fd = 0;
        } else {
            if (c1 == '>') { p->rop = R_APPEND; n = 2; }
            else if (c1 == '&') { p->rop = R_DUPOUT; n = 2; }
            else if (c1 == '|') { p->rop = R_CLOBBER; n = 2; }
            else p->rop = R_OUT;
            if (fd < 0) fd = 1;
        }
        p->text = astrndup(p->a, s->buf + s->pos, n);
        advance(s, n);
        p->io_fd = fd;
        return;
    }
    /* a word */
    str w = {0};
    for (;;) {
        c = peekc(s, 0);
        if (is_meta(c))
            break;
        if (c == '\\' || c == '\'' || c == '"')
            p->quoted = true;
        int k = scan_part(p, &w, c);
        if (k < 0)
            break;
        if (k == 0) {
            saddc(&w, (char)c);
            advance(s, 1);
        }
    }
    p->t = p->error ? T_ERR : T_WORD;
    p->text = astrndup(p->a, w.s ? w.s : "", w.n);
    free(w.s);
}

static enum tok peek(parser *p)
{
    if (!p->have && !p->error)
        lex(p);
    return p->error ? T_ERR : p->t;
}

static void consume(parser *p)
{
    p->have = false;
}

static bool peek_word(parser *p, const char *w)
{
    return peek(p) == T_WORD && !p->quoted && strcmp(p->text, w) == 0;
}

static void skip_newlines(parser *p)
{
    while (peek(p) == T_NEWLINE)
        consume(p);
}

static bool expect_word(parser *p, const char *w)
{
    if (peek_word(p, w)) {
        consume(p);
        return true;
    }
    if (!p->error)
        syntax_error(p, "unexpected %s (expecting '%s')", tok_name(p), w);
    return false;
}

/* ---- here-documents ------------------------------------------------------------------------ */
static void read_heredocs(parser *p)
{
    src *s = p->s;
    int n = p->npending;
    p->npending = 0;
    for (int i = 0; i < n; i++) {
        redir *r = p->pending[i];
        /* the delimiter: quote removal of the word */
        const char *dw = r->word;
        str d = {0};
        r->hd_expand = true;
        for (size_t k = 0; dw[k]; k++) {
            if (dw[k] == '\\' && dw[k + 1]) {
                r->hd_expand = false;
                saddc(&d, dw[++k]);
            } else if (dw[k] == '\'' || dw[k] == '"') {
                r->hd_expand = false;
            } else
                saddc(&d, dw[k]);
        }
        if (!d.s)
            sadd(&d, "", 0);
        bool strip = r->fd < 0; /* marker set by the parser for <<- */
        if (strip)
            r->fd = -r->fd - 1;
        str body = {0};
        sadd(&body, "", 0);
        for (;;) {
            if (peekc(s, 0) == -1)
                break; /* end of input ends the here-doc, as in dash */
            str line = {0};
            sadd(&line, "", 0);
            int c;
            while ((c = peekc(s, 0)) != -1 && c != '\n') {
                if (c == '\\' && r->hd_expand && peekc(s, 1) == '\n') {
                    /* continuation inside an expanding here-doc joins lines */
                    advance(s, 2);
                    continue;
                }
                saddc(&line, (char)c);
                advance(s, 1);
            }
            bool nl = c == '\n';
            if (nl)
                advance(s, 1);
            const char *l = line.s;
            if (strip)
                while (*l == '\t')
                    l++;
            if (strcmp(l, d.s) == 0) {
                free(line.s);
                break;
            }
            sadd(&body, l, strlen(l));
            if (nl)
                saddc(&body, '\n');
            free(line.s);
            if (!nl)
                break;
        }
        r->body = astrndup(p->a, body.s, body.n);
        free(body.s);
        free(d.s);
    }
}

/* ---- grammar ---------------------------------------------------------------------------------- */
static bool is_reserved(const char *w)
{
    static const char *const rw[] = {"if", "then", "else", "elif", "fi", "do", "done", "case",
                                     "esac", "while", "until", "for", "{", "}", "!", "in", NULL};
    for (int i = 0; rw[i]; i++)
        if (strcmp(w, rw[i]) == 0)
            return true;
    return false;
}

/* words that end a compound list */
static bool at_list_end(parser *p)
{
    enum tok t = peek(p);
    if (t == T_EOF || t == T_RPAREN || t == T_DSEMI || t == T_ERR)
        return true;
    if (t != T_WORD || p->quoted)
        return false;
    static const char *const ends[] = {"then", "else", "elif", "fi", "do", "done", "esac", "}", NULL};
    for (int i = 0; ends[i]; i++)
        if (strcmp(p->text, ends[i]) == 0)
            return true;
    return false;
}

static node *mknode(parser *p, ntype t)
{
    node *n = amalloc(p->a, sizeof *n);
    n->t = t;
    n->line = p->line + p->line_base;
    return n;
}

/* growable array of pointers in the arena (copied at the end) */
typedef struct { void **v; int n, cap; } vec;
static void vpush(vec *v, void *x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = xrealloc(v->v, (size_t)v->cap * sizeof *v->v);
    }
    v->v[v->n++] = x;
}
static void **vfinish(parser *p, vec *v)
{
    void **r = amalloc(p->a, (size_t)(v->n + 1) * sizeof *r);
    if (v->n)
        memcpy(r, v->v, (size_t)v->n * sizeof *r);
    free(v->v);
    v->v = NULL;
    return r;
}

static bool parse_redirect(parser *p, redir ***tail)
{
    redir *r = amalloc(p->a, sizeof *r);
    r->op = p->rop;
    r->fd = p->io_fd;
    r->line = p->line + p->line_base;
    bool strip = p->strip_tabs;
    consume(p);
    if (peek(p) != T_WORD) {
        if (!p->error)
            syntax_error(p, "unexpected %s after redirection", tok_name(p));
        return false;
    }
    r->word = p->text;
    consume(p);
    if (r->op == R_HEREDOC) {
        if (p->npending == 64) {
            syntax_error(p, "too many here-documents");
            return false;
        }
        if (strip)
            r->fd = -r->fd - 1; /* read_heredocs strips tabs and restores fd */
        p->pending[p->npending++] = r;
    }
    **tail = r;
    *tail = &r->next;
    return true;
}

static bool parse_redirects(parser *p, redir **head)
{
    redir **tail = head;
    while (*tail)
        tail = &(*tail)->next;
    while (peek(p) == T_REDIR)
        if (!parse_redirect(p, &tail))
            return false;
    return true;
}

bool sh_is_assignment(const char *w)
{
    if (!is_name_start((unsigned char)w[0]))
        return false;
    size_t i = 1;
    while (is_name_char((unsigned char)w[i]))
        i++;
    return w[i] == '=';
}

static node *parse_command(parser *p);
static node *parse_compound(parser *p);

/* Substitute an alias for the word just peeked when it names one; returns true if it did. */
static bool try_alias(parser *p)
{
    if (p->no_alias || p->quoted || peek(p) != T_WORD)
        return false;
    const char *val = sh_alias_get(p->text);
    if (!val)
        return false;
    for (int i = 0; i < p->nalias; i++)
        if (strcmp(p->alias[i].name, p->text) == 0)
            return false;
    if (p->nalias == 16)
        return false;
    src *s = p->s;
    size_t wend = s->pos, vlen = strlen(val);
    size_t wlen = wend - p->tstart;
    /* replace buf[tstart, wend) by the alias value */
    if (s->len - wlen + vlen + 1 > s->cap) {
        s->cap = s->len - wlen + vlen + 64;
        s->buf = xrealloc(s->buf, s->cap);
    }
    memmove(s->buf + p->tstart + vlen, s->buf + wend, s->len - wend + 1);
    memcpy(s->buf + p->tstart, val, vlen);
    s->len = s->len - wlen + vlen;
    s->pos = p->tstart;
    for (int i = 0; i < p->nalias; i++)
        p->alias[i].end = p->alias[i].end + vlen - wlen;
    p->alias[p->nalias].name = astrndup(p->a, p->text, strlen(p->text));
    p->alias[p->nalias].end = p->tstart + vlen;
    p->nalias++;
    p->alias_next = vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t');
    p->alias_next_at = p->tstart + vlen;
    p->have = false;
    return true;
}

static node *parse_simple(parser *p)
{
    node *n = mknode(p, N_CMD);
    vec as = {0}, ws = {0};
    redir **rtail = &n->redirs;
    for (;;) {
        enum tok t = peek(p);
        if (t == T_REDIR) {
            if (!parse_redirect(p, &rtail))
                goto fail;
            continue;
        }
        if (t != T_WORD)
            break;
        if (ws.n == 0 && sh_is_assignment(p->text)) {
            vpush(&as, p->text);
            consume(p);
            continue;
        }
        if (ws.n == 0 && try_alias(p))
            continue;
        if (ws.n > 0 && p->alias_next && p->tstart >= p->alias_next_at) {
            /* the word after an alias whose value ends in a blank */
            p->alias_next = false;
            if (try_alias(p))
                continue;
        }
        if (ws.n == 0 && as.n == 0 && n->redirs == NULL) {
            /* a function definition: NAME ( ) compound */
            char *name = p->text;
            bool q = p->quoted;
            consume(p);
            vpush(&ws, name);
            if (peek(p) == T_LPAREN) {
                consume(p);
                if (peek(p) != T_RPAREN) {
                    unexpected(p);
                    goto fail;
                }
                consume(p);
                if (q || !sh_is_name(name) || is_reserved(name)) {
                    syntax_error(p, "bad function name '%s'", name);
                    goto fail;
                }
                skip_newlines(p);
                node *f = mknode(p, N_FUNC);
                f->func.name = name;
                f->func.body = parse_compound(p);
                if (!f->func.body) {
                    if (!p->error)
                        syntax_error(p, "unexpected %s (expecting a function body)", tok_name(p));
                    goto fail;
                }
                free(ws.v);
                free(as.v);
                return f;
            }
            bool is_pool = strcmp(name, "pool") == 0;
            if ((strcmp(name, "timeout") == 0 || is_pool) && !q) {
                /* timeout [OPTS] DURATION { list; } — a compound body;
                 * pool [OPTS] { list; } [::: ITEMS...] — the body is the job */
                vec args = {0};
                while (peek(p) == T_WORD && !peek_word(p, "{")) {
                    vpush(&args, p->text);
                    consume(p);
                }
                if (peek_word(p, "{") || peek(p) == T_LPAREN) {
                    node *t2 = mknode(p, is_pool ? N_POOL : N_TIMEOUT);
                    t2->tmo.nargs = args.n;
                    t2->tmo.args = (char **)vfinish(p, &args);
                    t2->tmo.body = parse_compound(p);
                    if (!t2->tmo.body)
                        goto fail;
                    if (is_pool) {
                        vec post = {0};
                        while (peek(p) == T_WORD) {
                            vpush(&post, p->text);
                            consume(p);
                        }
                        t2->tmo.npost = post.n;
                        t2->tmo.post = (char **)vfinish(p, &post);
                    }
                    if (!parse_redirects(p, &t2->redirs))
                        goto fail;
                    free(ws.v);
                    free(as.v);
                    return t2;
                }
                for (int i = 0; i < args.n; i++)
                    vpush(&ws, args.v[i]);
                free(args.v);
            }
            continue;
        }
        vpush(&ws, p->text);
        consume(p);
    }
    if (p->error)
        goto fail;
    if (ws.n == 0 && as.n == 0 && !n->redirs) {
        free(ws.v);
        free(as.v);
        unexpected(p);
        return NULL;
    }
    n->cmd.nassign = as.n;
    n->cmd.assign = (char **)vfinish(p, &as);
    n->cmd.nwords = ws.n;
    n->cmd.words = (char **)vfinish(p, &ws);
    return n;
fail:
    free(ws.v);
    free(as.v);
    return NULL;
}

/* a compound list that POSIX requires to hold at least one command */
static node *parse_nonempty(parser *p)
{
    node *n = parse_list(p, false);
    if (!n && !p->error)
        unexpected(p);
    return n;
}

static node *parse_body_until(parser *p, const char *end)
{
    node *b = parse_nonempty(p);
    if (p->error)
        return NULL;
    if (!expect_word(p, end))
        return NULL;
    return b;
}

static node *parse_if(parser *p)
{
    node *n = mknode(p, N_IF);
    consume(p); /* if / elif */
    n->ifn.cond = parse_nonempty(p);
    if (p->error || !expect_word(p, "then"))
        return NULL;
    n->ifn.then = parse_nonempty(p);
    if (p->error)
        return NULL;
    if (peek_word(p, "elif")) {
        n->ifn.els = parse_if(p);
        return n->ifn.els ? n : NULL;
    }
    if (peek_word(p, "else")) {
        consume(p);
        n->ifn.els = parse_nonempty(p);
        if (p->error)
            return NULL;
    }
    if (!expect_word(p, "fi"))
        return NULL;
    return n;
}

static node *parse_for(parser *p)
{
    node *n = mknode(p, N_FOR);
    consume(p);
    if (peek(p) != T_WORD || !sh_is_name(p->text) || p->quoted) {
        if (!p->error)
            syntax_error(p, "bad for loop variable %s", tok_name(p));
        return NULL;
    }
    n->forn.var = p->text;
    consume(p);
    skip_newlines(p);
    if (peek_word(p, "in")) {
        consume(p);
        n->forn.has_in = true;
        vec ws = {0};
        while (peek(p) == T_WORD) {
            vpush(&ws, p->text);
            consume(p);
        }
        n->forn.nwords = ws.n;
        n->forn.words = (char **)vfinish(p, &ws);
        if (peek(p) == T_SEMI || peek(p) == T_NEWLINE)
            consume(p);
        else {
            unexpected(p);
            return NULL;
        }
    } else if (peek(p) == T_SEMI) {
        consume(p);
    }
    skip_newlines(p);
    if (!expect_word(p, "do"))
        return NULL;
    n->forn.body = parse_body_until(p, "done");
    return n->forn.body || !p->error ? n : NULL;
}

static node *parse_case(parser *p)
{
    node *n = mknode(p, N_CASE);
    consume(p);
    if (peek(p) != T_WORD) {
        unexpected(p);
        return NULL;
    }
    n->casen.word = p->text;
    consume(p);
    skip_newlines(p);
    if (!expect_word(p, "in"))
        return NULL;
    caseitem **tail = &n->casen.items;
    for (;;) {
        skip_newlines(p);
        if (peek_word(p, "esac")) {
            consume(p);
            return n;
        }
        caseitem *ci = amalloc(p->a, sizeof *ci);
        if (peek(p) == T_LPAREN)
            consume(p);
        vec pats = {0};
        for (;;) {
            if (peek(p) != T_WORD) {
                free(pats.v);
                unexpected(p);
                return NULL;
            }
            vpush(&pats, p->text);
            consume(p);
            if (peek(p) == T_PIPE) {
                consume(p);
                continue;
            }
            if (peek(p) == T_RPAREN) {
                consume(p);
                break;
            }
            free(pats.v);
            unexpected(p);
            return NULL;
        }
        ci->npats = pats.n;
        ci->pats = (char **)vfinish(p, &pats);
        ci->body = parse_list(p, false);
        if (p->error)
            return NULL;
        *tail = ci;
        tail = &ci->next;
        if (peek(p) == T_DSEMI) {
            consume(p);
            continue;
        }
        skip_newlines(p);
        if (peek_word(p, "esac")) {
            consume(p);
            return n;
        }
        unexpected(p);
        return NULL;
    }
}

/* compound command or NULL (no compound command here, or an error) */
static node *parse_compound(parser *p)
{
    node *n = NULL;
    enum tok t = peek(p);
    if (t == T_LPAREN) {
        consume(p);
        n = mknode(p, N_SUBSHELL);
        n->sub = parse_list(p, false);
        if (p->error)
            return NULL;
        if (peek(p) != T_RPAREN) {
            unexpected(p);
            return NULL;
        }
        consume(p);
        if (!n->sub) {
            syntax_error(p, "empty subshell");
            return NULL;
        }
    } else if (t == T_WORD && !p->quoted) {
        const char *w = p->text;
        if (strcmp(w, "{") == 0) {
            consume(p);
            n = mknode(p, N_GROUP);
            n->sub = parse_body_until(p, "}");
            if (p->error)
                return NULL;
        } else if (strcmp(w, "if") == 0) {
            n = parse_if(p);
        } else if (strcmp(w, "while") == 0 || strcmp(w, "until") == 0) {
            n = mknode(p, w[0] == 'w' ? N_WHILE : N_UNTIL);
            consume(p);
            n->loop.cond = parse_nonempty(p);
            if (p->error || !expect_word(p, "do"))
                return NULL;
            n->loop.body = parse_body_until(p, "done");
            if (p->error)
                return NULL;
        } else if (strcmp(w, "for") == 0) {
            n = parse_for(p);
        } else if (strcmp(w, "case") == 0) {
            n = parse_case(p);
        } else
            return NULL;
    } else
        return NULL;
    if (!n || p->error)
        return NULL;
    if (!parse_redirects(p, &n->redirs))
        return NULL;
    return n;
}

static node *parse_command(parser *p)
{
    /* an alias in command position may expand to a reserved word or an operator */
    while (peek(p) == T_WORD && !p->quoted && !sh_is_assignment(p->text) && try_alias(p))
        ;
    enum tok t = peek(p);
    if (t == T_WORD && !p->quoted) {
        static const char *const bad[] = {"then", "else", "elif", "fi", "do", "done", "esac", "}", "in", NULL};
        for (int i = 0; bad[i]; i++)
            if (strcmp(p->text, bad[i]) == 0) {
                unexpected(p);
                return NULL;
            }
    }
    node *n = parse_compound(p);
    if (n || p->error)
        return n;
    return parse_simple(p);
}

static node *parse_pipeline(parser *p)
{
    bool bang = false;
    while (peek_word(p, "!")) {
        consume(p);
        bang = !bang;
    }
    vec v = {0};
    for (;;) {
        node *c = parse_command(p);
        if (!c) {
            free(v.v);
            return NULL;
        }
        vpush(&v, c);
        if (peek(p) != T_PIPE)
            break;
        consume(p);
        skip_newlines(p);
    }
    if (v.n == 1 && !bang) {
        node *c = v.v[0];
        free(v.v);
        return c;
    }
    node *n = mknode(p, N_PIPE);
    n->pipe.n = v.n;
    n->pipe.bang = bang;
    n->pipe.v = (node **)vfinish(p, &v);
    return n;
}

static node *parse_andor(parser *p)
{
    node *l = parse_pipeline(p);
    while (l) {
        enum tok t = peek(p);
        if (t != T_AND && t != T_OR)
            break;
        consume(p);
        skip_newlines(p);
        node *r = parse_pipeline(p);
        if (!r)
            return NULL;
        node *n = mknode(p, t == T_AND ? N_AND : N_OR);
        n->bin.l = l;
        n->bin.r = r;
        l = n;
    }
    return l;
}

/* A list.  top: a complete command ending at a newline; else a compound list ending at a
 * reserved word, ')' or ';;' (newlines separate commands). */
static node *parse_list(parser *p, bool top)
{
    vec v = {0};
    for (;;) {
        if (!top)
            skip_newlines(p);
        /* a command may start with an alias for a reserved word, even one ending the list */
        while (peek(p) == T_WORD && !p->quoted && !sh_is_assignment(p->text) && try_alias(p))
            ;
        if (at_list_end(p) || (top && peek(p) == T_NEWLINE))
            break;
        node *c = parse_andor(p);
        if (!c)
            goto fail;
        enum tok t = peek(p);
        if (t == T_AMP) {
            node *b = mknode(p, N_BG);
            b->sub = c;
            c = b;
        }
        vpush(&v, c);
        if (t == T_SEMI || t == T_AMP) {
            consume(p);
            continue;
        }
        if (t == T_NEWLINE) {
            if (top)
                break;
            continue;
        }
        if (at_list_end(p))
            break;
        unexpected(p);
        goto fail;
    }
    if (p->error)
        goto fail;
    if (v.n == 0) {
        free(v.v);
        return NULL;
    }
    if (v.n == 1) {
        node *c = v.v[0];
        free(v.v);
        return c;
    }
    node *n = mknode(p, N_LIST);
    n->list.n = v.n;
    n->list.v = (node **)vfinish(p, &v);
    return n;
fail:
    free(v.v);
    return NULL;
}

int parse_next(src *s, arena *a, node **out, bool no_alias)
{
    parser p = {0};
    p.s = s;
    p.a = a;
    p.no_alias = no_alias;
    p.where = s->name;
    *out = NULL;
    for (;;) {
        enum tok t = peek(&p);
        if (t == T_EOF)
            return 0;
        if (t != T_NEWLINE)
            break;
        consume(&p);
        return 1; /* an empty line */
    }
    node *n = parse_list(&p, true);
    if (!p.error) {
        enum tok t = peek(&p);
        if (t == T_NEWLINE)
            consume(&p);
        else if (t != T_EOF)
            unexpected(&p);
    }
    if (p.error) {
        /* skip the rest of the line so an interactive shell can go on */
        int c;
        while ((c = peekc(s, 0)) != -1 && c != '\n')
            advance(s, 1);
        if (c == '\n')
            advance(s, 1);
        return -1;
    }
    if (p.npending) {
        p.t = T_EOF;
        read_heredocs(&p);
    }
    *out = n;
    return 1;
}

node *parse_cmdsub(const char *text, size_t len, size_t *end, arena *a, const char *where, int line)
{
    src *s = src_new(where, text, len, NULL, NULL);
    parser p = {0};
    p.s = s;
    p.a = a;
    p.where = where;
    p.line_base = line - 1;
    p.depth = 1;
    node *n = parse_list(&p, false);
    if (!p.error && peek(&p) != T_RPAREN) {
        if (peek(&p) == T_EOF)
            syntax_error(&p, "unterminated command substitution");
        else
            unexpected(&p);
    }
    *end = p.error ? (size_t)-1 : p.tstart; /* -1: a syntax error (NULL alone may be empty) */
    src_free(s);
    return p.error ? NULL : n;
}

/* drop every chunk but one and empty it */
static void arena_reset(arena *a)
{
    struct chunk *c = a->head;
    if (!c)
        return;
    for (struct chunk *n = c->next, *nx; n; n = nx) {
        nx = n->next;
        free(n);
    }
    c->next = NULL;
    c->used = 0;
}

size_t scan_subst(const char *text, size_t len, size_t i)
{
    /* runs for every $-form of every expansion: no allocation on the way (the text is read
     * in place, the scratch arena and buffer are kept between calls) */
    static arena *scratch;
    static str w;
    if (!scratch)
        scratch = arena_new();
    src s = {0};
    s.buf = (char *)text; /* read only: no refill, no alias substitution */
    s.len = len;
    s.pos = i;
    s.line = 1;
    s.name = "";
    parser p = {0};
    p.s = &s;
    p.a = scratch;
    p.where = "";
    p.no_alias = true;
    p.scanning = true;
    w.n = 0;
    /* errors are not expected here: the parser saw this text already */
    bool ok = scan_dollar(&p, &w);
    size_t r = ok && !p.error ? s.pos : (size_t)-1;
    arena_reset(scratch);
    return r;
}

bool ast_defines_function(const node *n)
{
    if (!n)
        return false;
    switch (n->t) {
    case N_FUNC: return true;
    case N_CMD: return false;
    case N_PIPE:
        for (int i = 0; i < n->pipe.n; i++)
            if (ast_defines_function(n->pipe.v[i]))
                return true;
        return false;
    case N_LIST:
        for (int i = 0; i < n->list.n; i++)
            if (ast_defines_function(n->list.v[i]))
                return true;
        return false;
    case N_AND: case N_OR:
        return ast_defines_function(n->bin.l) || ast_defines_function(n->bin.r);
    case N_BG: case N_SUBSHELL: case N_GROUP:
        return ast_defines_function(n->sub);
    case N_IF:
        return ast_defines_function(n->ifn.cond) || ast_defines_function(n->ifn.then) ||
               ast_defines_function(n->ifn.els);
    case N_WHILE: case N_UNTIL:
        return ast_defines_function(n->loop.cond) || ast_defines_function(n->loop.body);
    case N_FOR:
        return ast_defines_function(n->forn.body);
    case N_CASE:
        for (caseitem *c = n->casen.items; c; c = c->next)
            if (ast_defines_function(c->body))
                return true;
        return false;
    case N_TIMEOUT:
    case N_POOL:
        return ast_defines_function(n->tmo.body);
    }
    return false;
}
