/* pshell — variables, the environment of children, positional parameters, locals, functions
 * and aliases.  One string-keyed hash table type serves all four. */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("pshell: out of memory\n", stderr);
        _Exit(2);
    }
    return p;
}

void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fputs("pshell: out of memory\n", stderr);
        _Exit(2);
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("pshell: out of memory\n", stderr);
        _Exit(2);
    }
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

bool sh_is_name(const char *s)
{
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (s++; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* ---- hash table ------------------------------------------------------------------------------ */
typedef struct entry {
    char *name;
    char *val;   /* variables, aliases */
    node *fn;    /* functions */
    int flags;
    struct entry *next;
} entry;

typedef struct table {
    entry **b;
    size_t nb, n;
} table;

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static entry *lookup(table *t, const char *name, bool create)
{
    if (!t->b) {
        if (!create)
            return NULL;
        t->nb = 64;
        t->b = xcalloc(t->nb, sizeof *t->b);
    }
    size_t h = hash(name) & (t->nb - 1);
    for (entry *e = t->b[h]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    if (!create)
        return NULL;
    if (t->n > t->nb) {
        size_t nb = t->nb * 2;
        entry **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < t->nb; i++)
            for (entry *e = t->b[i], *nx; e; e = nx) {
                nx = e->next;
                size_t k = hash(e->name) & (nb - 1);
                e->next = b[k];
                b[k] = e;
            }
        free(t->b);
        t->b = b;
        t->nb = nb;
        h = hash(name) & (nb - 1);
    }
    entry *e = xcalloc(1, sizeof *e);
    e->name = xstrdup(name);
    e->flags = -1; /* new: no value, no attributes */
    e->next = t->b[h];
    t->b[h] = e;
    t->n++;
    return e;
}

static void remove_entry(table *t, const char *name)
{
    if (!t->b)
        return;
    size_t h = hash(name) & (t->nb - 1);
    for (entry **pe = &t->b[h]; *pe; pe = &(*pe)->next)
        if (strcmp((*pe)->name, name) == 0) {
            entry *e = *pe;
            *pe = e->next;
            free(e->name);
            free(e->val);
            free(e);
            t->n--;
            return;
        }
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp((*(entry *const *)a)->name, (*(entry *const *)b)->name);
}

/* entries sorted by name (malloc'd array, NULL-terminated) */
static entry **sorted(table *t)
{
    entry **v = xmalloc((t->n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < t->nb; i++)
        for (entry *e = t->b[i]; e; e = e->next)
            v[k++] = e;
    qsort(v, k, sizeof *v, cmp_entries);
    v[k] = NULL;
    return v;
}

/* ---- variables ------------------------------------------------------------------------------ */
static table vars;
static unsigned env_gen = 1, env_built;
static char **env_cache;

const char *var_get(const char *name)
{
    entry *e = lookup(&vars, name, false);
    return e ? e->val : NULL;
}

int var_flags(const char *name)
{
    entry *e = lookup(&vars, name, false);
    return e ? e->flags : -1;
}

int var_set(const char *name, const char *val, int add_flags)
{
    entry *e = lookup(&vars, name, true);
    if (e->flags < 0)
        e->flags = 0;
    if (e->flags & V_READONLY) {
        sh_error("%s: is read only", name);
        return -1;
    }
    if (sh.allexport)
        add_flags |= V_EXPORT;
    char *nv = val ? xstrdup(val) : NULL;
    free(e->val);
    e->val = nv;
    e->flags |= add_flags;
    if (e->flags & V_EXPORT)
        env_gen++;
    return 0;
}

int var_unset(const char *name)
{
    entry *e = lookup(&vars, name, false);
    if (!e)
        return 0;
    if (e->flags > 0 && (e->flags & V_READONLY)) {
        sh_error("%s: is read only", name);
        return -1;
    }
    if (e->flags > 0 && (e->flags & V_EXPORT))
        env_gen++;
    remove_entry(&vars, name);
    return 0;
}

void var_set_flags(const char *name, int flags)
{
    entry *e = lookup(&vars, name, true);
    if (e->flags < 0)
        e->flags = 0;
    e->flags |= flags;
    env_gen++;
}

void var_import(char **envp)
{
    for (char **p = envp; *p; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq)
            continue;
        char *name = xmalloc((size_t)(eq - *p) + 1);
        memcpy(name, *p, (size_t)(eq - *p));
        name[eq - *p] = 0;
        if (sh_is_name(name))
            var_set(name, eq + 1, V_EXPORT);
        free(name);
    }
}

char **var_environ(void)
{
    if (env_built == env_gen && env_cache)
        return env_cache;
    if (env_cache) {
        for (char **p = env_cache; *p; p++)
            free(*p);
        free(env_cache);
    }
    size_t k = 0;
    env_cache = xmalloc((vars.n + 1) * sizeof *env_cache);
    for (size_t i = 0; i < vars.nb; i++)
        for (entry *e = vars.b[i]; e; e = e->next)
            if (e->flags > 0 && (e->flags & V_EXPORT) && e->val) {
                size_t a = strlen(e->name), b = strlen(e->val);
                char *s = xmalloc(a + b + 2);
                memcpy(s, e->name, a);
                s[a] = '=';
                memcpy(s + a + 1, e->val, b + 1);
                env_cache[k++] = s;
            }
    env_cache[k] = NULL;
    env_built = env_gen;
    return env_cache;
}

/* print a value quoted so the shell can read it back */
static void print_quoted(const char *v)
{
    bool plain = *v != 0;
    for (const char *c = v; *c; c++)
        if (!(*c == '_' || *c == '/' || *c == '.' || *c == '-' || *c == ':' || *c == ',' || *c == '+' ||
              *c == '@' || *c == '%' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            plain = false;
    if (plain) {
        fputs(v, stdout);
        return;
    }
    putchar('\'');
    for (; *v; v++) {
        if (*v == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*v);
    }
    putchar('\'');
}

void var_print(int flags_filter, const char *prefix)
{
    entry **v = sorted(&vars);
    for (entry **p = v; *p; p++) {
        entry *e = *p;
        int f = e->flags < 0 ? 0 : e->flags;
        if (flags_filter && !(f & flags_filter))
            continue;
        if (!flags_filter && !e->val)
            continue;
        if (prefix)
            printf("%s ", prefix);
        fputs(e->name, stdout);
        if (e->val) {
            putchar('=');
            print_quoted(e->val);
        }
        putchar('\n');
    }
    free(v);
}

/* ---- locals: a stack of frames of saved variables --------------------------------------------- */
typedef struct saved {
    char *name;
    char *val;
    int flags; /* -1: did not exist */
    struct saved *next;
} saved;
typedef struct frame {
    saved *vars;
    struct frame *up;
} frame;
static frame *frames;

void locals_push(void)
{
    frame *f = xcalloc(1, sizeof *f);
    f->up = frames;
    frames = f;
}

void locals_pop(void)
{
    frame *f = frames;
    if (!f)
        return;
    frames = f->up;
    for (saved *s = f->vars, *n; s; s = n) {
        n = s->next;
        entry *e = lookup(&vars, s->name, false);
        if (e && e->flags > 0 && (e->flags & V_EXPORT))
            env_gen++;
        if (s->flags < 0) {
            remove_entry(&vars, s->name);
        } else {
            e = lookup(&vars, s->name, true);
            free(e->val);
            e->val = s->val;
            s->val = NULL;
            e->flags = s->flags;
            if (e->flags & V_EXPORT)
                env_gen++;
        }
        free(s->name);
        free(s->val);
        free(s);
    }
    free(f);
}

void var_make_local(const char *name)
{
    if (!frames)
        return;
    for (saved *s = frames->vars; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return;
    saved *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(name);
    entry *e = lookup(&vars, name, false);
    s->flags = e ? e->flags : -1;
    s->val = e && e->val ? xstrdup(e->val) : NULL;
    s->next = frames->vars;
    frames->vars = s;
}

/* ---- positional parameters -------------------------------------------------------------------- */
static posparams top_params;
posparams *pos = &top_params;

static void pos_clear(posparams *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

void pos_set(int n, char **v)
{
    char **nv = xmalloc((size_t)(n + 1) * sizeof *nv);
    for (int i = 0; i < n; i++)
        nv[i] = xstrdup(v[i]);
    nv[n] = NULL;
    pos_clear(pos);
    pos->v = nv;
    pos->n = n;
}

posparams *pos_push(int n, char **v)
{
    posparams *old = pos;
    pos = xcalloc(1, sizeof *pos);
    pos_set(n, v);
    return old;
}

void pos_pop(posparams *saved_pos)
{
    pos_clear(pos);
    free(pos);
    pos = saved_pos;
}

/* ---- functions -------------------------------------------------------------------------------- */
static table funcs;

node *func_get(const char *name)
{
    entry *e = lookup(&funcs, name, false);
    return e ? e->fn : NULL;
}

void func_set(const char *name, node *body)
{
    lookup(&funcs, name, true)->fn = body;
}

void func_unset(const char *name)
{
    remove_entry(&funcs, name);
}

/* ---- aliases ---------------------------------------------------------------------------------- */
static table aliases;

const char *sh_alias_get(const char *name)
{
    entry *e = aliases.n ? lookup(&aliases, name, false) : NULL;
    return e ? e->val : NULL;
}

void alias_set(const char *name, const char *val)
{
    entry *e = lookup(&aliases, name, true);
    free(e->val);
    e->val = xstrdup(val);
}

int alias_unset(const char *name)
{
    if (!lookup(&aliases, name, false))
        return -1;
    remove_entry(&aliases, name);
    return 0;
}

void alias_clear(void)
{
    if (!aliases.b)
        return;
    entry **v = sorted(&aliases);
    for (entry **p = v; *p; p++)
        remove_entry(&aliases, (*p)->name);
    free(v);
}

void alias_print(const char *name)
{
    if (name) {
        const char *v = sh_alias_get(name);
        if (v) {
            printf("%s=", name);
            print_quoted(v);
            putchar('\n');
        }
        return;
    }
    if (!aliases.b)
        return;
    entry **v = sorted(&aliases);
    for (entry **p = v; *p; p++) {
        printf("%s=", (*p)->name);
        print_quoted((*p)->val);
        putchar('\n');
    }
    free(v);
}

/* ---- names, for completion ------------------------------------------------------------------ */
static void names_of(table *t, strlist *out, bool vars_only)
{
    if (!t->b)
        return;
    entry **v = sorted(t);
    for (entry **p = v; *p; p++)
        if (!vars_only || (*p)->val)
            sl_push(out, xstrdup((*p)->name));
    free(v);
}

void sh_var_names(strlist *out)
{
    names_of(&vars, out, true);
}

void sh_func_names(strlist *out)
{
    names_of(&funcs, out, false);
}

void sh_alias_names(strlist *out)
{
    names_of(&aliases, out, false);
}
