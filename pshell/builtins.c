/* pshell — the builtins that need the shell's state (test and printf are in bi_test.c and
 * bi_printf.c; wait, jobs, kill, trap and timeout live with the executor in exec.c). */
#include "libpipe.h"
#include "shell.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/times.h>
#include <unistd.h>

int bi_timeout(int argc, char **argv);
int exec_command_argv(int argc, char **argv, int flags);

static int parse_count(const char *name, const char *s, int *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (!*s || *e || errno || v < 0 || v > INT_MAX) {
        sh_error("%s: %s: numeric argument required", name, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int bi_true(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int bi_false(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 1;
}

/* ---- echo (dash's: -n, and backslash escapes always) ---------------------------------------- */
static int bi_echo(int argc, char **argv)
{
    int i = 1;
    bool nl = true;
    if (i < argc && strcmp(argv[i], "-n") == 0) {
        nl = false;
        i++;
    }
    for (; i < argc; i++) {
        if (i > (nl ? 1 : 2))
            putchar(' ');
        for (const char *p = argv[i]; *p; p++) {
            if (*p != '\\' || !p[1]) {
                putchar(*p);
                continue;
            }
            p++;
            switch (*p) {
            case 'a': putchar('\a'); break;
            case 'b': putchar('\b'); break;
            case 'c': return 0;
            case 'f': putchar('\f'); break;
            case 'n': putchar('\n'); break;
            case 'r': putchar('\r'); break;
            case 't': putchar('\t'); break;
            case 'v': putchar('\v'); break;
            case '\\': putchar('\\'); break;
            case '0': {
                int v = 0, k = 0;
                while (k < 3 && p[1] >= '0' && p[1] <= '7') {
                    v = v * 8 + (*++p - '0');
                    k++;
                }
                putchar(v);
                break;
            }
            default:
                putchar('\\');
                putchar(*p);
                break;
            }
        }
    }
    if (nl)
        putchar('\n');
    return 0;
}

/* ---- cd / pwd -------------------------------------------------------------------------------- */
/* lexically clean an absolute path: //, /./, /../ */
static char *clean_path(const char *p)
{
    size_t n = strlen(p);
    char *out = xmalloc(n + 2);
    size_t k = 0;
    out[k++] = '/';
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchrnul(s, '/');
        size_t l = (size_t)(e - s);
        if (l == 1 && s[0] == '.') {
        } else if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (k > 1) {
                k--;
                while (k > 1 && out[k - 1] != '/')
                    k--;
                if (k > 1)
                    k--;
            }
        } else {
            if (k > 1)
                out[k++] = '/';
            memcpy(out + k, s, l);
            k += l;
        }
        s = e;
    }
    out[k] = 0;
    return out;
}

static int bi_cd(int argc, char **argv)
{
    int i = 1;
    bool physical = false;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-P") == 0)
            physical = true;
        else if (strcmp(argv[i], "-L") == 0)
            physical = false;
        else {
            sh_error("cd: %s: invalid option", argv[i]);
            return 2;
        }
    }
    const char *dir;
    bool print = false;
    if (i >= argc) {
        dir = var_get("HOME");
        if (!dir || !*dir) {
            sh_error("cd: HOME not set");
            return 1;
        }
    } else if (strcmp(argv[i], "-") == 0) {
        dir = var_get("OLDPWD");
        if (!dir) {
            sh_error("cd: OLDPWD not set");
            return 1;
        }
        print = true;
    } else
        dir = argv[i];
    char *target = NULL;
    /* CDPATH for relative names not starting with . or .. */
    const char *cdpath = var_get("CDPATH");
    if (cdpath && dir[0] != '/' && strncmp(dir, "./", 2) != 0 && strcmp(dir, ".") != 0 &&
        strncmp(dir, "../", 3) != 0 && strcmp(dir, "..") != 0) {
        const char *p = cdpath;
        for (;;) {
            const char *e = strchrnul(p, ':');
            if (e > p) {
                char *cand = xmalloc((size_t)(e - p) + strlen(dir) + 2);
                sprintf(cand, "%.*s/%s", (int)(e - p), p, dir);
                struct stat st;
                if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
                    target = cand;
                    print = true;
                    break;
                }
                free(cand);
            }
            if (!*e)
                break;
            p = e + 1;
        }
    }
    if (!target)
        target = xstrdup(dir);
    const char *pwd = var_get("PWD");
    char *logical;
    if (target[0] == '/')
        logical = clean_path(target);
    else {
        char cwdbuf[PATH_MAX];
        const char *base = pwd && pwd[0] == '/' ? pwd : getcwd(cwdbuf, sizeof cwdbuf);
        char *j = xmalloc(strlen(base ? base : "/") + strlen(target) + 2);
        sprintf(j, "%s/%s", base ? base : "", target);
        logical = clean_path(j);
        free(j);
    }
    int r = physical ? chdir(target) : chdir(logical);
    if (r < 0 && !physical)
        r = chdir(target); /* a logical path through a removed link: try it as given */
    if (r < 0) {
        sh_error("cd: can't cd to %s: %s", dir, strerror(errno));
        free(target);
        free(logical);
        return 1;
    }
    if (pwd)
        var_set("OLDPWD", pwd, 0);
    if (physical) {
        char buf[PATH_MAX];
        if (getcwd(buf, sizeof buf))
            var_set("PWD", buf, 0);
    } else
        var_set("PWD", logical, 0);
    if (print)
        printf("%s\n", var_get("PWD"));
    free(target);
    free(logical);
    return 0;
}

