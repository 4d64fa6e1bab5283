/* test_codec.c - the pure text-protocol codec: reply parsing in every
 * chunking, request encoding, key checks. */
#include <string.h>

#include "codec.h"
#include "harness.h"
#include "mcfast.h"

static ssize_t parse(const char *s, mcf_reply *r)
{
    return mcf_parse_reply(s, strlen(s), 1 << 20, r);
}

TEST(value_without_cas)
{
    mcf_reply r;
    const char *s = "VALUE foo 42 5\r\nhello\r\nEND\r\n";
    ssize_t n = parse(s, &r);
    CHECK(n == 23);
    CHECK(r.type == MCF_R_VALUE);
    CHECK(r.key_len == 3 && memcmp(r.key, "foo", 3) == 0);
    CHECK(r.flags == 42 && r.cas == 0);
    CHECK(r.data_len == 5 && memcmp(r.data, "hello", 5) == 0);
    CHECK(parse(s + n, &r) == 5 && r.type == MCF_R_END);
}

TEST(value_with_cas_and_binary_data)
{
    mcf_reply r;
    const char s[] = "VALUE k 4294967295 4 18446744073709551615\r\na\r\n\0\r\n";
    ssize_t n = mcf_parse_reply(s, sizeof s - 1, 100, &r);
    CHECK(n == (ssize_t)(sizeof s - 1));
    CHECK(r.flags == 4294967295u);
    CHECK(r.cas == UINT64_MAX);
    CHECK(r.data_len == 4 && memcmp(r.data, "a\r\n\0", 4) == 0);
}

TEST(incomplete_input_in_every_chunking)
{
    const char *s = "VALUE foo 1 10 7\r\n0123456789\r\n";
    size_t len = strlen(s);
    for (size_t cut = 0; cut < len; cut++) {
        mcf_reply r;
        ssize_t n = mcf_parse_reply(s, cut, 100, &r);
        CHECKF(n == 0, "cut %zu gave %zd", cut, n);
        /* Once the header is complete the parser says how much it needs. */
        if (cut >= 18)
            CHECKF(r.need == len, "cut %zu need %zu", cut, r.need);
    }
    mcf_reply r;
    CHECK(mcf_parse_reply(s, len, 100, &r) == (ssize_t)len && r.cas == 7);
}

