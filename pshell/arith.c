/* pshell — $((...)) evaluation (see sh.h).
 *
 * A recursive-descent parser that evaluates while it parses.  Every function takes `ev`: when
 * false the text is only parsed (the unevaluated side of && || ?:), so no variable is read or
 * written and no division error is raised.  After the first error `err` is set and the parse
 * unwinds; nothing is evaluated after that point.
 *
 * Compatibility notes (dash is the reference): constants saturate at INTMAX_MAX as dash's
 * strtoimax does; a variable's value must be a whole integer (blanks around it allowed),
 * otherwise it is an error; there is no recursive evaluation of variable names.  Beyond dash:
 * ++/-- and the comma operator (dash reads "--x" as -(-x)).  A "++"/"--" after a variable is
 * postfix unless an operand follows it ("a--b" stays a - -b, as in dash). */
#include "sh.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_NONE, O_MUL, O_DIV, O_MOD, O_ADD, O_SUB, O_SHL, O_SHR, O_LT, O_LE, O_GT, O_GE, O_EQ, O_NE,
    O_BAND, O_XOR, O_BOR, O_LAND, O_LOR, /* binary operators end here */
    O_INC, O_DEC, O_NOT, O_BNOT, O_QUEST, O_COLON, O_COMMA, O_LPAREN, O_RPAREN, O_ASSIGN
};

/* precedence of the binary operators, indexed by O_* (higher binds tighter) */
static const int prec_of[] = { 0, 10, 10, 10, 9, 9, 8, 8, 7, 7, 7, 7, 6, 6, 5, 4, 3, 2, 1 };

typedef struct {
    int op;     /* O_*; for a compound assignment the binary operator */
    int len;    /* characters */
    bool asg;   /* an assignment operator ("=" has op O_ASSIGN) */
} tok;

static const struct { const char *text; int op; bool asg; } optab[] = {
    { "<<=", O_SHL, true }, { ">>=", O_SHR, true }, { "<<", O_SHL, false }, { ">>", O_SHR, false },
    { "<=", O_LE, false }, { ">=", O_GE, false }, { "==", O_EQ, false }, { "!=", O_NE, false },
    { "&&", O_LAND, false }, { "||", O_LOR, false }, { "++", O_INC, false }, { "--", O_DEC, false },
    { "*=", O_MUL, true }, { "/=", O_DIV, true }, { "%=", O_MOD, true }, { "+=", O_ADD, true },
    { "-=", O_SUB, true }, { "&=", O_BAND, true }, { "^=", O_XOR, true }, { "|=", O_BOR, true },
    { "*", O_MUL, false }, { "/", O_DIV, false }, { "%", O_MOD, false }, { "+", O_ADD, false },
    { "-", O_SUB, false }, { "<", O_LT, false }, { ">", O_GT, false }, { "&", O_BAND, false },
    { "^", O_XOR, false }, { "|", O_BOR, false }, { "!", O_NOT, false }, { "~", O_BNOT, false },
    { "?", O_QUEST, false }, { ":", O_COLON, false }, { ",", O_COMMA, false },
    { "(", O_LPAREN, false }, { ")", O_RPAREN, false }, { "=", O_ASSIGN, true },
};

typedef struct {
    char *p;                    /* cursor into a private, writable copy of the expression */
    const sh_arith_env *env;
    char *err;                  /* first error (malloc'd) */
    int depth;
} ar;

#define MAX_DEPTH 2000