static int bi_pwd(int argc, char **argv)
{
    bool physical = argc > 1 && strcmp(argv[1], "-P") == 0;
    const char *pwd = var_get("PWD");
    struct stat a, b;
    if (!physical && pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        printf("%s\n", pwd);
        return 0;
    }
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) {
        sh_error("pwd: %s", strerror(errno));
        return 1;
    }
    printf("%s\n", buf);
    return 0;
}

/* ---- variables ------------------------------------------------------------------------------- */
static int assign_builtin(int argc, char **argv, int flags, const char *name)
{
    int i = 1;
    bool print = false;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-p") == 0)
            print = true;
        else {
            sh_error("%s: %s: bad option", name, argv[i]);
            sh.special_error = true;
            return 2;
        }
        i++;
    }
    if (i >= argc) {
        (void)print;
        var_print(flags, name);
        return 0;
    }
    int rc = 0;
    for (; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq)
            *eq = 0;
        if (!sh_is_name(argv[i])) {
            sh_error("%s: %s: bad variable name", name, argv[i]);
            sh.special_error = true;
            if (eq)
                *eq = '=';
            rc = 1;
            continue;
        }
        if (eq) {
            if (var_set(argv[i], eq + 1, flags) < 0)
                rc = 1;
            *eq = '=';
        } else
            var_set_flags(argv[i], flags);
    }
    return rc;
}

static int bi_export(int argc, char **argv)
{
    return assign_builtin(argc, argv, V_EXPORT, "export");
}

static int bi_readonly(int argc, char **argv)
{
    return assign_builtin(argc, argv, V_READONLY, "readonly");
}

static int bi_local(int argc, char **argv)
{
    if (sh.func_depth == 0) {
        sh_error("local: not in a function");
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq)
            *eq = 0;
        if (!sh_is_name(argv[i])) {
            sh_error("local: %s: bad variable name", argv[i]);
            rc = 1;
        } else {
            var_make_local(argv[i]);
            if (eq && var_set(argv[i], eq + 1, 0) < 0)
                rc = 1;
        }
        if (eq)
            *eq = '=';
    }
    return rc;
}

static int bi_unset(int argc, char **argv)
{
    int i = 1;
    bool funcs = false;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-f") == 0)
            funcs = true;
        else if (strcmp(argv[i], "-v") == 0)
            funcs = false;
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            sh_error("unset: %s: bad option", argv[i]);
            sh.special_error = true;
            return 2;
        }
    }
    int rc = 0;
    for (; i < argc; i++) {
        if (funcs)
            func_unset(argv[i]);
        else if (var_unset(argv[i]) < 0)
            rc = 1;
    }
    return rc;
}

