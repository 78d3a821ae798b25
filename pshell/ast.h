/* pshell — the syntax tree.  parse.c builds it; exec.c walks it; nothing here runs anything.
 *
 * Words are kept as their source text (quotes and $-forms intact, line continuations removed):
 * expand.c gives them meaning at run time, so one word scanner serves the parser and the
 * expander.  Every node of one parse lives in one arena, freed as a whole. */
#ifndef PSHELL_AST_H
#define PSHELL_AST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct arena arena;
arena *arena_new(void);
void arena_free(arena *a);
void *amalloc(arena *a, size_t n); /* zeroed */
char *astrndup(arena *a, const char *s, size_t n);

enum redir_op {
    R_IN,      /* <   */
    R_OUT,     /* >   */
    R_APPEND,  /* >>  */
    R_CLOBBER, /* >|  */
    R_RDWR,    /* <>  */
    R_DUPIN,   /* <&  */
    R_DUPOUT,  /* >&  */
    R_HEREDOC, /* << and <<- (body already read) */
};

typedef struct redir {
    enum redir_op op;
    int fd;            /* the descriptor redirected */
    char *word;        /* target word (raw) */
    char *body;        /* here-doc body */
    bool hd_expand;    /* here-doc delimiter was unquoted: expand $, `, \ in the body */
    int line;
    struct redir *next;
} redir;

typedef enum {
    N_CMD,      /* simple command */
    N_PIPE,     /* pipeline (with ! in .bang) */
    N_AND,      /* a && b */
    N_OR,       /* a || b */
    N_LIST,     /* a ; b ; c (items may be N_BG) */
    N_BG,       /* a & */
    N_SUBSHELL, /* ( list ) */
    N_GROUP,    /* { list; } */
    N_IF,
    N_WHILE,
    N_UNTIL,
    N_FOR,
    N_CASE,
    N_FUNC,     /* name () body */
    N_TIMEOUT,  /* timeout ARGS { list; } — pshell's timeout with a compound body */
    N_POOL,     /* pool ARGS { list; } ARGS — pshell's pool with a compound body as the job */
} ntype;

typedef struct caseitem {
    char **pats;
    int npats;
    struct node *body; /* may be NULL */
    struct caseitem *next;
} caseitem;

typedef struct node {
    ntype t;
    int line;
    redir *redirs; /* simple and compound commands */
    union {
        struct { char **assign; int nassign; char **words; int nwords; } cmd;
        struct { struct node **v; int n; bool bang; } pipe;
        struct { struct node **v; int n; } list;
        struct { struct node *l, *r; } bin;
        struct node *sub; /* N_BG, N_SUBSHELL, N_GROUP */
        struct { struct node *cond, *then, *els; } ifn;
        struct { struct node *cond, *body; } loop;
        struct { char *var; char **words; int nwords; bool has_in; struct node *body; } forn;
        struct { char *word; caseitem *items; } casen;
        struct { char *name; struct node *body; } func;
        struct { char **args; int nargs; struct node *body; char **post; int npost; } tmo; /* and N_POOL */
    };
} node;

/* ---- parse.c ------------------------------------------------------------------------------- */
typedef struct src src;
/* A source of shell text.  `more` appends the next chunk (a line, for interactive input) to
 * the buffer with src_append and returns 1, or returns 0 at end of input. */
src *src_new(const char *name, const char *text, size_t len, int (*more)(src *, void *), void *ctx);
void src_append(src *s, const char *text, size_t len);
void src_free(src *s);
int src_line(const src *s);
/* The text read so far and the offset parsing has reached (for set -v). */
const char *src_text(const src *s, size_t *at);
/* Drop everything read so far and forget an end of input (an interactive line abandoned). */
void src_discard(src *s);
/* Drop consumed text (between complete commands of an endless stream). */
void src_compact(src *s);

/* Parse the next complete command.  1 and *out (NULL for an empty line), 0 at end of input,
 * -1 on a syntax error (already reported as "pshell: NAME: line L, col C: syntax error: ...").
 * `no_alias` parses without alias substitution (whole-script validation). */
int parse_next(src *s, arena *a, node **out, bool no_alias);
/* The command list of "$(...)" whose text starts at s (just after "$(").  *end gets the index
 * of the closing ')'.  NULL for an empty list, or on a syntax error (reported, naming `where`;
 * then *end is (size_t)-1). */
node *parse_cmdsub(const char *s, size_t len, size_t *end, arena *a, const char *where, int line);
/* Index just past the substitution starting at s[i] ("$(", "$((", "${" or "`"), or (size_t)-1
 * if it does not end within len. */
size_t scan_subst(const char *s, size_t len, size_t i);

/* Does the parse of this complete command define a function (so its arena must be kept)? */
bool ast_defines_function(const node *n);

#endif
