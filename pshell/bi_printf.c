/* pshell — the `printf` builtin (see sh.h), modelled on dash's.
 *
 * The format is reused while arguments remain (and the previous pass consumed some); missing
 * arguments read as "" or 0.  Conversions: d i o u x X c s b a A e E f F g G and %%, with the
 * flags "#-+ 0", a width and a precision ('*' takes them from the arguments).  Numbers accept
 * what strtoimax/strtoumax/strtod accept (0x, leading 0, sign) and 'c / "c for a character
 * code; a bad number warns, counts as its converted prefix and makes the status 1.  Escapes in
 * the format: \\ \a \b \e \f \n \r \t \v \NNN and \xHH (the last is a bash extension); %b
 * adds \c (stop all output) and \0NNN.  Other backslashes are printed as they are. */
#include "sh.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    char **args;
    int nargs, next;
    int status;         /* 0, or 1 after a bad number */
    bool stop;          /* \c seen in a %b argument */
} pf;

static void warn(pf *p, const char *arg, const char *msg)
{
    fprintf(stderr, "pshell: %s: %s: %s\n", p->name, arg, msg);
    p->status = 1;
}

static const char *next_arg(pf *p)
{
    return p->next < p->nargs ? p->args[p->next++] : NULL;
}

/* what strto* left behind: `err` is its errno */
static void check(pf *p, const char *s, const char *end, int err)
{
    if (*end)
        warn(p, s, end == s ? "expected numeric value" : "not completely converted");
    else if (err == ERANGE)
        warn(p, s, strerror(ERANGE));
}

static bool char_code(const char *s) { return *s == '\'' || *s == '"'; }

static intmax_t get_int(pf *p)
{
    const char *s = next_arg(p);
    if (!s)
        return 0;
    if (char_code(s))
        return (unsigned char)s[1];
    char *end;
    errno = 0;
    intmax_t v = strtoimax(s, &end, 0);
    check(p, s, end, errno);
    return v;
}

static uintmax_t get_uint(pf *p)
{
    const char *s = next_arg(p);
    if (!s)
        return 0;
    if (char_code(s))
        return (unsigned char)s[1];
    char *end;
    errno = 0;
    uintmax_t v = strtoumax(s, &end, 0);
    check(p, s, end, errno);
    return v;
}

static double get_double(pf *p)
{
    const char *s = next_arg(p);
    if (!s)
        return 0;
    if (char_code(s))
        return (unsigned char)s[1];
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    check(p, s, end, errno);
    return v;
}

static bool is_odigit(char c) { return c >= '0' && c <= '7'; }

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The escape whose text starts at s (just after the backslash).  Sets *c to the byte, or to -1
 * for \c in a %b argument; returns how many characters of s it used.  An unknown escape is a
 * plain backslash that uses nothing. */
static size_t escape(const char *s, int *c, bool in_b)
{
    static const char from[] = "\\abefnrtv", to[] = "\\\a\b\033\f\n\r\t\v";
    const char *q = s;
    if (in_b && *q == 'c') {
        *c = -1;
        return 1;
    }
    if (in_b && q[0] == '0' && is_odigit(q[1]))     /* %b's \0NNN */
        q++;
    if (is_odigit(*q)) {
        int v = 0;
        for (int k = 0; k < 3 && is_odigit(*q); k++)
            v = v * 8 + (*q++ - '0');
        *c = v & 0xff;
        return (size_t)(q - s);
    }
    if (*q == 'x' && hexval(q[1]) >= 0) {
        int v = hexval(q[1]);
        q += 2;
        if (hexval(*q) >= 0)
            v = v * 16 + hexval(*q++);
        *c = v;
        return (size_t)(q - s);
    }
    const char *f = *q ? strchr(from, *q) : NULL;
    *c = f ? to[f - from] : '\\';
    return f ? 1 : 0;
}

static void put_padded(const char *s, size_t len, bool left, int width, int prec)
{
    if (prec >= 0 && (size_t)prec < len)
        len = (size_t)prec;
    size_t pad = width > 0 && (size_t)width > len ? (size_t)width - len : 0;
    for (size_t i = 0; !left && i < pad; i++)
        putchar(' ');
    fwrite(s, 1, len, stdout);
    for (size_t i = 0; left && i < pad; i++)
        putchar(' ');
}

/* %b: expand the escapes of s, then print it padded like %s */
static void put_b(pf *p, const char *s, bool left, int width, int prec)
{
    size_t n = strlen(s), len = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        fprintf(stderr, "pshell: %s: out of memory\n", p->name);
        p->stop = true;
        return;
    }
    while (*s) {
        int c = (unsigned char)*s++;
        if (c == '\\')
            s += escape(s, &c, true);
        if (c < 0) {
            p->stop = true;
            break;
        }
        buf[len++] = (char)c;
    }
    put_padded(buf, len, left, width, prec);
    free(buf);
}