static const struct { const char *name; char letter; bool *flag; } options[] = {
    {"allexport", 'a', &sh.allexport}, {"errexit", 'e', &sh.errexit}, {"noglob", 'f', &sh.noglob},
    {"monitor", 'm', &sh.monitor},     {"noexec", 'n', &sh.noexec},   {"nounset", 'u', &sh.nounset},
    {"verbose", 'v', &sh.verbose},     {"xtrace", 'x', &sh.xtrace},   {"noclobber", 'C', &sh.noclobber},
    {"pipefail", 0, &sh.pipefail},     {"vi", 0, &sh.vi_mode},         {"emacs", 0, &sh.emacs_mode},
    {NULL, 0, NULL},
};

int sh_set_option(char letter, const char *name, bool on);
/* set one option by letter or long name; -1 if unknown */
int sh_set_option(char letter, const char *name, bool on)
{
    for (int i = 0; options[i].flag; i++)
        if ((letter && options[i].letter == letter) || (name && strcmp(options[i].name, name) == 0)) {
            *options[i].flag = on;
            if (options[i].flag == &sh.vi_mode || options[i].flag == &sh.emacs_mode) {
                /* the line editor's mode: one of the two, as in bash */
                bool vi = options[i].flag == &sh.vi_mode ? on : !on;
                sh.vi_mode = vi;
                sh.emacs_mode = !vi;
                sh_set_editing_mode(vi);
            }
            return 0;
        }
    return -1;
}

static int bi_set(int argc, char **argv)
{
    if (argc == 1) {
        var_print(0, NULL);
        return 0;
    }
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            pos_set(argc - i, argv + i);
            return 0;
        }
        if ((a[0] != '-' && a[0] != '+') || !a[1]) {
            if (strcmp(a, "-") == 0) {
                sh.xtrace = sh.verbose = false;
                i++;
            }
            break;
        }
        bool on = a[0] == '-';
        for (const char *c = a + 1; *c; c++) {
            if (*c == 'o') {
                if (i + 1 >= argc) {
                    for (int k = 0; options[k].flag; k++) {
                        if (on)
                            printf("%-16s%s\n", options[k].name, *options[k].flag ? "on" : "off");
                        else
                            printf("set %co %s\n", *options[k].flag ? '-' : '+', options[k].name);
                    }
                    return 0;
                }
                const char *nm = argv[++i];
                if (sh_set_option(0, nm, on) < 0) {
                    sh_error("set: %s: bad option name", nm);
                    sh.special_error = true;
                    return 2;
                }
                break;
            }
            if (sh_set_option(*c, NULL, on) < 0) {
                sh_error("set: -%c: bad option", *c);
                sh.special_error = true;
                return 2;
            }
        }
    }
    /* operands replace the positional parameters; a lone "-" (like "+x") keeps them */
    if (i < argc)
        pos_set(argc - i, argv + i);
    return 0;
}

static int bi_shift(int argc, char **argv)
{
    int n = 1;
    if (argc > 1 && parse_count("shift", argv[1], &n) < 0)
        return 2;
    if (n > pos->n) {
        sh_error("shift: can't shift that many");
        sh.special_error = true;
        return 1;
    }
    pos_set(pos->n - n, pos->v + n);
    return 0;
}

/* ---- control --------------------------------------------------------------------------------- */
/* exit truncates its status to 8 bits; return keeps it whole, as dash does (`return 256`
 * makes $? 256) */
static int status_arg(const char *name, int argc, char **argv, int *st)
{
    *st = sh.status;
    if (argc > 1) {
        char *e;
        errno = 0;
        long v = strtol(argv[1], &e, 10);
        if (!argv[1][0] || *e || errno || v < 0 || v > INT_MAX) {
            sh_error("%s: Illegal number: %s", name, argv[1]);
            sh.special_error = true;
            return -1;
        }
        *st = strcmp(name, "exit") == 0 ? (int)(v & 255) : (int)v;
    }
    return 0;
}

