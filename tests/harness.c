/* harness.c - the registry of TEST() cases and the runner (t_main); the
 * PASS/FAIL/SKIP protocol is described in harness.h. */
#include "harness.h"

/* More cases than any test program has; t_main fails loudly past it. */
#define T_MAX_CASES 256

typedef struct t_case {
    const char *name;
    void (*fn)(void);
    int line;
} t_case;

static t_case t_cases[T_MAX_CASES];
static int t_ncases;
static int t_overflow; /* registrations that did not fit */
static int t_failed_total;
static int t_case_skipped;
static const char *t_all_skipped; /* t_skip_all's reason */

const char *t_case_name = "setup";
int t_case_failed;

void t_register(const char *name, void (*fn)(void), int line)
{
    if (t_ncases == T_MAX_CASES) {
        t_overflow++;
        return;
    }
    /* Insertion by line keeps file order for any constructor order. */
    int i = t_ncases++;
    while (i > 0 && t_cases[i - 1].line > line) {
        t_cases[i] = t_cases[i - 1];
        i--;
    }
    t_cases[i] = (t_case){name, fn, line};
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (!t_case_failed)
        t_failed_total++;
    t_case_failed = 1;
    printf("FAIL: %s: %s:%d: ", t_case_name, file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void t_skip(const char *name, const char *why)
{
    printf("SKIP: %s: %s\n", name, why);
    fflush(stdout);
}

void t_skip_case(const char *why)
{
    t_case_skipped = 1;
    t_skip(t_case_name, why);
}

void t_skip_all(const char *why)
{
    t_all_skipped = why;
}

int t_exit_code(void)
{
    return t_failed_total ? 1 : 0;
}

static void t_run(const t_case *c)
{
    t_case_name = c->name;
    t_case_failed = 0;
    t_case_skipped = 0;
    if (t_all_skipped)
        t_skip_case(t_all_skipped);
    else
        c->fn();
    if (!t_case_failed && !t_case_skipped)
        printf("PASS: %s\n", c->name);
    fflush(stdout);
    t_case_name = "teardown";
}

static const t_case *t_find(const char *name)
{
    for (int i = 0; i < t_ncases; i++)
        if (strcmp(t_cases[i].name, name) == 0)
            return &t_cases[i];
    return NULL;
}

int t_main(int argc, char **argv)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : "test";
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    if (t_overflow) {
        printf("FAIL: %s: %d cases do not fit the harness's %d (raise T_MAX_CASES)\n", prog,
               t_overflow, T_MAX_CASES);
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < t_ncases; i++)
            printf("%s\n", t_cases[i].name);
        return 0;
    }
    if (argc < 2) {
        for (int i = 0; i < t_ncases; i++)
            t_run(&t_cases[i]);
        return t_exit_code();
    }
    for (int i = 1; i < argc; i++) {
        const t_case *c = t_find(argv[i]);
        if (c) {
            t_run(c);
        } else {
            printf("FAIL: %s: no such case in %s (%s --list names them)\n", argv[i], prog, prog);
            fflush(stdout);
            t_failed_total++;
        }
    }
    return t_exit_code();
}
