/* Regular expressions (lp_regex_*): compile errors with their offsets, captures and unset
 * groups, group names, searching from an offset with lookbehind, UTF-8 on and off, subjects
 * that are not UTF-8, caseless and multiline matching. */
#include "testutil.h"

#include <stdint.h>

static lp_regex *compile(const char *pat, unsigned flags)
{
    lp_regex *re = NULL;
    char err[128];
    int r = lp_regex_new(&re, pat, flags, err, sizeof err);
    cr_assert_eq(r, 0, "%s: %s", pat, err);
    cr_assert_not_null(re);
    return re;
}

static int search(lp_regex *re, const char *s, size_t from, lp_regmatch *m, size_t nm)
{
    return lp_regex_match(re, s, strlen(s), from, m, nm);
}

Test(regex, compile_error_has_message_and_offset)
{
    lp_regex *re = (lp_regex *)1;
    char err[128];
    cr_assert_eq(lp_regex_new(&re, "a(b", 0, err, sizeof err), -EINVAL);
    cr_assert_null(re);
    cr_assert_str_eq(err, "missing closing parenthesis at offset 3");
    cr_assert_eq(lp_regex_new(&re, "ab[z-a]", 0, err, sizeof err), -EINVAL);
    cr_assert_str_eq(err, "range out of order in character class at offset 5");
    cr_assert_eq(lp_regex_new(&re, "\\x{65e5}", 0, NULL, 0), -EINVAL); /* bytes: too large */
    cr_assert_eq(lp_regex_new(&re, NULL, 0, err, sizeof err), -EINVAL);
}

Test(regex, captures_and_unset_groups)
{
    lp_regex *re = compile("^v(\\d+)\\.(\\d+)(-(\\w+))?(x)?", 0);
    cr_assert_eq(lp_regex_groups(re), 5);
    lp_regmatch m[7];
    cr_assert_eq(search(re, "v12.3-rc1 tail", 0, m, 7), 1);
    cr_assert_eq(m[0].start, 0);
    cr_assert_eq(m[0].end, 9);
    cr_assert_eq(m[1].start, 1);
    cr_assert_eq(m[1].end, 3);
    cr_assert_eq(m[2].start, 4);
    cr_assert_eq(m[4].start, 6);
    cr_assert_eq(m[4].end, 9);
    cr_assert_eq(m[5].start, SIZE_MAX); /* did not take part */
    cr_assert_eq(m[5].end, SIZE_MAX);
    cr_assert_eq(m[6].start, SIZE_MAX); /* past the groups */
    cr_assert_eq(search(re, "v12.", 0, m, 7), 0);
    cr_assert_eq(search(re, "x v1.2", 0, m, 1), 0);
    lp_regex_free(re);
    lp_regex_free(NULL);
}

Test(regex, group_names)
{
    lp_regex *re = compile("(?<major>\\d+)\\.(\\d+)\\.(?<patch>\\d+)", 0);
    cr_assert_eq(lp_regex_groups(re), 3);
    cr_assert_str_eq(lp_regex_group_name(re, 1), "major");
    cr_assert_null(lp_regex_group_name(re, 2));
    cr_assert_str_eq(lp_regex_group_name(re, 3), "patch");
    cr_assert_null(lp_regex_group_name(re, 0));
    cr_assert_null(lp_regex_group_name(re, 4));
    lp_regex_free(re);
    re = compile("a(b)", 0);
    cr_assert_null(lp_regex_group_name(re, 1));
    lp_regex_free(re);
}

Test(regex, from_offset_sees_lookbehind)
{
    lp_regex *re = compile("(?<=b)c|b", 0);
    lp_regmatch m;
    cr_assert_eq(search(re, "abcbc", 2, &m, 1), 1);
    cr_assert_eq(m.start, 2); /* the b before the offset counts */
    cr_assert_eq(m.end, 3);
    cr_assert_eq(search(re, "abcbc", 5, &m, 1), 0);
    cr_assert_eq(search(re, "abcbc", 6, &m, 1), 0); /* past the end: no match */
    lp_regex_free(re);
    re = compile("\\bbar", 0);
    cr_assert_eq(search(re, "foobar", 3, &m, 1), 0); /* \b sees the o before the offset */
    cr_assert_eq(search(re, "foo bar", 3, &m, 1), 1);
    cr_assert_eq(m.start, 4);
    lp_regex_free(re);
}

Test(regex, utf_on_and_off)
{
    const char *s = "Straße";
    lp_regmatch m;
    lp_regex *re = compile("^.{6}$", LP_RE_UTF);
    cr_assert_eq(search(re, s, 0, &m, 1), 1); /* 6 characters */
    lp_regex_free(re);
    re = compile("^.{6}$", 0);
    cr_assert_eq(search(re, s, 0, &m, 1), 0); /* 7 bytes */
    lp_regex_free(re);
    re = compile("^\\w+$", LP_RE_UTF);
    cr_assert_eq(search(re, s, 0, &m, 1), 1); /* ß is a word character */
    lp_regex_free(re);
    re = compile("^\\w+$", 0);
    cr_assert_eq(search(re, s, 0, &m, 1), 0);
    lp_regex_free(re);
    re = compile("\\x{65e5}", LP_RE_UTF);
    cr_assert_eq(search(re, "x\xe6\x97\xa5", 0, &m, 1), 1);
    cr_assert_eq(m.start, 1);
    cr_assert_eq(m.end, 4);
    lp_regex_free(re);
}

Test(regex, invalid_utf8_subject_is_searched)
{
    lp_regex *re = compile("foo|é", LP_RE_UTF);
    static const char s[] = "\xff\xfe\0foo \xc3 \xc3\xa9";
    lp_regmatch m;
    cr_assert_eq(lp_regex_match(re, s, sizeof s - 1, 0, &m, 1), 1);
    cr_assert_eq(m.start, 3);
    cr_assert_eq(lp_regex_match(re, s, sizeof s - 1, 6, &m, 1), 1);
    cr_assert_eq(m.start, 9); /* the lone \xc3 is no é */
    cr_assert_eq(m.end, 11);
    lp_regex_free(re);
    re = compile(".", LP_RE_UTF);
    cr_assert_eq(lp_regex_match(re, "\xff\x80", 2, 0, &m, 1), 0); /* no character at all */
    lp_regex_free(re);
}

Test(regex, caseless)
{
    lp_regmatch m;
    lp_regex *re = compile("école", LP_RE_CASELESS | LP_RE_UTF);
    cr_assert_eq(search(re, "L'ÉCOLE", 0, &m, 1), 1);
    cr_assert_eq(m.start, 2);
    lp_regex_free(re);
    re = compile("école", LP_RE_CASELESS); /* bytes: ASCII folding only */
    cr_assert_eq(search(re, "L'ÉCOLE", 0, &m, 1), 0);
    cr_assert_eq(search(re, "l'éCOLE", 0, &m, 1), 1);
    lp_regex_free(re);
    re = compile("abc", 0);
    cr_assert_eq(search(re, "ABC", 0, &m, 1), 0);
    lp_regex_free(re);
}

Test(regex, multiline)
{
    lp_regmatch m;
    lp_regex *re = compile("^b+$", LP_RE_MULTILINE);
    cr_assert_eq(search(re, "a\nbb\nc", 0, &m, 1), 1);
    cr_assert_eq(m.start, 2);
    cr_assert_eq(m.end, 4);
    lp_regex_free(re);
    re = compile("^b+$", 0);
    cr_assert_eq(search(re, "a\nbb\nc", 0, &m, 1), 0);
    lp_regex_free(re);
}
