/* cli_help.c - `mcfast --help` and the per-command usage line. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_print_command_usage(const struct command *cmd)
{
    char opts[256];
    cli_format_copts(opts, sizeof opts, cmd->copts);
    fprintf(stderr, "mcfast: usage: mcfast [OPTIONS] %s%s%s %s\nTry 'mcfast --help'.\n",
            cmd->name, *opts ? " " : "", opts, cmd->args);
}

/* The column of command names and arguments in --help. */
#define HEAD_WIDTH 22

static void print_help_command_options(void)
{
    printf("\nCommand options (after the command name, before its arguments; \"--\" ends\n"
           "them, for a KEY that starts with \"--\").  They use memcached's meta commands\n"
           "(memcached >= 1.6.10): with any of them --protocol defaults to auto, and a\n"
           "server without meta commands, or --protocol text, gives exit 2.\n"
           "  get|gets [--info] [--no-bump] [--touch TTL] [--vivify TTL] [--recache TTL] KEY...\n"
           "    --info          after each value, one line:\n"
           "                    info KEY ttl=T last_access=S hit_before=0|1 win=0|1 stale=0|1\n"
           "                    won=0|1 cas=N\n"
           "                    ttl: seconds left (-1: never expires); last_access: seconds\n"
           "                    since the item was last read; hit_before: it was read before;\n"
           "                    win: this caller should recompute and store the value;\n"
           "                    stale: the value is invalidated but usable; won: another\n"
           "                    caller is recomputing it\n"
           "    --no-bump       no LRU bump, no access time or hit_before update\n"
           "    --touch TTL     also set the item's TTL\n"
           "    --vivify TTL    on a miss create an empty item with this TTL (exit 0): its\n"
           "                    creator gets win=1, later callers won=1\n"
           "    --recache TTL   win=1 for one caller once the TTL left is below TTL (later\n"
           "                    callers get won=1 until the value is stored again)\n"
           "    With several KEYs: one request per key; output as without options.\n");
    printf("  set|add|replace|append|prepend [--new-cas N] KEY VALUE\n"
           "  cas [--invalidate] [--new-cas N] KEY CAS VALUE\n"
           "    --new-cas N     give the stored item CAS N (memcached >= 1.6.27)\n"
           "    --invalidate    a CAS older than the item's still stores VALUE, marked stale\n"
           "                    (exit 0; readers get stale=1, the first of them win=1)\n"
           "  delete [--invalidate] [--touch TTL] [--cas N] [--remove-value] [--new-cas N] KEY...\n"
           "    --invalidate    mark the item stale (and give it a new CAS) instead of\n"
           "                    removing it: readers keep its value with stale=1, the first\n"
           "                    of them gets win=1\n"
           "    --touch TTL     with --invalidate: also set the item's TTL\n"
           "    --cas N         only if the item's CAS is N, else exit 1 (one KEY)\n"
           "    --remove-value  empty the value but keep the item (memcached >= 1.6.27)\n"
           "    --new-cas N     give the item CAS N (memcached >= 1.6.27)\n"
           "  incr|decr [--info] [--touch TTL] [--vivify TTL] [--initial N] [--cas N] KEY N\n"
           "    --info          after the value, one line: info KEY ttl=T cas=N\n"
           "    --touch TTL     also set the item's TTL\n"
           "    --vivify TTL    on a miss create the item with value --initial N (default\n"
           "                    0) and this TTL, and print that value (N is not applied)\n"
           "    --cas N         only if the item's CAS is N, else exit 1\n");
    printf("\nStale-while-revalidate in a shell script (a win exits 0; the info line is\n"
           "always the last line):\n"
           "  out=$(mcfast get --info --vivify 30 --recache 30 KEY) || exit\n"
           "  info=\" ${out##*$'\\n'} \" value=${out%%$'\\n'*}\n"
           "  case $info in\n"
           "  *\" win=1 \"*) value=$(compute) && mcfast --ttl 300 set KEY \"$value\" ;;\n"
           "  *\" won=1 \"*) [ -n \"$value\" ] || { sleep 0.1; retry; } ;; # being computed\n"
           "  esac  # then use $value (stale=1: old but usable)\n");
}

