/*
 * test_tmpl.c — the Jinja engine (src/tmpl): rendering semantics that chat
 * templates rely on, the limits that make hostile templates safe (loops,
 * recursion, output size, nesting), error messages that name the line, and,
 * with ../shared, that every real template in templates/jinja parses and
 * renders typical conversations without crashing, fast.
 */
#include <dirent.h>
#include <time.h>

#include "harness.h"
#include "tmpl/tmpl.h"

/* Renders src with vars (JSON text or NULL); returns the output or NULL (err filled). */
static char *render(const char *src, const char *vars, const tmpl_limits *lim, jc_err *err)
{
    json_t *v = NULL;
    if (vars) {
        json_error_t je;
        v = json_loads(vars, 0, &je);
        if (!v) {
            fprintf(stderr, "bad vars: %s\n", je.text);
            return NULL;
        }
    }
    char *out = tmpl_render_src(src, strlen(src), v, lim, NULL, err);
    json_decref(v);
    return out;
}

#define EXPECT(src, vars, want)                                                  \
    do {                                                                         \
        jc_err _e = {0};                                                         \
        char *_o = render(src, vars, NULL, &_e);                                 \
        CHECKF(_o && !strcmp(_o, want), "%s -> %s (want %s)", src, _o ? _o : _e.msg, want); \
        free(_o);                                                                \
    } while (0)

#define EXPECT_ERR(src, vars, lim, needle)                                       \
    do {                                                                         \
        jc_err _e = {0};                                                         \
        char *_o = render(src, vars, lim, &_e);                                  \
        CHECKF(!_o && strstr(_e.msg, needle), "%.80s -> %.300s (want error with '%s')", src, _o ? _o : _e.msg, needle); \
        free(_o);                                                                \
    } while (0)

/* Proves: Python printing of values, integer/float arithmetic, string ops. */
TEST(values_and_printing)
{
    EXPECT("{{ 1.0 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 1 / 4 }} {{ 1e20 }} {{ 0.0001 }}", NULL,
           "1.0 3 -4 -2 1024 0.25 1e+20 0.0001");
    EXPECT("{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 1: [()]} }} {{ (1,) }}", NULL,
           "[1, 'a', None, True, 2.5] {'k': 'v', 1: [()]} (1,)");
    EXPECT("{{ \"it's\" }} {{ [\"it's\", 'a\\nb'] }}", NULL, "it's [\"it's\", 'a\\nb']");
    EXPECT("{{ 'ab' * 3 }}{{ [1] + [2] }}{{ 'x' ~ 1 ~ none }}", NULL, "ababab[1, 2]x1None");
    EXPECT("{{ 'héllo'|length }} {{ 'héllo'[1] }} {{ 'héllo'[::-1] }}", NULL, "5 é olléh");
    EXPECT("{{ [1, 2, 3][1::9223372036854775807] }}{{ [1, 2, 3][::-9223372036854775807] }}"
           "{{ range(-9223372036854775807, 9223372036854775807, 4611686018427387904)|length }}",
           NULL, "[2][3]4");
    EXPECT("{{ x.y is defined }} {{ x['z']|default('d') }} {{ u }}|{{ u|string }}", "{\"x\":{\"y\":1}}", "True d |");
}

/* Proves: case mapping beyond ASCII (checked against Python), and groupby with .grouper/.list. */
TEST(unicode_case_and_groupby)
{
    EXPECT("{{ 'été Ÿÿ čĆ Ωμέγα Привет ёў 中a'|upper }}|{{ 'ÉTÉ ΆΈ ПРИВЕТ'|lower }}|{{ 'élan über-alles'|title }}|"
           "{{ 'x中y'.title() }}|{{ 'été' is lower }}",
           NULL, "ÉTÉ ŸŸ ČĆ ΩΜΈΓΑ ПРИВЕТ ЁЎ 中A|été άέ привет|Élan Über-Alles|X中Y|True");
    EXPECT("{{ 'Straße'|upper }} {{ 'straße'.title() }} {{ 'ΟΔΟΣ'|capitalize }} {{ 'ÉcOLE'.swapcase() }} {{ 'x' % [] }}",
           NULL, "STRASSE Straße Οδος éCole x");
    /* strip works by code point: no half characters, Unicode spaces count as whitespace */
    EXPECT("[{{ 'èxé'.strip('é') }}][{{ '\\u00a0 x\\u3000'.strip() }}][{{ '«x»'|trim('«»') }}]", NULL, "[èx][x][x]");
    EXPECT("{% for g in l|groupby('r') %}{{ g.grouper }}={{ g.list|map(attribute='n')|join(',') }};{% endfor %}",
           "{\"l\":[{\"r\":\"u\",\"n\":1},{\"r\":\"a\",\"n\":2},{\"r\":\"u\",\"n\":3}]}", "a=2;u=1,3;");
}