__attribute__((format(printf, 2, 3)))
static void fail(ar *a, const char *fmt, ...)
{
    if (a->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->err, fmt, ap) < 0)
        a->err = NULL;
    va_end(ap);
    if (!a->err)
        a->err = strdup("out of memory");
    if (!a->err)
        abort();
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }
static bool is_name1(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name(char c) { return is_name1(c) || (c >= '0' && c <= '9'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static char *skip(char *p)
{
    while (is_blank(*p))
        p++;
    return p;
}

/* the operator at p (no blanks skipped); op O_NONE when there is none */
static tok op_at(const char *p)
{
    /* most tokens are operands: reject them on their first character */
    if (!*p || !strchr("+-*/%<>=!~&|^?:,()", *p))
        return (tok){ O_NONE, 0, false };
    for (size_t i = 0; i < sizeof optab / sizeof optab[0]; i++) {
        if (optab[i].text[0] != *p)
            continue;
        size_t n = strlen(optab[i].text);
        if (strncmp(p, optab[i].text, n) == 0)
            return (tok){ optab[i].op, (int)n, optab[i].asg };
    }
    return (tok){ O_NONE, 0, false };
}

/* the next token after blanks; once an error is pending, the input looks exhausted */
static tok peek(ar *a)
{
    a->p = skip(a->p);
    if (a->err)
        return (tok){ O_NONE, 0, false };
    return op_at(a->p);
}

static void unexpected(ar *a)
{
    char *p = skip(a->p);
    if (!*p) {
        fail(a, "syntax error: unexpected end of expression");
        return;
    }
    if ((unsigned char)*p < ' ' || *p == 0x7f) {
        fail(a, "syntax error: unexpected character \\%03o", (unsigned char)*p);
        return;
    }
    int n = op_at(p).len;
    if (!n)
        while (is_name(p[n]))
            n++;
    fail(a, "syntax error: unexpected '%.*s'", n ? n : 1, p);
}

/* ---- wrapping two's-complement arithmetic without undefined behaviour --------------------- */
static intmax_t wrap(uintmax_t u)
{
    return u <= (uintmax_t)INTMAX_MAX ? (intmax_t)u : -(intmax_t)(UINTMAX_MAX - u) - 1;
}

static intmax_t binop(ar *a, int op, intmax_t l, intmax_t r)
{
    unsigned sh = (unsigned)((uintmax_t)r & (sizeof(intmax_t) * CHAR_BIT - 1));
    switch (op) {
    case O_MUL: return wrap((uintmax_t)l * (uintmax_t)r);
    case O_DIV:
    case O_MOD:
        if (r == 0) {
            fail(a, "division by zero");
            return 0;
        }
        if (r == -1)                            /* INTMAX_MIN / -1 overflows */
            return op == O_DIV ? wrap(0 - (uintmax_t)l) : 0;
        return op == O_DIV ? l / r : l % r;
    case O_ADD: return wrap((uintmax_t)l + (uintmax_t)r);
    case O_SUB: return wrap((uintmax_t)l - (uintmax_t)r);
    case O_SHL: return wrap((uintmax_t)l << sh);
    case O_SHR: return l < 0 ? ~(~l >> sh) : l >> sh;
    case O_LT: return l < r;
    case O_LE: return l <= r;
    case O_GT: return l > r;
    case O_GE: return l >= r;
    case O_EQ: return l == r;
    case O_NE: return l != r;
    case O_BAND: return l & r;
    case O_XOR: return l ^ r;
    case O_BOR: return l | r;
    }
    return 0;
}

/* ---- variables: `name` points into the expression copy, `len` characters long ------------- */
static intmax_t get_var(ar *a, char *name, size_t len)
{
    if (a->err || !a->env || !a->env->get)
        return 0;
    char save = name[len];
    name[len] = '\0';
    const char *v = a->env->get(a->env->ctx, name);
    intmax_t r = 0;
    if (v) {
        char *end;
        errno = 0;
        r = strtoimax(v, &end, 0);
        while (*end == ' ' || (*end >= '\t' && *end <= '\r'))
            end++;
        if (errno || *end)
            fail(a, "%s: bad number", name);
    }
    name[len] = save;
    return r;
}

static void set_var(ar *a, char *name, size_t len, intmax_t v)
{
    if (a->err || !a->env || !a->env->set)
        return;
    char num[32], save = name[len];
    snprintf(num, sizeof num, "%jd", v);
    name[len] = '\0';
    if (a->env->set(a->env->ctx, name, num) < 0)
        fail(a, "%s: is read only", name);
    name[len] = save;
}

/* ---- the grammar --------------------------------------------------------------------------- */
static intmax_t expr(ar *a, bool ev);
static intmax_t assign(ar *a, bool ev);
static intmax_t unary(ar *a, bool ev);

static bool deeper(ar *a)
{
    if (++a->depth <= MAX_DEPTH)
        return true;
    fail(a, "expression nested too deeply");
    return false;
}

static intmax_t primary(ar *a, bool ev)
{
    char *p = skip(a->p);
    if (a->err)
        return 0;
    if (is_digit(*p)) {
        char *end;
        intmax_t v = strtoimax(p, &end, 0);     /* saturates on overflow, like dash */
        a->p = end;
        return v;
    }
    if (is_name1(*p)) {
        char *name = p;
        size_t len = 1;
        while (is_name(name[len]))
            len++;
        a->p = skip(name + len);
        tok t = op_at(a->p);
        if (t.op == O_INC || t.op == O_DEC) {
            char *q = skip(a->p + 2);
            if (!is_name(*q) && *q != '(' && *q != '!' && *q != '~') {   /* postfix */
                a->p += 2;
                intmax_t v = ev ? get_var(a, name, len) : 0;
                if (ev)
                    set_var(a, name, len, binop(a, t.op == O_INC ? O_ADD : O_SUB, v, 1));
                return v;
            }
        }
        return ev ? get_var(a, name, len) : 0;
    }
    if (*p == '(') {
        a->p = p + 1;
        intmax_t v = expr(a, ev);
        if (peek(a).op != O_RPAREN) {
            unexpected(a);
            return 0;
        }
        a->p++;
        return v;
    }
    a->p = p;
    unexpected(a);
    return 0;
}

static intmax_t unary(ar *a, bool ev)
{
    tok t = peek(a);
    if (!deeper(a))
        return 0;
    intmax_t v;
    char *q;
    switch (t.op) {
    case O_INC:
    case O_DEC:
        q = skip(a->p + 2);
        if (is_name1(*q)) {                     /* pre-increment / pre-decrement */
            size_t len = 1;
            while (is_name(q[len]))
                len++;
            a->p = q + len;
            v = 0;
            if (ev) {
                v = binop(a, t.op == O_INC ? O_ADD : O_SUB, get_var(a, q, len), 1);
                set_var(a, q, len, v);
            }
            break;
        }
        t.op = t.op == O_INC ? O_ADD : O_SUB;   /* "--1" is - -1, as in dash */
        /* fall through */
    case O_ADD:
    case O_SUB:
    case O_NOT:
    case O_BNOT:
        if (t.asg) {                            /* "+=", "-=" cannot start an operand */
            unexpected(a);
            v = 0;
            break;
        }
        a->p++;
        v = unary(a, ev);
        if (t.op == O_SUB)
            v = wrap(0 - (uintmax_t)v);
        else if (t.op == O_NOT)
            v = !v;
        else if (t.op == O_BNOT)
            v = ~v;
        break;
    default:
        v = primary(a, ev);
    }
    a->depth--;
    return v;
}

/* binary operators of precedence >= min, by precedence climbing */
static intmax_t binary(ar *a, int min, bool ev)
{
    intmax_t l = unary(a, ev);
    for (;;) {
        tok t = peek(a);
        if (t.op == O_INC || t.op == O_DEC) {   /* "a+++b": the postfix was taken; this is + */
            t.op = t.op == O_INC ? O_ADD : O_SUB;
            t.len = 1;
        }
        if (t.op == O_NONE || t.op > O_LOR || t.asg || prec_of[t.op] < min)
            return l;
        a->p += t.len;
        int next = prec_of[t.op] + 1;
        if (t.op == O_LAND) {
            intmax_t r = binary(a, next, ev && l);
            l = l && r;
        } else if (t.op == O_LOR) {
            intmax_t r = binary(a, next, ev && !l);
            l = l || r;
        } else {
            intmax_t r = binary(a, next, ev);
            l = ev ? binop(a, t.op, l, r) : 0;
        }
    }
}

static intmax_t cond(ar *a, bool ev)
{
    if (!deeper(a))
        return 0;
    intmax_t c = binary(a, 1, ev);
    if (peek(a).op == O_QUEST) {
        a->p++;
        intmax_t x = expr(a, ev && c);
        if (peek(a).op != O_COLON) {
            unexpected(a);
        } else {
            a->p++;
            intmax_t y = cond(a, ev && !c);
            c = c ? x : y;
        }
    }
    a->depth--;
    return c;
}

static intmax_t assign(ar *a, bool ev)
{
    char *name = skip(a->p);
    if (a->err || !deeper(a))
        return 0;
    intmax_t v;
    size_t len = 0;
    if (is_name1(*name))
        while (is_name(name[len]))
            len++;
    tok t = len ? op_at(skip(name + len)) : (tok){ O_NONE, 0, false };
    if (t.asg) {
        a->p = skip(name + len) + t.len;
        v = assign(a, ev);                      /* the right side first, as dash does */
        if (ev && !a->err) {
            if (t.op != O_ASSIGN)
                v = binop(a, t.op, get_var(a, name, len), v);
            set_var(a, name, len, v);
        }
    } else {
        v = cond(a, ev);
    }
    a->depth--;
    return v;
}

static intmax_t expr(ar *a, bool ev)
{
    intmax_t v = assign(a, ev);
    while (peek(a).op == O_COMMA) {
        a->p++;
        v = assign(a, ev);
    }
    return v;
}

int sh_arith(const char *text, const sh_arith_env *env, intmax_t *out, char **err)
{
    ar a = { NULL, env, NULL, 0 };
    char *copy = strdup(text ? text : "");
    if (!copy) {
        *err = strdup("out of memory");
        return -1;
    }
    a.p = copy;
    intmax_t v = expr(&a, true);
    if (!a.err && *skip(a.p))
        unexpected(&a);
    free(copy);
    if (a.err) {
        *err = a.err;
        return -1;
    }
    *out = v;
    return 0;
}
