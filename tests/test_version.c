/* test_version.c - the version is the same everywhere it can be read:
 * the file VERSION (the one place it is set), mcfast.h's MCF_VERSION_*
 * macros, mcf_lib_version() of the static library this program links, and
 * mcf_lib_version() of the shared library, looked up with its symbol
 * version (dlvsym "MCFAST_0.1").  tests/t_version.sh checks the Perl module,
 * mcfast.pc and debian/changelog. */
/* dlvsym needs _GNU_SOURCE, which the Makefile defines for every test. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mcfast.h"

/* MCF_VERSION_NUMBER's documented weights. */
#define NUM_MAJOR 10000
#define NUM_MINOR 100
#define VERSION_TEXT_MAX 64

/* The first line of the file VERSION (run from the top of the tree, as
 * tests/run.sh does), without its newline; "" when unreadable. */
static void read_version_file(char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen("VERSION", "r");
    if (!f)
        return;
    if (!fgets(buf, (int)cap, f))
        buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = 0;
}

TEST(version_macros_agree)
{
    char want[VERSION_TEXT_MAX];
    snprintf(want, sizeof want, "%d.%d.%d", MCF_VERSION_MAJOR, MCF_VERSION_MINOR, MCF_VERSION_PATCH);
    CHECKF(strcmp(MCF_VERSION_STRING, want) == 0, "MCF_VERSION_STRING %s, numbers say %s",
           MCF_VERSION_STRING, want);
    CHECK(MCF_VERSION_NUMBER ==
          MCF_VERSION_MAJOR * NUM_MAJOR + MCF_VERSION_MINOR * NUM_MINOR + MCF_VERSION_PATCH);
}

TEST(version_file_matches_header)
{
    char file[VERSION_TEXT_MAX];
    read_version_file(file, sizeof file);
    CHECKF(file[0], "cannot read ./VERSION (run from the top of the tree)");
    CHECKF(strcmp(file, MCF_VERSION_STRING) == 0, "VERSION says '%s', mcfast.h '%s'", file,
           MCF_VERSION_STRING);
}

TEST(version_runtime_static)
{
    CHECKF(strcmp(mcf_lib_version(), MCF_VERSION_STRING) == 0, "mcf_lib_version() '%s', header '%s'",
           mcf_lib_version(), MCF_VERSION_STRING);
    CHECKF(mcf_lib_version_number() == MCF_VERSION_NUMBER, "mcf_lib_version_number() %d, header %d",
           mcf_lib_version_number(), MCF_VERSION_NUMBER);
    /* Static: the same pointer every time, nothing to free. */
    CHECK(mcf_lib_version() == mcf_lib_version());
}

TEST(version_runtime_shared)
{
    const char *dir = getenv("MCF_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/libmcfast.so.0", dir && *dir ? dir : "build");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECKF(h, "dlopen %s: %s", path, dlerror());
    if (!h)
        return;
    const char *(*ver)(void);
    int (*num)(void);
    /* By name and version, as a program linked against it binds them. */
    *(void **)&ver = dlvsym(h, "mcf_lib_version", "MCFAST_0.1");
    *(void **)&num = dlvsym(h, "mcf_lib_version_number", "MCFAST_0.1");
    CHECKF(ver && num, "mcf_lib_version@MCFAST_0.1 not in %s", path);
    if (ver && num) {
        CHECKF(strcmp(ver(), MCF_VERSION_STRING) == 0, "%s says '%s', header '%s'", path, ver(),
               MCF_VERSION_STRING);
        CHECK(num() == MCF_VERSION_NUMBER);
    }
    dlclose(h);
}

int main(int argc, char **argv) { return t_main(argc, argv); }