/* Proves: trim_blocks/lstrip_blocks and the -/+ modifiers behave as in HF's environment. */
TEST(whitespace)
{
    EXPECT("  {% if true %}\n  a\n  {% endif %}\nb", NULL, "  a\nb");
    EXPECT("a  {%- if true -%}  b  {%- endif %}\n", NULL, "ab");
    EXPECT("  {%+ if true %}x{% endif %}", NULL, "  x");
    EXPECT("{% raw %}{{ not parsed }}{% endraw %}", NULL, "{{ not parsed }}");
    EXPECT("a {# c #}\nb\n", NULL, "a b");
}

/* Proves: loops, loop variables, break/continue, scoping and namespace. */
TEST(control_flow)
{
    EXPECT("{% for x in [1,2,3,4] if x is even %}{{ loop.index }}/{{ loop.length }}{{ x }} {% endfor %}", NULL,
           "1/22 2/24 ");
    EXPECT("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}"
           "{% endfor %}",
           NULL, "02");
    EXPECT("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}", NULL, "1");
    /* each iteration starts with a fresh scope: y set in iteration 1 is undefined in iteration 2 */
    EXPECT("{% for i in [1,2] %}{% if i == 2 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}", NULL, "[]");
    EXPECT("{% set ns = namespace(n=0) %}{% for i in [1,2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", NULL, "3");
    EXPECT("{% macro m(a, b='B') %}{{ a }}{{ b }}{{ caller() if caller is defined }}{% endmacro %}{{ m(1) }}"
           "{% call m(2, b='c') %}!{% endcall %}",
           NULL, "1B2c!");
    EXPECT("{% set t %}in{{ 1 }}{% endset %}{{ t|upper }}{% filter upper %}low{% endfilter %}", NULL, "IN1LOW");
    EXPECT("{% generation %}g{% endgeneration %}", NULL, "g");
}

/* Proves: tojson has Python json.dumps's spacing and does not escape non-ASCII or HTML characters. */
TEST(tojson)
{
    EXPECT("{{ d|tojson }}", "{\"d\":{\"a\":[1,2.5,\"é<&>\"],\"b\":null}}", "{\"a\": [1, 2.5, \"é<&>\"], \"b\": null}");
    EXPECT("{{ d|tojson(indent=2) }}", "{\"d\":{\"a\":[],\"b\":{}}}", "{\n  \"a\": [],\n  \"b\": {}\n}");
}

/* Proves: strftime_now honours SOURCE_DATE_EPOCH (UTC). */
TEST(strftime_now)
{
    setenv("SOURCE_DATE_EPOCH", "1725192000", 1);
    EXPECT("{{ strftime_now('%Y-%m-%d %H:%M') }}|{{ strftime_now('%d %b %Y') }}", NULL, "2024-09-01 12:00|01 Sep 2024");
    unsetenv("SOURCE_DATE_EPOCH");
}

/* Proves: errors carry the template line (and column for syntax errors), raise_exception its message. */
TEST(errors_name_the_line)
{
    EXPECT_ERR("a\nb\n{% if x %}\n", NULL, NULL, "line 3");
    EXPECT_ERR("line1\n{{ 1 + }}", NULL, NULL, "line 2:");
    EXPECT_ERR("\n\n{{ raise_exception('Only user and assistant roles') }}", NULL, NULL,
               "line 3: Only user and assistant roles");
    EXPECT_ERR("{{ x.y.z }}", "{}", NULL, "'x' is undefined");
    EXPECT_ERR("{{ 'a' + {} }}", NULL, NULL, "can only concatenate str");
    EXPECT_ERR("{% foo %}", NULL, NULL, "unknown tag 'foo'");
    EXPECT_ERR("{{ x|nosuchfilter }}", NULL, NULL, "no filter named 'nosuchfilter'");
    EXPECT_ERR("{{ 'unterminated }}", NULL, NULL, "unterminated string");
    /* found by fuzzing: a long float literal overflowed the lexer's number buffer */
    EXPECT_ERR("{{ 1.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000 }}",
               NULL, NULL, "number literal too long");
}

/* Proves: a range far over the iteration limit is refused at once, with a clear error. */
TEST(limit_huge_range)
{
    double t0 = jc_now();
    EXPECT_ERR("{% for i in range(100000000) %}x{% endfor %}", NULL, NULL, "exceeds the limit of 1000000 iterations");
    CHECKF(jc_now() - t0 < 1.0, "took %.3f s", jc_now() - t0);
}

/* Proves: nested loops are stopped by the step limit. */
TEST(limit_steps)
{
    tmpl_limits lim = {.max_steps = 20000};
    EXPECT_ERR("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", NULL, &lim,
               "loop iterations and calls");
    /* the default limit stops a nested loop of 10^9 iterations, quickly */
    double t0 = jc_now();
    EXPECT_ERR("{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", NULL, NULL,
               "loop iterations and calls");
    CHECKF(jc_now() - t0 < 10.0, "took %.3f s", jc_now() - t0);
}