static int bi_exit(int argc, char **argv)
{
    if (sh.interactive && sh_stopped_jobs() && !sh.exit_warned) {
        /* a second exit in a row leaves anyway (the jobs get SIGHUP) */
        fprintf(stderr, "There are stopped jobs.\n");
        sh.exit_warned_now = true;
        return 1;
    }
    int st;
    if (status_arg("exit", argc, argv, &st) < 0)
        st = 2;
    sh_exit(st);
}

static int bi_return(int argc, char **argv)
{
    int st;
    if (status_arg("return", argc, argv, &st) < 0)
        return 2;
    sh.ctl = CTL_RETURN;
    return st;
}

static int loop_builtin(int argc, char **argv, enum ctl c)
{
    int n = 1;
    if (argc > 1 && (parse_count(argv[0], argv[1], &n) < 0 || n == 0)) {
        if (n == 0)
            sh_error("%s: %s: loop count out of range", argv[0], argv[1]);
        sh.special_error = true;
        return 2;
    }
    if (sh.loop_depth == 0)
        return 0;
    if (n > sh.loop_depth)
        n = sh.loop_depth;
    sh.ctl = c;
    sh.ctl_n = n;
    return 0;
}

static int bi_break(int argc, char **argv)
{
    return loop_builtin(argc, argv, CTL_BREAK);
}

static int bi_continue(int argc, char **argv)
{
    return loop_builtin(argc, argv, CTL_CONTINUE);
}

