/* pshell — internal interfaces shared by the shell's modules.
 *
 *   lex/parse (parse.c)  text -> AST (ast.h); no execution
 *   expand.c             words -> fields (parameters, $(...), $((...)), splitting, globbing)
 *   exec.c               AST -> libpipe calls; redirections, status, traps, jobs
 *   vars.c               variables, positional parameters, environment for children
 *   builtins.c           the sh builtins that need the shell's state
 *   arith.c              $((...)) evaluator (self-contained; reaches variables via callbacks)
 *   bi_test.c bi_printf.c  `test`/`[` and `printf` (self-contained: argv in, status out)
 *
 * Conventions: builtins write their normal output to stdio `stdout` (the shell flushes it after
 * every builtin, before any spawn or fork, and before undoing redirections) and diagnostics to
 * stderr as "pshell: NAME: message\n".  Status 2 is a usage error, as in dash. */
#ifndef PSHELL_SH_H
#define PSHELL_SH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arith.c --------------------------------------------------------------------------------
 * Evaluate a POSIX shell arithmetic expression (the text between "$((" and "))" after
 * parameter expansion and command substitution have been done on it).  Integers are intmax_t
 * (64-bit, wrapping on overflow, no UB).  Supports: decimal, octal (leading 0), hex (0x)
 * constants; variable names (an unset or empty variable is 0; a value that is not an integer
 * is an error naming the variable); unary + - ! ~; ++ -- (pre and post, on variables);
 * * / % + - << >> < <= > >= == != & ^ | && || (short-circuit: the unevaluated side has no
 * side effects) ?: (right-assoc, unevaluated branch has no side effects); = *= /= %= += -= <<=
 * >>= &= ^= |=; parentheses; the comma operator.  Division or modulo by zero is an error.
 * Returns 0 and *out, or -1 with *err set to a malloc'd message such as
 * "division by zero" or "syntax error: unexpected 'x'" (the caller prefixes "pshell: ..."). */
typedef struct sh_arith_env {
    /* the value of a variable or NULL if unset */
    const char *(*get)(void *ctx, const char *name);
    /* assign; 0, or -1 when the variable is read-only (then evaluation fails) */
    int (*set)(void *ctx, const char *name, const char *value);
    void *ctx;
} sh_arith_env;
int sh_arith(const char *expr, const sh_arith_env *env, intmax_t *out, char **err);

/* ---- bi_test.c, bi_printf.c ---------------------------------------------------------------
 * argv[0] is the name the builtin was called by ("test", "[", "printf").  Return the exit
 * status.  `[` requires a final "]" argument. */
int bi_test(int argc, char **argv);
int bi_printf(int argc, char **argv);

/* Parse a duration for `timeout` and friends: "1.5", "500ms", "2s", "2m", "1h", "1d"; a bare
 * number is seconds.  Returns milliseconds (>= 0) or -1 when malformed.  (exec.c) */
long sh_parse_duration(const char *s);

#endif