/* a '*' argument becomes an int as in dash: its low bits, two's complement */
static int to_int(intmax_t v)
{
    unsigned u = (unsigned)(uintmax_t)v;
    int i = u <= INT_MAX ? (int)u : -(int)(UINT_MAX - u) - 1;
    return i == INT_MIN ? -INT_MAX : i;
}

/* a run of digits in the format; -1 when it does not fit an int */
static int digits(const char **f)
{
    intmax_t v = 0;
    while (**f >= '0' && **f <= '9') {
        if (v <= INT_MAX)
            v = v * 10 + (**f - '0');
        (*f)++;
    }
    return v > INT_MAX ? -1 : (int)v;
}

/* the printf formats below are built at run time from a checked conversion specification */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* One conversion; *fp is just past the '%'.  Returns false after a format error (status 2). */
static bool conversion(pf *p, const char **fp, const char *start)
{
    const char *f = *fp;
    char flags[8] = "", *fl = flags;
    for (; *f && strchr("#-+ 0", *f); f++)
        if (!strchr(flags, *f))
            *fl++ = *f;
    int width = 0, prec = -1;
    if (*f == '*') {
        f++;
        width = to_int(get_int(p));
    } else if ((width = digits(&f)) < 0) {
        fprintf(stderr, "pshell: %s: field width too large\n", p->name);
        return false;
    }
    if (*f == '.') {
        f++;
        if (*f == '*') {
            f++;
            prec = to_int(get_int(p));
            if (prec < 0)
                prec = -1;
        } else if ((prec = digits(&f)) < 0) {
            fprintf(stderr, "pshell: %s: precision too large\n", p->name);
            return false;
        }
    }
    if (!*f) {
        fprintf(stderr, "pshell: %s: missing format character\n", p->name);
        return false;
    }
    char conv = *f++;
    *fp = f;
    bool left = strchr(flags, '-') || width < 0;
    if (width < 0) {
        width = -width;
        if (!strchr(flags, '-'))
            *fl++ = '-';
    }
    char spec[48];
    int n = snprintf(spec, sizeof spec, "%%%s", flags);
    if (width > 0)
        n += snprintf(spec + n, sizeof spec - (size_t)n, "%d", width);
    if (prec >= 0)
        n += snprintf(spec + n, sizeof spec - (size_t)n, ".%d", prec);
    const char *s;
    switch (conv) {
    case 'c':
        s = next_arg(p);
        put_padded(s ? s : "", 1, left, width, -1);
        break;
    case 's':
        s = next_arg(p);
        s = s ? s : "";
        put_padded(s, strlen(s), left, width, prec);
        break;
    case 'b':
        s = next_arg(p);
        put_b(p, s ? s : "", left, width, prec);
        break;
    case 'd':
    case 'i':
        snprintf(spec + n, sizeof spec - (size_t)n, "j%c", conv);
        printf(spec, get_int(p));
        break;
    case 'o':
    case 'u':
    case 'x':
    case 'X':
        snprintf(spec + n, sizeof spec - (size_t)n, "j%c", conv);
        printf(spec, get_uint(p));
        break;
    case 'a': case 'A': case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
        snprintf(spec + n, sizeof spec - (size_t)n, "%c", conv);
        printf(spec, get_double(p));
        break;
    default:
        fprintf(stderr, "pshell: %s: %.*s: invalid directive\n", p->name, (int)(f - start), start);
        return false;
    }
    return true;
}

int bi_printf(int argc, char **argv)
{
    pf p = { argv[0], NULL, 0, 0, 0, false };
    int k = 1;
    if (k < argc && argv[k][0] == '-' && argv[k][1]) {
        if (strcmp(argv[k], "--") != 0) {
            fprintf(stderr, "pshell: %s: Illegal option -%c\n", p.name, argv[k][1]);
            return 2;
        }
        k++;
    }
    if (k >= argc) {
        fprintf(stderr, "pshell: %s: usage: printf format [arg ...]\n", p.name);
        return 2;
    }
    const char *format = argv[k];
    p.args = argv + k + 1;
    p.nargs = argc - k - 1;
    do {
        for (const char *f = format; *f && !p.stop;) {
            if (*f == '\\') {
                int c;
                f += 1 + escape(f + 1, &c, false);
                putchar(c);
            } else if (*f != '%') {
                putchar(*f++);
            } else if (f[1] == '%') {
                putchar('%');
                f += 2;
            } else {
                const char *start = f++;
                if (!conversion(&p, &f, start))
                    return 2;
            }
        }
    } while (!p.stop && p.next > 0 && p.next < p.nargs);
    return p.status;
}
