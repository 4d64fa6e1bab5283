/* fuzz_spec.c - libFuzzer target for the server spec parser (src/spec.c).
 *
 * The input is the spec text itself.
 *   - mcf_spec_parse(p, len) on an exact-size heap copy with NO terminator:
 *     a read past len is an ASan heap-buffer-overflow.  Done twice: with a
 *     roomy error buffer and with a tiny exact-size one (errlen 0..7), which
 *     must stay NUL-terminated and never be overrun.
 *   - mcf_spec_parse_list() on a NUL-terminated copy; the array is freed.
 * Invariants (abort() on violation): results are 0 / MCF_ERR_BAD_SPEC
 * (/ MCF_ERR_NOMEM for lists); a success gives NUL-terminated strings inside
 * their arrays, a weight >= 1, a non-empty host or an absolute path; a
 * failure writes a message; a single spec without separators parses the
 * same through both functions.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcfast.h"
#include "spec.h"

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_spec: invariant failed at %s:%d: %s\n", __FILE__,       \
                    __LINE__, #cond);                                                     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static void check_spec(const mcf_spec *s)
{
    REQUIRE(memchr(s->text, 0, sizeof s->text));
    REQUIRE(memchr(s->host, 0, sizeof s->host));
    REQUIRE(memchr(s->path, 0, sizeof s->path));
    REQUIRE(s->weight >= 1);
    REQUIRE(s->text[0] != 0);
    if (s->is_unix) {
        REQUIRE(s->path[0] == '/');
    } else {
        REQUIRE(s->host[0] != 0);
        REQUIRE(s->port != 0);
        if (!s->port_written)
            REQUIRE(s->port == MCF_DEFAULT_PORT);
    }
    /* No control byte or blank survives into a name, path or message text. */
    for (const char *p = s->text; *p; p++)
        REQUIRE((unsigned char)*p > 0x20 && *p != 0x7f);
}

static int is_sep(uint8_t c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f' || c == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* No terminator: exact-size copy. */
    char *exact = malloc(size ? size : 1);
    REQUIRE(exact);
    if (size)
        memcpy(exact, data, size);

    mcf_spec one;
    char err[512];
    err[0] = 'X';
    int rc1 = mcf_spec_parse(exact, size, &one, err, sizeof err);
    REQUIRE(rc1 == 0 || rc1 == MCF_ERR_BAD_SPEC);
    if (rc1 == 0) {
        check_spec(&one);
    } else {
        REQUIRE(memchr(err, 0, sizeof err) && err[0] != 0 && err[0] != 'X');
        /* No half-filled spec on error (spec.c promises it). */
        REQUIRE(one.host[0] == 0 && one.path[0] == 0 && one.weight == 1);
    }

    /* A tiny, exact-size error buffer. */
    size_t errlen = size ? data[0] % 8 : 0;
    char *small = malloc(errlen ? errlen : 1);
    REQUIRE(small);
    small[0] = 'X';
    mcf_spec one2;
    int rc2 = mcf_spec_parse(exact, size, &one2, errlen ? small : NULL, errlen);
    REQUIRE(rc2 == rc1);
    if (rc2 && errlen)
        REQUIRE(memchr(small, 0, errlen));
    if (rc2 == 0)
        REQUIRE(memcmp(&one, &one2, sizeof one) == 0);
    free(small);

    /* The list parser on a NUL-terminated copy. */
    char *str = malloc(size + 1);
    REQUIRE(str);
    if (size)
        memcpy(str, data, size);
    str[size] = 0;
    mcf_spec *list = NULL;
    size_t n = 12345;
    err[0] = 'X';
    int rc3 = mcf_spec_parse_list(str, &list, &n, err, sizeof err);
    REQUIRE(rc3 == 0 || rc3 == MCF_ERR_BAD_SPEC || rc3 == MCF_ERR_NOMEM);
    if (rc3 == 0) {
        REQUIRE(list != NULL && n >= 1 && n <= size);
        for (size_t i = 0; i < n; i++)
            check_spec(&list[i]);
    } else {
        REQUIRE(list == NULL && n == 0);
        REQUIRE(memchr(err, 0, sizeof err) && err[0] != 0 && err[0] != 'X');
    }

    /* Differential: one spec without separators means the same either way. */
    int has_sep = 0;
    for (size_t i = 0; i < size; i++)
        has_sep |= is_sep(data[i]);
    if (size && !has_sep) {
        REQUIRE((rc1 == 0) == (rc3 == 0));
        if (rc1 == 0 && rc3 == 0) {
            REQUIRE(n == 1);
            REQUIRE(memcmp(&one, &list[0], sizeof one) == 0);
        }
    }
    free(list);
    free(str);
    free(exact);
    return 0;
}