static char *join_args(int argc, char **argv, int from)
{
    size_t n = 1;
    for (int i = from; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = xmalloc(n);
    s[0] = 0;
    for (int i = from; i < argc; i++) {
        if (i > from)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static int bi_eval(int argc, char **argv)
{
    if (argc < 2)
        return 0;
    char *s = join_args(argc, argv, 1);
    sh.status = 0;
    int st = sh_eval_string(s, "eval");
    free(s);
    return st;
}

static int bi_dot(int argc, char **argv)
{
    if (argc < 2) {
        sh_error("%s: filename argument required", argv[0]);
        sh.special_error = true;
        return 2;
    }
    const char *name = argv[1];
    char *path = NULL;
    if (!strchr(name, '/')) {
        const char *p = var_get("PATH");
        for (p = p ? p : ""; p;) {
            const char *e = strchrnul(p, ':');
            char *c = xmalloc((size_t)(e - p) + strlen(name) + 3);
            sprintf(c, "%.*s/%s", (int)(e - p), e > p ? p : ".", name);
            struct stat st;
            if (stat(c, &st) == 0 && S_ISREG(st.st_mode)) {
                path = c;
                break;
            }
            free(c);
            p = *e ? e + 1 : NULL;
        }
    }
    if (!path)
        path = xstrdup(name);
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *text = fd >= 0 ? sh_read_fd(fd, &len) : NULL;
    if (fd >= 0)
        close(fd);
    if (!text) {
        sh_error("%s: %s: %s", argv[0], name, strerror(errno));
        sh.special_error = true;
        free(path);
        return 2;
    }
    posparams *saved = argc > 2 ? pos_push(argc - 2, argv + 2) : NULL;
    src *s = src_new(path, text, len, NULL, NULL);
    sh.status = 0;
    sh.func_depth++; /* `return` ends the dot script */
    int st = sh_run_src(s, false);
    sh.func_depth--;
    if (sh.ctl == CTL_RETURN) {
        sh.ctl = CTL_NONE;
        st = sh.status;
    }
    src_free(s);
    free(text);
    free(path);
    if (saved)
        pos_pop(saved);
    return st;
}

extern char **environ;
static int bi_exec(int argc, char **argv)
{
    if (argc < 2)
        return 0;
    char *path = path_search(argv[1]);
    if (!path) {
        sh_error("exec: %s: not found", argv[1]);
        sh_exit(127);
    }
    sh_flush();
    execve(path, argv + 1, var_environ());
    int e = errno;
    if (e == ENOEXEC) {
        /* a script without #!: this shell runs it */
        char **nv = script_argv(argv + 1, path);
        execve(sh_self_exe(), nv, var_environ());
        free(nv);
    }
    sh_error("exec: %s: %s", argv[1], strerror(e));
    free(path);
    sh_exit(e == ENOENT ? 127 : 126);
}

/* ---- read ------------------------------------------------------------------------------------- */
static int bi_read(int argc, char **argv)
{
    bool raw = false;
    const char *prompt = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        for (const char *c = argv[i] + 1; *c; c++) {
            if (*c == 'r')
                raw = true;
            else if (*c == 'p') {
                if (c[1])
                    prompt = c + 1;
                else if (i + 1 < argc)
                    prompt = argv[++i];
                break;
            } else {
                sh_error("read: -%c: invalid option", *c);
                return 2;
            }
        }
    }
    for (int k = i; k < argc; k++)
        if (!sh_is_name(argv[k])) {
            sh_error("read: %s: bad variable name", argv[k]);
            return 2;
        }
    if (prompt && isatty(0)) {
        fputs(prompt, stderr);
        fflush(stderr);
    }
    /* read one line, a byte at a time (what follows belongs to the next reader) */
    size_t cap = 128, n = 0;
    char *line = xmalloc(cap);
    unsigned char *esc = xmalloc(cap);
    int st = 0;
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = 1;
            break;
        }
        if (c == '\n')
            break;
        bool e = false;
        if (c == '\\' && !raw) {
            char d;
            while ((r = read(0, &d, 1)) < 0 && errno == EINTR)
                ;
            if (r <= 0) {
                st = 1;
                break;
            }
            if (d == '\n')
                continue;
            c = d;
            e = true;
        }
        if (n + 2 >= cap) {
            cap *= 2;
            line = xrealloc(line, cap);
            esc = xrealloc(esc, cap);
        }
        line[n] = c;
        esc[n] = e;
        n++;
    }
    line[n] = 0;
    const char *ifs = ifs_value();
    int nv = argc - i;
    char *def[] = {"REPLY", NULL};
    char **names = nv ? argv + i : def;
    if (!nv)
        nv = 1;
    size_t p = 0;
#define IS_IFS(k) (!esc[k] && line[k] && strchr(ifs, line[k]))
#define IS_WS(k) (IS_IFS(k) && (line[k] == ' ' || line[k] == '\t' || line[k] == '\n'))
    /* leading IFS whitespace */
    if (nv == 1 && argc - i == 0) {
        /* REPLY gets the line as is (leading/trailing whitespace kept, as dash... no: stripped) */
    }
    while (p < n && IS_WS(p))
        p++;
    for (int v = 0; v < nv; v++) {
        char *val = xmalloc(n - p + 1);
        size_t k = 0;
        if (v == nv - 1) {
            /* the rest of the line, without trailing IFS whitespace */
            size_t end = n;
            while (end > p && IS_WS(end - 1))
                end--;
            /* a single trailing non-whitespace IFS delimiter is dropped too */
            if (end > p && IS_IFS(end - 1) && !IS_WS(end - 1)) {
                size_t q = end - 1;
                while (q > p && IS_WS(q - 1))
                    q--;
                /* only if no other field separator: keep it when the rest has more fields */
                bool other = false;
                for (size_t t = p; t < q; t++)
                    if (IS_IFS(t))
                        other = true;
                if (!other)
                    end = q;
            }
            for (; p < end; p++)
                val[k++] = line[p];
            p = n;
        } else {
            while (p < n && !IS_IFS(p))
                val[k++] = line[p++];
            /* the delimiter: whitespace*, one non-whitespace, whitespace* */
            while (p < n && IS_WS(p))
                p++;
            if (p < n && IS_IFS(p) && !IS_WS(p)) {
                p++;
                while (p < n && IS_WS(p))
                    p++;
            }
        }
        val[k] = 0;
        if (var_set(names[v], val, 0) < 0)
            st = 2;
        free(val);
    }
#undef IS_IFS
#undef IS_WS
    free(line);
    free(esc);
    return st;
}

/* ---- type / command ----------------------------------------------------------------------- */
static bool is_keyword(const char *w)
{
    static const char *const kw[] = {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac",
                                     "while", "until", "for", "{", "}", "!", "in", NULL};
    for (int i = 0; kw[i]; i++)
        if (strcmp(w, kw[i]) == 0)
            return true;
    return false;
}