void cli_print_help(void)
{
    printf("usage: mcfast [OPTIONS] COMMAND [COMMAND-OPTIONS] [ARGS]\n\n"
           "Options (before the command; --opt=VALUE or --opt VALUE):\n"
           "  --servers LIST          servers, separated by commas or spaces:\n"
           "                          host[:port], 1.2.3.4:port, [v6]:port, ::1,\n"
           "                          /path.sock, unix:/path; optional :weight last;\n"
           "                          tls:host:port, tls:[v6]:port for TLS to that server.\n"
           "                          Default: $MEMCACHED_SERVERS\n"
           "  --discover HOST:PORT    the servers from an ElastiCache configuration\n"
           "                          endpoint (config get cluster), instead of --servers\n"
           "  --connect-timeout MS    whole connect, all addresses (default 1000)\n"
           "  --attempt-delay MS      Happy Eyeballs delay between addresses (default 250)\n"
           "  --io-timeout MS         deadline per command (default 1000)\n"
           "  --ttl SECONDS           expiry for storage commands (default 0: never)\n"
           "  --flags N               32-bit flags for storage commands (default 0);\n"
           "                          bit 0x2 is reserved: it marks zlib-compressed values\n"
           "  --namespace NS          prefix added to every key\n"
           "  --distribution NAME     which server a key goes to, as another client does:\n"
           "                          modula (Cache::Memcached, default),\n"
           "                          ketama (Cache::Memcached::Fast ketama_points),\n"
           "                          libmemcached (pylibmc, php-memcached default),\n"
           "                          ketama-libmemcached (libmemcached KETAMA_WEIGHTED,\n"
           "                          php-memcached LIBKETAMA_COMPATIBLE),\n"
           "                          ketama-libmemcached-unweighted (pylibmc ketama),\n"
           "                          pymemcache (HashClient), nutcracker (twemproxy\n"
           "                          ketama), nutcracker-modula; see README.md\n"
           "  --hash NAME             the key hash for libmemcached and nutcracker modes:\n"
           "                          one_at_a_time, md5, crc, fnv1_64, fnv1a_64, fnv1_32,\n"
           "                          fnv1a_32, hsieh, murmur, jenkins, crc32a, murmur3\n"
           "  --ketama-points N       points per server for ketama (default 150)\n"
           "  --protocol NAME         text (default; auto with command options), meta\n"
           "                          (memcached >= 1.6 meta commands; keys may then hold\n"
           "                          any bytes), or auto (meta where the server has it)\n"
           "  --noreply               do not wait for replies (results are not known:\n"
           "                          exit 0, incr/decr print nothing); not with command\n"
           "                          options\n"
           "  --tls                   TLS to every TCP server (not only tls: ones)\n"
           "  --tls-ca FILE           verify servers against these CAs (PEM; default:\n"
           "                          the system's trust store)\n"
           "  --tls-capath DIR        ... or the hashed CA certificates in DIR\n"
           "  --tls-cert FILE         client certificate (PEM), for mutual TLS\n"
           "  --tls-key FILE          its private key (default: in --tls-cert)\n"
           "  --tls-server-name NAME  the name to send and verify instead of each host\n"
           "  --tls-insecure          do not verify certificates (testing only)\n"
           "  --max-value-size BYTES  largest value stored or accepted (default 1048576,\n"
           "                          memcached's default item size; match memcached -I)\n"
           "  --raw                   get of one KEY: exactly the value bytes, no newline\n"
           "  --json                  one JSON object per line (see \"JSON output\")\n"
           "  -q, --quiet             no message for a miss or another negative answer\n"
           "                          (the exit status still says it); errors still print\n"
           "  -v, --verbose           get: print each hit as \"VALUE KEY FLAGS BYTES [CAS]\"\n"
           "                          then the value bytes and a newline (CAS for\n"
           "                          gets/gats)\n"
           "  -h, --help              this help\n"
           "      --version           print the version\n\n"
           "Commands:\n");
    for (size_t i = 0; i < cli_n_commands; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", cli_commands[i].name, cli_commands[i].args);
        /* A head wider than its column gets a line of its own. */
        if (strlen(head) > HEAD_WIDTH)
            printf("  %s\n  %-*s  %s\n", head, HEAD_WIDTH, "", cli_commands[i].help);
        else
            printf("  %-*s  %s\n", HEAD_WIDTH, head, cli_commands[i].help);
    }
    print_help_command_options();
    printf("\nVALUE '-' reads the value from standard input (binary-safe).\n"
           "get output: one key prints exactly the value bytes and a newline; several\n"
           "keys print \"KEY VALUE\" lines in request order, misses omitted (values\n"
           "with newlines are ambiguous there: use -v, which gives byte counts).\n"
           "--info adds its line after each value.\n\n"
           "JSON output (--json; one object per line; keys and values that are not\n"
           "UTF-8 come as \"key_base64\"/\"value_base64\"; STATUS is ok, miss,\n"
           "not_stored, exists, not_found or error, with \"error\":MESSAGE):\n"
           "  get/gets/gat/gats  {\"key\":K,\"status\":\"ok\",\"value\":V,\"flags\":F[,\"cas\":C]\n"
           "                     [,\"info\":{\"ttl\":T,\"last_access\":S,\"hit_before\":B,\n"
           "                     \"win\":B,\"stale\":B,\"won\":B}]},\n"
           "                     else {\"key\":K,\"status\":STATUS}\n"
           "  set...cas, cp, delete, touch, exists  {\"key\":K,\"status\":STATUS}\n"
           "  incr/decr          {\"key\":K,\"status\":\"ok\",\"value\":N[,\"ttl\":T,\"cas\":C]}\n"
           "  flush              {\"status\":STATUS}\n"
           "  version            {\"server\":SPEC,\"version\":V}\n"
           "  stats              {\"server\":SPEC,\"stats\":{NAME:VALUE,...}[,\"error\":M]}\n"
           "  ping               {\"server\":SPEC,\"address\":A,\"family\":F,\"connect_ms\":MS,\n"
           "                     \"version\":V[,\"tls\":T,\"cipher\":C,\"resumed\":B]}\n"
           "  dump               {\"key\":K,\"exp\":E,\"size\":S,\"server\":SPEC}\n"
           "  server-for         {\"key\":K,\"server\":SPEC}\n"
           "  strerror           {\"code\":N,\"name\":NAME,\"kind\":K,\"message\":M}\n"
           "  ring               {\"distribution\":D[,\"hash\":H],\"servers\":N,\"sample_keys\":N},\n"
           "                     then {\"list\":\"before\"|\"after\",\"server\":SPEC,\"weight\":W,\n"
           "                     \"keys\":N,\"share\":PCT[,\"ring_share\":PCT]} per server, and with\n"
           "                     --add/--remove {\"moved\":N,\"sample_keys\":N,\"moved_share\":PCT,\n"
           "                     \"ideal_share\":PCT}\n"
           "  resolve            {\"spec\":S,\"host\":H,\"port\":P,\"getaddrinfo\":{\"addrconfig\":G,\n"
           "                     \"no_addrconfig\":G},\"interfaces\":[{\"name\":I,\"address\":IP,\n"
           "                     \"family\":F,\"scope\":S}],\"families\":{\"ipv4\":V,\"ipv6\":V},\n"
           "                     \"mcfast_keeps\":[F],\"will_try\":[A],\"source\":S,\"notes\":[N]},\n"
           "                     G {\"addresses\":[A]} or {\"error\":EAI,\"message\":M},\n"
           "                     A {\"address\":ADDR,\"family\":F}; unix: {\"spec\":S,\"unix\":PATH,\n"
           "                     \"state\":ST,\"will_try\":[A],\"source\":S}; nothing to try:\n"
           "                     \"will_try\":[],\"error\":M (exit 2)\n"
           "Errors go to stderr as text in every mode.\n\n"
           "exists asks \"mg KEY\" (memcached >= 1.6 meta commands): no value is read and\n"
           "nothing changes; --protocol defaults to auto for it, text gives exit 2.\n"
           "dump needs lru_crawler metadump hash (memcached >= 1.6.9, not -X); EXP is -1\n"
           "(never) or a Unix time; SIZE is memcached's item size (key, value, header).\n\n"
           "Environment:\n"
           "  MEMCACHED_SERVERS       server list when --servers is not given\n"
           "                          (the variable libmemcached's tools read)\n\n"
           "Exit status:\n"
           "  0   success\n"
           "  1   negative answer: miss (for several keys: any miss), NOT_STORED,\n"
           "      EXISTS, NOT_FOUND\n"
           "  2   error (connection, timeout, server error...); message on stderr\n"
           "  64  usage error (bad option or argument, malformed server list)\n");
}