/* Proves: a loop whose every step is slow is stopped by the time limit. */
TEST(limit_time)
{
    tmpl_limits lim = {.max_seconds = 0.2};
    double t0 = jc_now();
    EXPECT_ERR("{% set big = 'x' * 2000000 %}{% for i in range(100000) %}{{ big.count('y') }}{% endfor %}", NULL, &lim,
               "running for 0.2 s");
    CHECKF(jc_now() - t0 < 2.0, "took %.3f s", jc_now() - t0);
}

/* Proves: unbounded macro recursion is stopped by the depth limit. */
TEST(limit_recursion)
{
    EXPECT_ERR("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, NULL, "macro calls nested more than 100");
    tmpl_limits lim = {.max_depth = 10};
    EXPECT_ERR("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, &lim, "nested more than 10");
    /* a deeply nested expression is a syntax error, not a stack overflow */
    char *deep = malloc(20010);
    REQUIRE(deep);
    size_t o = 0;
    memcpy(deep, "{{ ", 3);
    o = 3;
    for (int i = 0; i < 10000; i++)
        deep[o++] = '(';
    deep[o++] = '1';
    for (int i = 0; i < 10000; i++)
        deep[o++] = ')';
    memcpy(deep + o, " }}", 4);
    EXPECT_ERR(deep, NULL, NULL, "nested more than");
    free(deep);
}

/* Proves: self-referencing structures end in a result or an error, never a stack overflow. */
TEST(self_reference)
{
    jc_err e = {0};
    const char *srcs[] = {
        "{% set l = [] %}{% set _ = l.append(l) %}{{ l == l }}{{ [l] < [l] }}",
        "{% set l = [] %}{% set _ = l.append(l) %}{{ l }}",
        "{% set l = [] %}{% set _ = l.append(l) %}{{ l|tojson }}",
        "{% set d = {} %}{% set _ = d.update({'d': d}) %}{{ d == d }}{{ d }}",
        "{% set l = [] %}{% set _ = l.append(l) %}{{ [l, l]|unique|list|length }}{{ [l, l]|sort }}",
    };
    for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
        e.msg[0] = 0;
        char *o = render(srcs[i], NULL, NULL, &e);
        CHECKF(o || e.msg[0], "%s: neither output nor error", srcs[i]);
        free(o);
    }
}

/* Proves: output past the limit is an error, both from loops and from one huge value. */
TEST(limit_output)
{
    tmpl_limits lim = {.max_output = 1000};
    EXPECT_ERR("{% for i in range(200) %}abcdefgh{% endfor %}", NULL, &lim, "exceeds the limit of 1000 bytes");
    EXPECT_ERR("{{ 'x' * 100000000 }}", NULL, NULL, "exceeds the output limit");
    EXPECT_ERR("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
               "{% endfor %}",
               NULL, NULL, "limit");
}

/* Proves: every real template parses, and renders a plain chat (or raises a template error) without crashing, fast. */
TEST(real_templates)
{
    const char *dir = test_shared();
    if (!dir)
        exit(77);
    char path[4300];
    snprintf(path, sizeof path, "%s/templates/jinja", dir);
    DIR *d = opendir(path);
    REQUIRE(d);
    json_t *vars = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:b, s:s, s:s}", "messages", "role",
                             "system", "content", "You are helpful.", "role", "user", "content", "Hi", "role",
                             "assistant", "content", "Hello!", "role", "user", "content", "What is 2+2?",
                             "add_generation_prompt", 1, "bos_token", "<s>", "eos_token", "</s>");
    struct dirent *e;
    int n = 0, rendered = 0;
    double worst = 0;
    const char *worst_name = "";
    static char names[128][256];
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strcmp(e->d_name + len - 6, ".jinja"))
            continue;
        char file[4600];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        REQUIRE(f);
        static char src[1 << 20];
        size_t sl = fread(src, 1, sizeof src - 1, f);
        fclose(f);
        src[sl] = 0;
        jc_err err = {0};
        tmpl *t = tmpl_parse(src, sl, &err);
        CHECKF(t != NULL, "%s: %s", e->d_name, err.msg);
        if (!t)
            continue;
        n++;
        double t0 = jc_now();
        int reps = 20;
        for (int r = 0; r < reps; r++) {
            char *out = tmpl_render(t, vars, NULL, NULL, &err);
            if (out && r == 0)
                rendered++;
            free(out);
        }
        double per = (jc_now() - t0) / reps;
        if (per > worst) {
            worst = per;
            snprintf(names[0], sizeof names[0], "%s", e->d_name);
            worst_name = names[0];
        }
        tmpl_free(t);
    }
    closedir(d);
    json_decref(vars);
    fprintf(stderr, "  %d templates parsed, %d rendered the chat; slowest render %.3f ms (%s)\n", n, rendered,
            worst * 1e3, worst_name);
    CHECK(n >= 60);
    CHECK(rendered >= 50);
}

TESTS(T(values_and_printing), T(unicode_case_and_groupby), T(whitespace), T(control_flow), T(tojson), T(strftime_now), T(errors_name_the_line),
      T(limit_huge_range), T(limit_steps), T(limit_time), T(self_reference), T(limit_recursion), T(limit_output), T(real_templates));
TEST_MAIN()