/* describe a command name: verbose for type / command -V, else command -v */
static int describe(const char *name, bool verbose)
{
    bool special;
    const char *al = sh_alias_get(name);
    if (al) {
        if (verbose)
            printf("%s is an alias for %s\n", name, al);
        else
            printf("alias %s='%s'\n", name, al);
        return 0;
    }
    if (is_keyword(name)) {
        if (verbose)
            printf("%s is a shell keyword\n", name);
        else
            printf("%s\n", name);
        return 0;
    }
    if (func_get(name)) {
        if (verbose)
            printf("%s is a shell function\n", name);
        else
            printf("%s\n", name);
        return 0;
    }
    if (builtin_get(name, &special)) {
        if (verbose)
            printf("%s is a %sshell builtin\n", name, special ? "special " : "");
        else
            printf("%s\n", name);
        return 0;
    }
    char *p = path_search(name);
    if (p && strchr(name, '/') && access(p, X_OK) != 0) {
        free(p);
        p = NULL;
    }
    if (p) {
        if (verbose)
            printf("%s is %s\n", name, p);
        else
            printf("%s\n", p);
        free(p);
        return 0;
    }
    if (verbose)
        sh_error("%s: not found", name);
    return 127;
}

static int bi_type(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (describe(argv[i], true))
            rc = 127;
    return rc;
}

static int bi_command(int argc, char **argv)
{
    int i = 1;
    int mode = 0; /* 'v', 'V' */
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        for (const char *c = argv[i] + 1; *c; c++) {
            if (*c == 'v' || *c == 'V')
                mode = *c;
            else if (*c != 'p') {
                sh_error("command: -%c: invalid option", *c);
                return 2;
            }
        }
    }
    if (i >= argc)
        return 0;
    if (mode) {
        int rc = 0;
        for (; i < argc; i++)
            if (describe(argv[i], mode == 'V'))
                rc = 127;
        return rc;
    }
    return exec_command_argv(argc - i, argv + i, 0);
}

/* ---- alias ---------------------------------------------------------------------------------- */
static int bi_alias(int argc, char **argv)
{
    if (argc == 1) {
        alias_print(NULL);
        return 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq) {
            *eq = 0;
            alias_set(argv[i], eq + 1);
            *eq = '=';
        } else if (sh_alias_get(argv[i]))
            alias_print(argv[i]);
        else {
            sh_error("alias: %s: not found", argv[i]);
            rc = 1;
        }
    }
    return rc;
}

static int bi_unalias(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-a") == 0) {
        alias_clear();
        return 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (alias_unset(argv[i]) < 0) {
            sh_error("unalias: %s: not found", argv[i]);
            rc = 1;
        }
    return rc;
}

/* ---- getopts --------------------------------------------------------------------------------- */
static int getopts_pos = 1;        /* character index within the current argument */
static char getopts_optind[16] = "";

int bi_getopts_reset(void)
{
    getopts_pos = 1;
    return 0;
}

