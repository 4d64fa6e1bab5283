/* version.c - the version of the library that is loaded (mcfast.h has the
 * header's).  The Makefile passes the file VERSION's three numbers as
 * MCF_BUILD_VERSION_*, so a header left behind by a version bump stops the
 * build here instead of shipping a library that misreports itself. */
#include "mcfast.h"

#if !defined(MCF_BUILD_VERSION_MAJOR) || !defined(MCF_BUILD_VERSION_MINOR) || \
    !defined(MCF_BUILD_VERSION_PATCH)
#error "build with the Makefile: it passes VERSION as -DMCF_BUILD_VERSION_{MAJOR,MINOR,PATCH}"
#endif
#if MCF_BUILD_VERSION_MAJOR != MCF_VERSION_MAJOR || MCF_BUILD_VERSION_MINOR != MCF_VERSION_MINOR || \
    MCF_BUILD_VERSION_PATCH != MCF_VERSION_PATCH
#error "include/mcfast.h's MCF_VERSION_* disagree with the file VERSION"
#endif

/* The string is built from the numbers, so it cannot drift from them. */
#define MCF_STR_(x) #x
#define MCF_STR(x) MCF_STR_(x)
#define MCF_BUILT_VERSION                                                                        \
    MCF_STR(MCF_BUILD_VERSION_MAJOR) "." MCF_STR(MCF_BUILD_VERSION_MINOR) "." MCF_STR(          \
        MCF_BUILD_VERSION_PATCH)

const char *mcf_lib_version(void) { return MCF_BUILT_VERSION; }

int mcf_lib_version_number(void) { return MCF_VERSION_NUMBER; }
