/* addrdiag.h - why a spec does or does not reach an address: the report
 * `mcfast resolve SPEC` prints.  Internal (the CLI links the static
 * library); nothing in the library calls it.
 *
 * For a TCP spec it shows, in this order (the line formats are relied on
 * by tests/t_cli.sh and tests/t_netns.sh):
 *   spec TEXT: host H, port P
 *   getaddrinfo("H", AF_UNSPEC, SOCK_STREAM) with AI_ADDRCONFIG:
 *     ADDR (FAMILY) ...            or  EAI_NAME: message
 *   getaddrinfo("H", AF_UNSPEC, SOCK_STREAM) without AI_ADDRCONFIG:
 *     ...
 *   addresses on interfaces other than loopback (getifaddrs):
 *     IFACE IP (FAMILY, global|link-local: ...)
 *     => IPv4: yes (global)|no (link-local only)|no, IPv6: ...
 *     => mcfast keeps answers of: ...   (its family rule, loopback counted)
 *   mcfast will try, in this order (source: S):
 *     1. ADDR (FAMILY)             or  "mcfast will try nothing: MESSAGE"
 *   note: getaddrinfo with AI_ADDRCONFIG hides IP because ...; mcfast ...
 * For a unix path: "unix socket path: PATH (state)" and the list.
 *
 * The getaddrinfo lines are what glibc says (blocking, as long as glibc
 * takes); "mcfast will try" comes from the resolver mcfast connects with
 * (resolve.h), bounded by timeout_ms. */
#ifndef MCF_ADDRDIAG_H
#define MCF_ADDRDIAG_H

#include <stddef.h>
#include <stdio.h>

#include "spec.h"

/* Writes the report for spec to out.  Returns 0 when mcfast has addresses
 * to try, else the resolution error (MCF_ERR_RESOLVE, ...) with err set
 * ("resolve SPEC: why"); MCF_ERR_NOMEM with nothing written. */
int mcf_addr_diagnose(FILE *out, const mcf_spec *spec, int timeout_ms, char *err,
                      size_t errlen);

/* The same facts as one JSON object on one line (RFC 8259), same return.
 * TCP spec:
 *   {"spec":S,"host":H,"port":P,
 *    "getaddrinfo":{"addrconfig":G,"no_addrconfig":G},
 *    "interfaces":[{"name":I,"address":IP,"family":"IPv4"|"IPv6",
 *                   "scope":"global"|"link-local"}...],
 *    "families":{"ipv4":V,"ipv6":V},   V: "yes"|"link-local-only"|"no"
 *    "mcfast_keeps":["IPv4","IPv6"],   (mcf_host_families, loopback counted)
 *    "will_try":[A...],"source":S,
 *    "notes":[{"hidden":IP,"text":T}...]}
 *   G is {"addresses":[A...]} or {"error":"EAI_NONAME","message":M};
 *   A is {"address":"127.0.0.1:11211","family":"IPv4"} (the text's form).
 *   If getifaddrs fails: "interfaces":[] and "interfaces_error":M instead
 *   of families and mcfast_keeps.
 * Unix path: {"spec":S,"unix":PATH,"state":STATE,"will_try":[A],"source":S}.
 * When mcfast has nothing to try: "will_try":[] and "error":M for "source".
 * Bytes that are not UTF-8 (a spec, an interface name) come out as U+FFFD. */
int mcf_addr_diagnose_json(FILE *out, const mcf_spec *spec, int timeout_ms, char *err,
                           size_t errlen);

#endif
