/* pshell — the entry point: options, the shell's initial state, and where commands come from
 * (a script file, -c, standard input, or a terminal through readline). */
#include "libpipe.h"
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sh_set_option(char letter, const char *name, bool on);
extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: pshell [-eunvx] [-o OPTION] [-c COMMAND [NAME [ARGS...]]]\n"
               "       pshell [-eunvx] [-o OPTION] [SCRIPT [ARGS...]]\n"
               "       pshell --help | --version\n"
               "  -c COMMAND  run COMMAND; NAME becomes $0 and ARGS $1...\n"
               "  -n          read and parse, run nothing (syntax check)\n"
               "  -e -u -x -v -f -C -a, -o pipefail ...  as the set builtin\n"
               "With no SCRIPT and no -c, commands are read from standard input\n"
               "(interactively, with line editing, when it is a terminal).\n");
}

/* ---- standard input, one line at a time ---------------------------------------------------- */
/* A line per call, so a command that reads the same standard input (read, cat) gets what
 * follows the command, as POSIX asks: a seekable input is read in blocks and the offset put
 * back; a pipe is read a byte at a time up to the newline. */
static int more_stdin(src *s, void *ctx)
{
    (void)ctx;
    static int seekable = -1;
    if (seekable < 0)
        seekable = lseek(0, 0, SEEK_CUR) >= 0;
    char buf[4096];
    if (seekable) {
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) < 0 && errno == EINTR)
            ;
        if (n <= 0)
            return 0;
        char *nl = memchr(buf, '\n', (size_t)n);
        size_t take = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
        if ((ssize_t)take < n)
            lseek(0, (off_t)take - n, SEEK_CUR);
        src_append(s, buf, take);
        return 1;
    }
    size_t k = 0;
    bool got = false;
    for (;;) {
        char c;
        ssize_t n = read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got = true;
        buf[k++] = c;
        if (c == '\n' || k == sizeof buf) {
            src_append(s, buf, k);
            k = 0;
            if (c == '\n')
                return 1;
        }
    }
    if (k)
        src_append(s, buf, k);
    return got;
}


static void init_state(void)
{
    sh.pid = getpid();
    sh_fd_init();
    var_import(environ);
    char buf[64];
    snprintf(buf, sizeof buf, "%ld", (long)getppid());
    var_set("PPID", buf, 0);
    var_set("IFS", " \t\n", 0);
    var_set("OPTIND", "1", 0);
    /* prompts from the environment are kept (IFS is always reset, as POSIX asks) */
    if (!var_get("PS1"))
        var_set("PS1", geteuid() == 0 ? "# " : "$ ", 0);
    if (!var_get("PS2"))
        var_set("PS2", "> ", 0);
    if (!var_get("PS4"))
        var_set("PS4", "+ ", 0);
    if (!var_get("PATH"))
        var_set("PATH", "/usr/local/bin:/usr/bin:/bin", 0);
    /* PWD: the inherited one if it names this directory, else the physical path */
    const char *pwd = var_get("PWD");
    struct stat a, b;
    if (!(pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
          a.st_ino == b.st_ino)) {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd))
            var_set("PWD", cwd, V_EXPORT);
    }
}

/* Run shell text that is all here (a script file or -c): parse it whole first, so a syntax
 * error anywhere runs nothing (status 2). */
static int run_text(const char *name, const char *text, size_t len, bool parse_only)
{
    src *v = src_new(name, text, len, NULL, NULL);
    int r = sh_run_src(v, true);
    src_free(v);
    if (r < 0)
        return 2;
    if (parse_only)
        return 0;
    src *s = src_new(name, text, len, NULL, NULL);
    int st = sh_run_src(s, false);
    src_free(s);
    if (sh.ctl == CTL_RETURN)
        st = sh.status;
    return st;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("pshell %s (libpipe %s)\n", PACKAGE_VERSION, LIBPIPE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    setvbuf(stdout, NULL, _IOFBF, 8192);
    init_state();
    const char *cmd = NULL;
    bool has_c = false, parse_only = false, force_stdin = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-") == 0) {
            /* "-": end of options, commands from standard input */
            i++;
            force_stdin = true;
            break;
        }
        if ((a[0] != '-' && a[0] != '+') || !a[1])
            break;
        bool on = a[0] == '-';
        for (const char *c = a + 1; *c; c++) {
            if (*c == 'c')
                has_c = true;
            else if (*c == 'n')
                parse_only = true;
            else if (*c == 's')
                force_stdin = true;
            else if (*c == 'i')
                sh.interactive = true;
            else if (*c == 'o') {
                if (i + 1 >= argc) {
                    fprintf(stderr, "pshell: -o: option requires an argument\n");
                    return 2;
                }
                if (sh_set_option(0, argv[++i], on) < 0) {
                    fprintf(stderr, "pshell: -o %s: unknown option\n", argv[i]);
                    usage(stderr);
                    return 2;
                }
            } else if (sh_set_option(*c, NULL, on) < 0) {
                fprintf(stderr, "pshell: -%c: unknown option\n", *c);
                usage(stderr);
                return 2;
            }
        }
    }
    if (has_c) {
        if (i >= argc) {
            fprintf(stderr, "pshell: -c: option requires an argument\n");
            usage(stderr);
            return 2;
        }
        cmd = argv[i++];
        sh.arg0 = xstrdup(i < argc ? argv[i++] : argv[0]);
        sh.name = sh.arg0;
        pos_set(argc - i, argv + i);
        sh.name = "-c";
        int st = run_text("-c", cmd, strlen(cmd), parse_only);
        sh_exit(st);
    }
    if (i < argc && !force_stdin) {
        const char *path = argv[i++];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t len = 0;
        char *text = fd >= 0 ? sh_read_fd(fd, &len) : NULL;
        if (!text) {
            fprintf(stderr, "pshell: %s: %s\n", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return errno == ENOENT ? 127 : 126;
        }
        close(fd);
        sh.arg0 = xstrdup(path);
        sh.name = sh.arg0;
        pos_set(argc - i, argv + i);
        int st = run_text(path, text, len, parse_only);
        free(text);
        sh_exit(st);
    }
    sh.arg0 = xstrdup(argv[0]);
    sh.name = "stdin";
    pos_set(argc - i, argv + i);
    if (isatty(0) && isatty(2) && !parse_only) {
        int st = sh_interactive_main();
        if (st >= 0)
            sh_exit(st);
    }
    if (parse_only) {
        src *v = src_new("stdin", "", 0, more_stdin, NULL);
        int r = sh_run_src(v, true);
        src_free(v);
        return r < 0 ? 2 : 0;
    }
    src *s = src_new("stdin", "", 0, more_stdin, NULL);
    int st = sh_run_src(s, false);
    src_free(s);
    if (sh.ctl == CTL_RETURN)
        st = sh.status;
    sh_exit(st);
}
