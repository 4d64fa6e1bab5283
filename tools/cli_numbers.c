/* cli_numbers.c - the CLI's number arguments: whole-string decimal parses,
 * shared by the global options, the command options and the commands. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli.h"

/* Whole-string decimal parse; strtoll alone accepts "12abc" and "". */
int cli_parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* strtoull silently negates "-1"; require a leading digit. */
int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}