TEST(simple_replies)
{
    static const struct {
        const char *line;
        mcf_reply_type type;
    } cases[] = {
        {"STORED\r\n", MCF_R_STORED},       {"NOT_STORED\r\n", MCF_R_NOT_STORED},
        {"EXISTS\r\n", MCF_R_EXISTS},       {"NOT_FOUND\r\n", MCF_R_NOT_FOUND},
        {"DELETED\r\n", MCF_R_DELETED},     {"TOUCHED\r\n", MCF_R_TOUCHED},
        {"OK\r\n", MCF_R_OK},               {"END\r\n", MCF_R_END},
        {"ERROR\r\n", MCF_R_ERROR},         {"VERSION 1.6.18\r\n", MCF_R_VERSION},
        {"CLIENT_ERROR bad\r\n", MCF_R_CLIENT_ERROR},
        {"SERVER_ERROR out of memory\r\n", MCF_R_SERVER_ERROR},
        {"STAT pid 123\r\n", MCF_R_STAT},   {"18446744073709551615\r\n", MCF_R_NUMBER},
        {"9   \r\n", MCF_R_NUMBER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcf_reply r;
        ssize_t n = parse(cases[i].line, &r);
        CHECKF(n == (ssize_t)strlen(cases[i].line) && r.type == cases[i].type, "%s", cases[i].line);
    }
    mcf_reply r;
    parse("VERSION 1.6.18\r\n", &r);
    CHECK(r.data_len == 6 && memcmp(r.data, "1.6.18", 6) == 0);
    parse("STAT pid 123\r\n", &r);
    CHECK(r.key_len == 3 && r.data_len == 3 && memcmp(r.data, "123", 3) == 0);
    parse("SERVER_ERROR out of memory\r\n", &r);
    CHECK(r.data_len == 13 && memcmp(r.data, "out of memory", 13) == 0);
    parse("9   \r\n", &r);
    CHECK(r.number == 9);
}

/* The lru_crawler and cachedump lines server-level calls see. */
TEST(crawler_replies)
{
    mcf_reply r;
    /* metadump lines end with a bare LF (memcached 1.6); a CR before it
     * is not part of the line either */
    static const char dump[] = "key=a%3Ab exp=-1 la=5 cas=2 fetch=no cls=1 size=60\nEND\r\n";
    CHECK(mcf_parse_reply(dump, sizeof dump - 1, 100, &r) == (ssize_t)strlen(dump) - 5);
    CHECK(r.type == MCF_R_DUMP && r.data_len == strlen(dump) - 6 && r.data == dump);
    CHECK(parse("key=x size=1\r\n", &r) == 14 && r.type == MCF_R_DUMP && r.data_len == 12);
    CHECK(mcf_parse_reply("key=x si", 8, 100, &r) == 0); /* more to come */
    CHECK(parse("kex=x\n", &r) == MCF_PARSE_BAD_LINE);
    CHECK(parse("ITEM k:1 [5 b; 0 s]\r\n", &r) == 21 && r.type == MCF_R_STAT);
    CHECK(r.key_len == 3 && memcmp(r.key, "k:1", 3) == 0 && r.data_len == 10);
    CHECK(parse("BUSY currently processing crawler request\r\n", &r) > 0);
    CHECK(r.type == MCF_R_ERROR && r.data_len == 41);
    CHECK(parse("BADCLASS invalid class id\r\n", &r) > 0 && r.type == MCF_R_ERROR);
    CHECK(parse("BUSYX\r\n", &r) > 0 && r.type == MCF_R_ERROR); /* prefix: the text is kept */
    static char junk[MCF_MAX_REPLY_LINE + 10];
    memset(junk, 'x', sizeof junk);
    memcpy(junk, "key=", 4);
    CHECK(mcf_parse_reply(junk, sizeof junk, 100, &r) == MCF_PARSE_LINE_TOO_LONG);
}

TEST(malformed_replies)
{
    static const char *bad[] = {
        "STOREDX\r\n", "HELLO\r\n", "\r\n", "END\n", "VALUE\r\n", "VALUE  1 1\r\n",
        "VALUE k x 1\r\n", "VALUE k 1 y\r\n", "VALUE k 4294967296 1\r\n",
        "VALUE k 1 1 2 3\r\n", "VALUE k 1 18446744073709551616\r\n",
        "18446744073709551616\r\n", "12a\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcf_reply r;
        CHECKF(parse(bad[i], &r) < 0, "accepted %s", bad[i]);
    }
    mcf_reply r;
    CHECK(parse("VALUE k 1 3\r\nabcX\r\n", &r) == MCF_PARSE_BAD_DATA);
    CHECK(mcf_parse_reply("VALUE k 1 4294967296\r\n", 22, 1 << 20, &r) == MCF_PARSE_TOO_LARGE);
}

TEST(line_without_crlf_is_bounded)
{
    static char junk[MCF_MAX_REPLY_LINE + 10];
    memset(junk, 'x', sizeof junk);
    mcf_reply r;
    CHECK(mcf_parse_reply(junk, MCF_MAX_REPLY_LINE - 1, 100, &r) == 0);
    CHECK(mcf_parse_reply(junk, sizeof junk, 100, &r) == MCF_PARSE_LINE_TOO_LONG);
}

TEST(encoders)
{
    char buf[MCF_MAX_REQUEST_HEADER];
    size_t n = mcf_enc_storage(buf, "set", 3, "ns:", 3, "k", 1, 7, -1, 100, 0, 0, 0);
    CHECK(n == strlen("set ns:k 7 -1 100\r\n") && memcmp(buf, "set ns:k 7 -1 100\r\n", n) == 0);
    n = mcf_enc_storage(buf, "cas", 3, "", 0, "k", 1, 0, 0, 0, UINT64_MAX, 1, 1);
    CHECK(n == strlen("cas k 0 0 0 18446744073709551615 noreply\r\n"));
    CHECK(memcmp(buf, "cas k 0 0 0 18446744073709551615 noreply\r\n", n) == 0);
    n = mcf_enc_arith(buf, 0, "", 0, "c", 1, 5, 0);
    CHECK(n == 10 && memcmp(buf, "decr c 5\r\n", n) == 0);
    n = mcf_enc_delete(buf, "", 0, "c", 1, 1);
    CHECK(n == strlen("delete c noreply\r\n"));
    n = mcf_enc_touch(buf, "", 0, "c", 1, 60, 0);
    CHECK(n == strlen("touch c 60\r\n") && memcmp(buf, "touch c 60\r\n", n) == 0);
    char d[24];
    CHECK(mcf_i64_to_dec(d, INT64_MIN) == 20 && memcmp(d, "-9223372036854775808", 20) == 0);
    /* The longest header fits the documented bound. */
    char key[250];
    memset(key, 'k', sizeof key);
    n = mcf_enc_storage(buf, "prepend", 7, "", 0, key, 250, UINT32_MAX, INT64_MIN, SIZE_MAX,
                        UINT64_MAX, 1, 1);
    CHECK(n <= MCF_MAX_REQUEST_HEADER);
}

TEST(key_rules)
{
    char long_key[251];
    memset(long_key, 'a', sizeof long_key);
    CHECK(mcf_check_key(NULL, 0, "ok:key-1", 8) == MCF_OK);
    CHECK(mcf_check_key(NULL, 0, long_key, 250) == MCF_OK);
    CHECK(mcf_check_key(NULL, 0, long_key, 251) == MCF_ERR_BAD_KEY);
    CHECK(mcf_check_key("ns", 2, long_key, 249) == MCF_ERR_BAD_KEY);
    CHECK(mcf_check_key(NULL, 0, "", 0) == MCF_ERR_BAD_KEY);
    CHECK(mcf_check_key(NULL, 0, NULL, 3) == MCF_ERR_BAD_KEY);
    static const char *bad[] = {"a b", "a\rb", "a\nb", "a\tb", "a\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(mcf_check_key(NULL, 0, bad[i], strlen(bad[i])) == MCF_ERR_BAD_KEY);
    CHECK(mcf_check_key(NULL, 0, "a\0b", 3) == MCF_ERR_BAD_KEY);
    /* UTF-8 bytes are fine in the text protocol. */
    CHECK(mcf_check_key(NULL, 0, "caf\xc3\xa9", 5) == MCF_OK);
}

/* The key check reads eight bytes at a time: every byte value in every
 * position of a 250-byte key must be judged exactly. */
TEST(key_rules_every_byte_every_position)
{
    char key[250];
    for (int b = 0; b < 256; b++) {
        int bad = b <= 0x20 || b == 0x7f;
        for (size_t pos = 0; pos < sizeof key; pos++) {
            memset(key, 'k', sizeof key);
            key[pos] = (char)b;
            int rc = mcf_check_key(NULL, 0, key, sizeof key);
            if (rc != (bad ? MCF_ERR_BAD_KEY : MCF_OK)) {
                CHECKF(0, "byte 0x%02x at %zu: rc %d", b, pos, rc);
                return;
            }
            /* and in the namespace */
            rc = mcf_check_key(key, pos + 1, "x", 1);
            if (pos + 2 <= 250 && rc != (bad ? MCF_ERR_BAD_KEY : MCF_OK)) {
                CHECKF(0, "namespace byte 0x%02x at %zu: rc %d", b, pos, rc);
                return;
            }
        }
    }
}

/* Every key length (short keys are checked as one padded word, longer
 * ones word by word with an overlapping last word): a bad byte at every
 * position is found, and the bytes next to the forbidden ranges pass. */
TEST(key_rules_every_length)
{
    static const unsigned char bad[] = {0x00, 0x0a, 0x0d, 0x20, 0x7f};
    static const unsigned char good[] = {0x21, 0x7e, 0x80, 0xff};
    char key[MCF_MAX_KEY_LEN];
    for (size_t len = 1; len <= sizeof key; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t b = 0; b < sizeof bad; b++) {
                memset(key, 'k', len);
                key[pos] = (char)bad[b];
                if (mcf_check_key(NULL, 0, key, len) != MCF_ERR_BAD_KEY) {
                    CHECKF(0, "length %zu: byte 0x%02x at %zu passed", len, bad[b], pos);
                    return;
                }
            }
            for (size_t g = 0; g < sizeof good; g++) {
                memset(key, 'k', len);
                key[pos] = (char)good[g];
                if (mcf_check_key(NULL, 0, key, len) != MCF_OK) {
                    CHECKF(0, "length %zu: byte 0x%02x at %zu refused", len, good[g], pos);
                    return;
                }
            }
        }
    }
    CHECK(1);
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
