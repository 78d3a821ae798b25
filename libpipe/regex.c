/* Regular expressions: PCRE2 (8-bit), JIT-compiled, with the match buffers kept in the object so
 * a search allocates nothing.  UTF mode uses PCRE2_MATCH_INVALID_UTF: a subject with bytes that
 * are not UTF-8 (binary input) is searched, those bytes simply match no character. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "internal.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lp_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    bool jit;
    size_t ngroups;
    char **names; /* names[i] of group i (1-based), NULL when unnamed */
};

void lp_regex_free(lp_regex *re)
{
    if (!re)
        return;
    if (re->names)
        for (size_t i = 0; i <= re->ngroups; i++)
            free(re->names[i]);
    free(re->names);
    pcre2_match_data_free(re->md);
    pcre2_match_context_free(re->mctx);
    pcre2_jit_stack_free(re->jstack);
    pcre2_code_free(re->code);
    free(re);
}

static int load_names(lp_regex *re)
{
    uint32_t count = 0, entry = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0)
        return 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    re->names = calloc(re->ngroups + 1, sizeof *re->names);
    if (!re->names)
        return -ENOMEM;
    for (uint32_t k = 0; k < count; k++) {
        PCRE2_SPTR e = table + (size_t)k * entry;
        size_t g = ((size_t)e[0] << 8) | e[1];
        if (g <= re->ngroups && !re->names[g] && !(re->names[g] = strdup((const char *)e + 2)))
            return -ENOMEM;
    }
    return 0;
}

int lp_regex_new(lp_regex **out, const char *pattern, unsigned flags, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!pattern)
        return -EINVAL;
    uint32_t opts = 0;
    if (flags & LP_RE_CASELESS)
        opts |= PCRE2_CASELESS;
    if (flags & LP_RE_UTF)
        opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    if (flags & LP_RE_MULTILINE)
        opts |= PCRE2_MULTILINE;
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!c) {
        if (err && errlen) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
        }
        return code == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -EINVAL;
    }
    lp_regex *re = calloc(1, sizeof *re);
    if (!re) {
        pcre2_code_free(c);
        return -ENOMEM;
    }
    re->code = c;
    uint32_t cap = 0;
    pcre2_pattern_info(c, PCRE2_INFO_CAPTURECOUNT, &cap);
    re->ngroups = cap;
    re->jit = pcre2_jit_compile(c, PCRE2_JIT_COMPLETE | ((flags & LP_RE_UTF) ? PCRE2_JIT_INVALID_UTF : 0)) == 0;
    re->md = pcre2_match_data_create_from_pattern(c, NULL);
    int r = re->md ? load_names(re) : -ENOMEM;
    if (r == 0 && re->jit) { /* a larger JIT stack than the 32 KiB default: deep patterns work */
        re->mctx = pcre2_match_context_create(NULL);
        re->jstack = pcre2_jit_stack_create(32 << 10, 1 << 20, NULL);
        if (!re->mctx || !re->jstack)
            r = -ENOMEM;
        else
            pcre2_jit_stack_assign(re->mctx, NULL, re->jstack);
    }
    if (r < 0) {
        lp_regex_free(re);
        return r;
    }
    *out = re;
    return 0;
}

int lp_regex_match(lp_regex *re, const char *subject, size_t len, size_t from, lp_regmatch *m, size_t nm)
{
    if (from > len)
        return 0;
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)subject, len, from, 0, re->md, re->mctx)
                     : pcre2_match(re->code, (PCRE2_SPTR)subject, len, from, 0, re->md, re->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return -ENOMEM;
    if (rc < 0)
        return 0; /* match limits: treated as no match, as grep -P reports and goes on */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    uint32_t npairs = pcre2_get_ovector_count(re->md);
    for (size_t i = 0; i < nm; i++) {
        if (i < npairs && i <= re->ngroups && ov[2 * i] != PCRE2_UNSET) {
            m[i].start = ov[2 * i];
            m[i].end = ov[2 * i + 1];
        } else {
            m[i].start = m[i].end = SIZE_MAX;
        }
    }
    return 1;
}

size_t lp_regex_groups(const lp_regex *re)
{
    return re->ngroups;
}

const char *lp_regex_group_name(const lp_regex *re, size_t i)
{
    return re->names && i >= 1 && i <= re->ngroups ? re->names[i] : NULL;
}