static int bi_getopts(int argc, char **argv)
{
    if (argc < 3) {
        sh_error("getopts: usage: getopts optstring name [arg...]");
        return 2;
    }
    const char *optstr = argv[1];
    const char *name = argv[2];
    char **args = argc > 3 ? argv + 3 : pos->v;
    int nargs = argc > 3 ? argc - 3 : pos->n;
    const char *oi = var_get("OPTIND");
    int oind = oi ? atoi(oi) : 1;
    if (oind < 1)
        oind = 1;
    /* OPTIND changed by the user (e.g. reset to 1): start over in that argument */
    if (!oi || strcmp(oi, getopts_optind) != 0)
        getopts_pos = 1;
    bool silent = optstr[0] == ':';
    if (silent)
        optstr++;
    char buf[16];
    if (oind > nargs || !args[oind - 1] || args[oind - 1][0] != '-' || !args[oind - 1][1] ||
        strcmp(args[oind - 1], "--") == 0) {
        if (oind <= nargs && args[oind - 1] && strcmp(args[oind - 1], "--") == 0)
            oind++;
        var_unset("OPTARG");
        var_set(name, "?", 0);
        snprintf(buf, sizeof buf, "%d", oind);
        var_set("OPTIND", buf, 0);
        snprintf(getopts_optind, sizeof getopts_optind, "%d", oind);
        getopts_pos = 1;
        return 1;
    }
    const char *arg = args[oind - 1];
    char c = arg[getopts_pos];
    const char *spec = strchr(optstr, c);
    int rc = 0;
    getopts_pos++;
    bool end_of_arg = arg[getopts_pos] == 0;
    if (!spec || c == ':') {
        char s[2] = {c, 0};
        if (silent) {
            var_set("OPTARG", s, 0);
        } else {
            sh_error("getopts: illegal option -- %c", c);
            var_unset("OPTARG");
        }
        var_set(name, "?", 0);
    } else if (spec[1] == ':') {
        if (!end_of_arg) {
            var_set("OPTARG", arg + getopts_pos, 0);
            end_of_arg = true;
        } else if (oind < nargs) {
            oind++;
            var_set("OPTARG", args[oind - 1], 0);
        } else {
            char s[2] = {c, 0};
            if (silent) {
                var_set("OPTARG", s, 0);
                var_set(name, ":", 0);
            } else {
                sh_error("getopts: option requires an argument -- %c", c);
                var_unset("OPTARG");
                var_set(name, "?", 0);
            }
            end_of_arg = true;
            goto advance;
        }
        char s[2] = {c, 0};
        var_set(name, s, 0);
    } else {
        char s[2] = {c, 0};
        var_set(name, s, 0);
        var_unset("OPTARG");
    }
advance:
    if (end_of_arg) {
        oind++;
        getopts_pos = 1;
    }
    snprintf(buf, sizeof buf, "%d", oind);
    var_set("OPTIND", buf, 0);
    snprintf(getopts_optind, sizeof getopts_optind, "%d", oind);
    return rc;
}

/* ---- umask, times, hash ----------------------------------------------------------------------- */
static int bi_umask(int argc, char **argv)
{
    int i = 1;
    bool sym = false;
    if (i < argc && strcmp(argv[i], "-S") == 0) {
        sym = true;
        i++;
    }
    mode_t cur = umask(0);
    umask(cur);
    if (i >= argc) {
        if (sym) {
            mode_t m = ~cur & 0777;
            char b[32];
            int k = 0;
            const char *who = "ugo";
            for (int w = 0; w < 3; w++) {
                if (w)
                    b[k++] = ',';
                b[k++] = who[w];
                b[k++] = '=';
                int sh3 = 6 - 3 * w;
                if (m & (4 << sh3)) b[k++] = 'r';
                if (m & (2 << sh3)) b[k++] = 'w';
                if (m & (1 << sh3)) b[k++] = 'x';
            }
            b[k] = 0;
            printf("%s\n", b);
        } else
            printf("%04o\n", (unsigned)cur);
        return 0;
    }
    const char *m = argv[i];
    if (isdigit((unsigned char)m[0])) {
        char *e;
        long v = strtol(m, &e, 8);
        if (*e || v < 0 || v > 0777) {
            sh_error("umask: %s: invalid mode", m);
            return 1;
        }
        umask((mode_t)v);
        return 0;
    }
    /* symbolic: [ugoa]*[+-=][rwx]*, comma separated; applies to the permission mask */
    mode_t perm = ~cur & 0777;
    const char *p = m;
    while (*p) {
        mode_t who = 0;
        while (*p && strchr("ugoa", *p)) {
            if (*p == 'u') who |= 0700;
            if (*p == 'g') who |= 0070;
            if (*p == 'o') who |= 0007;
            if (*p == 'a') who |= 0777;
            p++;
        }
        if (!who)
            who = 0777;
        if (!*p || !strchr("+-=", *p)) {
            sh_error("umask: %s: invalid mode", m);
            return 1;
        }
        char op = *p++;
        mode_t bits = 0;
        while (*p && strchr("rwx", *p)) {
            if (*p == 'r') bits |= 0444;
            if (*p == 'w') bits |= 0222;
            if (*p == 'x') bits |= 0111;
            p++;
        }
        bits &= who;
        if (op == '+') perm |= bits;
        else if (op == '-') perm &= ~bits;
        else perm = (perm & ~who) | bits;
        if (*p == ',')
            p++;
        else if (*p) {
            sh_error("umask: %s: invalid mode", m);
            return 1;
        }
    }
    umask(~perm & 0777);
    return 0;
}

static int bi_times(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    printf("%ldm%ld.%03lds %ldm%ld.%03lds\n%ldm%ld.%03lds %ldm%ld.%03lds\n",
           (long)s.ru_utime.tv_sec / 60, (long)s.ru_utime.tv_sec % 60, (long)s.ru_utime.tv_usec / 1000,
           (long)s.ru_stime.tv_sec / 60, (long)s.ru_stime.tv_sec % 60, (long)s.ru_stime.tv_usec / 1000,
           (long)c.ru_utime.tv_sec / 60, (long)c.ru_utime.tv_sec % 60, (long)c.ru_utime.tv_usec / 1000,
           (long)c.ru_stime.tv_sec / 60, (long)c.ru_stime.tv_sec % 60, (long)c.ru_stime.tv_usec / 1000);
    return 0;
}

void hash_clear(void);
void hash_print(void);
static int bi_hash(int argc, char **argv)
{
    if (argc == 1) {
        hash_print();
        return 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0) {
            hash_clear();
            continue;
        }
        bool sp;
        if (builtin_get(argv[i], &sp) || func_get(argv[i]))
            continue;
        char *p = path_search(argv[i]);
        if (!p) {
            sh_error("hash: %s: not found", argv[i]);
            rc = 1;
        }
        free(p);
    }
    return rc;
}

/* ---- the table ------------------------------------------------------------------------------- */
static const struct {
    const char *name;
    builtin_fn fn;
    bool special;
} table[] = {
    {".", bi_dot, true},          {":", bi_true, true},           {"[", bi_test, false},
    {"alias", bi_alias, false},   {"bg", sh_bg, false},           {"break", bi_break, true},
    {"cd", bi_cd, false},
    {"command", bi_command, false}, {"continue", bi_continue, true}, {"echo", bi_echo, false},
    {"eval", bi_eval, true},      {"exec", bi_exec, true},        {"exit", bi_exit, true},
    {"expect", bi_expect, false},
    {"export", bi_export, true},  {"false", bi_false, false},     {"fg", sh_fg, false},
    {"getopts", bi_getopts, false}, {"hash", bi_hash, false},     {"history", bi_history, false},
    {"jobs", sh_jobs, false},     {"kill", sh_kill, false},
    {"local", bi_local, false},   {"match", bi_match, false},     {"pool", bi_pool, false},
    {"printf", bi_printf, false},   {"pwd", bi_pwd, false},       {"queue", bi_queue, false},
    {"read", bi_read, false},     {"readonly", bi_readonly, true}, {"return", bi_return, true},
    {"send", bi_send, false},
    {"set", bi_set, true},        {"shift", bi_shift, true},      {"source", bi_dot, false},
    {"spawn", bi_spawn, false},
    {"test", bi_test, false},     {"timeout", bi_timeout, false}, {"times", bi_times, true},
    {"trap", sh_trap, true},      {"true", bi_true, false},       {"type", bi_type, false},
    {"umask", bi_umask, false},   {"unalias", bi_unalias, false}, {"unset", bi_unset, true},
    {"wait", sh_wait_jobs, false},
};

builtin_fn builtin_get(const char *name, bool *special)
{
    size_t lo = 0, hi = sizeof table / sizeof table[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, table[mid].name);
        if (c == 0) {
            *special = table[mid].special;
            return table[mid].fn;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *special = false;
    return NULL;
}

/* the builtin names, for completion */
const char *const sh_builtin_names[] = {
    ".", ":", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval", "exec",
    "exit", "expect", "export", "false", "fg", "getopts", "hash", "history", "jobs", "kill", "local",
    "match", "pool", "printf", "pwd", "queue", "read", "readonly", "return", "send", "set", "shift", "source", "spawn",
    "test", "timeout",
    "times", "trap", "true", "type", "umask", "unalias", "unset", "wait", NULL,
};
