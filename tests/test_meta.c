/* test_meta.c - the pure meta-protocol codec (src/meta.h): keys and base64,
 * every encoder byte for byte, the reply parser on every reply kind in every
 * chunking and on malformed input; then the same requests against a real
 * memcached (live_*), parsing its real replies. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"
#include "meta.h"

#define MAXV (1u << 20)

/* ---- keys and base64 ---- */

TEST(key_plain_and_namespace)
{
    mcf_meta_key k;
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, "foo", 3, 0), MCF_OK);
    CHECK(!k.b64 && k.wire_len == 3);
    CHECK_RC(mcf_meta_key_init(&k, "ns:", 3, "foo", 3, 1), MCF_OK);
    CHECK(!k.b64 && k.wire_len == 6);
    char big[251];
    memset(big, 'a', sizeof big);
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, big, 250, 0), MCF_OK);
    CHECK(k.wire_len == 250);
    CHECK_RC(mcf_meta_key_init(&k, "n", 1, big, 249, 0), MCF_OK);
    /* Too long for plain, and far too long for base64 (> 186 bytes). */
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, big, 251, 1), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_meta_key_init(&k, "n", 1, big, 250, 1), MCF_ERR_BAD_KEY);
    CHECK(k.wire_len == 0);
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, "", 0, 1), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_meta_key_init(&k, "ns", 2, "", 0, 1), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, NULL, 3, 1), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_meta_key_init(&k, NULL, 2, "ab", 2, 1), MCF_ERR_BAD_KEY);
}

TEST(key_binary_decision_and_limit)
{
    mcf_meta_key k;
    static const char *bad[] = {"a b", "a\r\nb", "\x7f", "x\x01", "\x20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(mcf_meta_key_init(&k, NULL, 0, bad[i], strlen(bad[i]), 0), MCF_ERR_BAD_KEY);
        CHECK_RC(mcf_meta_key_init(&k, NULL, 0, bad[i], strlen(bad[i]), 1), MCF_OK);
        CHECK(k.b64 && k.wire_len == (strlen(bad[i]) + 2) / 3 * 4);
    }
    /* NUL inside a key */
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, "a\0b", 3, 1), MCF_OK);
    CHECK(k.b64 && k.wire_len == 4);
    /* A clean key is never base64, even when binary is allowed. */
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, "Zm9v", 4, 1), MCF_OK);
    CHECK(!k.b64);
    /* ns clean + key binary: the whole ns + key is encoded. */
    CHECK_RC(mcf_meta_key_init(&k, "ns:", 3, "\x01", 1, 1), MCF_OK);
    CHECK(k.b64 && k.wire_len == 8);
    /* bytes >= 0x80 are fine in the text protocol: no base64 needed */
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, "\xff\x80", 2, 1), MCF_OK);
    CHECK(!k.b64 && k.wire_len == 2);
    /* 186 bytes -> 248 characters; 187 -> 252 > 250. */
    char bin[200];
    memset(bin, 0, sizeof bin);
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, bin, 186, 1), MCF_OK);
    CHECK(k.wire_len == 248);
    CHECK_RC(mcf_meta_key_init(&k, NULL, 0, bin, 187, 1), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_meta_key_init(&k, "n", 1, bin, 185, 1), MCF_OK);
    CHECK_RC(mcf_meta_key_init(&k, "n", 1, bin, 186, 1), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_meta_key_init(&k, bin, 187, "a", 1, 1), MCF_ERR_BAD_KEY);
}

TEST(base64_known_vectors)
{
    /* RFC 4648 section 10 */
    static const char *v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                 {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                 {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[16];
        unsigned char back[16];
        size_t n = mcf_meta_b64_encode(out, v[i][0], strlen(v[i][0]));
        CHECKF(n == strlen(v[i][1]) && memcmp(out, v[i][1], n) == 0, "encode %s", v[i][0]);
        ssize_t m = mcf_meta_b64_decode(back, sizeof back, v[i][1], strlen(v[i][1]));
        CHECKF(m == (ssize_t)strlen(v[i][0]) && memcmp(back, v[i][0], (size_t)m) == 0,
               "decode %s = %zd", v[i][1], m);
    }
}

TEST(base64_round_trip_every_length_and_byte)
{
    unsigned char in[MCF_META_MAX_BINARY_KEY], back[MCF_META_MAX_BINARY_KEY];
    char text[260];
    uint32_t x = 12345;
    for (size_t len = 1; len <= MCF_META_MAX_BINARY_KEY; len++) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            in[i] = (unsigned char)(x >> 16);
        }
        /* the awkward bytes, at the edges */
        in[0] = 0;
        in[len - 1] = 0xff;
        if (len > 2)
            in[1] = ' ';
        size_t n = mcf_meta_b64_encode(text, in, len);
        CHECK(n == (len + 2) / 3 * 4 && text[n] == '\0');
        ssize_t m = mcf_meta_b64_decode(back, sizeof back, text, n);
        CHECKF(m == (ssize_t)len && memcmp(in, back, len) == 0, "length %zu", len);
        /* exact capacity is enough, one less is not */
        CHECK(mcf_meta_b64_decode(back, len, text, n) == (ssize_t)len);
        CHECK(mcf_meta_b64_decode(back, len - 1, text, n) == -1);
    }
    /* every byte value */
    unsigned char all[256], all2[256];
    char t2[400];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    size_t n = mcf_meta_b64_encode(t2, all, 256);
    CHECK(mcf_meta_b64_decode(all2, sizeof all2, t2, n) == 256 && memcmp(all, all2, 256) == 0);
}

/* Against an independent encoder (Python's base64.b64encode, run when the
 * test was written): every byte value, so every alphabet character in every
 * position of a group, and both padded tails. */
TEST(base64_every_byte_against_python)
{
    static const char want[] =
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1"
        "Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWpr"
        "bG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6Ch"
        "oqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
        "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";
    unsigned char all[256], back[256];
    char text[sizeof want];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    size_t n = mcf_meta_b64_encode(text, all, sizeof all);
    CHECK(n == sizeof want - 1 && memcmp(text, want, n) == 0 && text[n] == '\0');
    CHECK(mcf_meta_b64_decode(back, sizeof back, want, sizeof want - 1) == 256 &&
          memcmp(back, all, sizeof all) == 0);
    static const struct {
        const char *bin;
        size_t len;
        const char *text;
    } tails[] = {{"\xff", 1, "/w=="}, {"\xff\xff", 2, "//8="}, {"\0", 1, "AA=="}, {"\xfb\xff", 2, "+/8="}};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        n = mcf_meta_b64_encode(text, tails[i].bin, tails[i].len);
        CHECKF(n == 4 && memcmp(text, tails[i].text, 4) == 0, "encode tail %zu: %.*s", i, (int)n,
               text);
        CHECKF(mcf_meta_b64_decode(back, sizeof back, tails[i].text, 4) == (ssize_t)tails[i].len &&
                   memcmp(back, tails[i].bin, tails[i].len) == 0,
               "decode %s", tails[i].text);
    }
}

TEST(base64_decode_is_strict)
{
    unsigned char out[64];
    static const char *bad[] = {
        "Zm9",     "Zm9vY",    "Z===",     "====",   "Zg=a",     "Z=g=",     "Zm9v Zm9v",
        " Zm9v",   "Zm9v ",    "Zm9v\n",   "Zm-v",   "Zm_v",     "Zm9v====", "Zh==", /* bits */
        "Zm9=",    /* non-canonical: 'v'->'9' leaves bits */
        "Zm\0v",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        if (i == sizeof bad / sizeof bad[0] - 1)
            len = 4;
        CHECKF(mcf_meta_b64_decode(out, sizeof out, bad[i], len) == -1, "accepted '%s'", bad[i]);
    }
    CHECK(mcf_meta_b64_decode(out, sizeof out, "Zm8=", 4) == 2);
    CHECK(mcf_meta_b64_decode(out, sizeof out, "Zg==", 4) == 1 && out[0] == 'f');
    CHECK(mcf_meta_b64_decode(out, sizeof out, "AAAA", 4) == 3 && !out[0] && !out[1] && !out[2]);
    CHECK(mcf_meta_b64_decode(out, sizeof out, "////", 4) == 3 && out[0] == 0xff);
}

/* ---- encoders ---- */

static mcf_meta_key key_of(const char *ns, const char *key, size_t key_len)
{
    mcf_meta_key k;
    int rc = mcf_meta_key_init(&k, ns, ns ? strlen(ns) : 0, key, key_len, 1);
    if (rc != MCF_OK)
        t_fail(__FILE__, __LINE__, "key_init rc %d", rc);
    return k;
}

/* Encodes with a guard area after MCF_META_MAX_REQUEST: nothing may be
 * written past the returned length. */
#define GUARD 64
static int enc_is(size_t n, const char *buf, const char *want)
{
    size_t wl = strlen(want);
    if (n != wl || memcmp(buf, want, wl) != 0) {
        printf("  got %zu '%.*s' want '%s'\n", n, (int)n, buf, want);
        return 0;
    }
    for (size_t i = n; i < MCF_META_MAX_REQUEST + GUARD; i++)
        if ((unsigned char)buf[i] != 0xAA) {
            printf("  byte %zu past the end written\n", i);
            return 0;
        }
    return 1;
}

TEST(encode_mg)
{
    char b[MCF_META_MAX_REQUEST + GUARD];
    mcf_meta_key k = key_of(NULL, "foo", 3);
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mg(b, &k, NULL), b, "mg foo\r\n"));
    /* the engine's quiet multi-get */
    mcf_meta_args a = {.flags = MCF_MF_V | MCF_MF_F | MCF_MF_C | MCF_MF_K | MCF_MF_Q | MCF_MF_OPAQUE,
                       .opaque = 4294967295u};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mg(b, &k, &a), b, "mg foo O4294967295 v f c k q\r\n"));
    mcf_meta_args all = {.flags = MCF_MG_FLAGS, .opaque = 0, .ttl = -1, .vivify_ttl = 30,
                         .recache = 10, .new_cas = 5};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mg(b, &k, &all), b,
                 "mg foo O0 T-1 N30 R10 E5 v f c t l h k s u q\r\n"));
    /* namespace; binary key with b */
    mcf_meta_key kn = key_of("ns:", "k", 1);
    mcf_meta_args t = {.flags = MCF_MF_TTL | MCF_MF_T, .ttl = 0};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mg(b, &kn, &t), b, "mg ns:k T0 t\r\n"));
    mcf_meta_key kb = key_of(NULL, "a\0 b\xff", 5);
    mcf_meta_args kv = {.flags = MCF_MF_K | MCF_MF_V};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mg(b, &kb, &kv), b, "mg YQAgYv8= b v k\r\n"));
    mcf_meta_key knb = key_of("ns:", " ", 1);
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mg(b, &knb, NULL), b, "mg bnM6IA== b\r\n"));
}

TEST(encode_ms)
{
    char b[MCF_META_MAX_REQUEST + GUARD];
    mcf_meta_key k = key_of(NULL, "foo", 3);
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ms(b, &k, 0, NULL), b, "ms foo 0\r\n"));
    mcf_meta_args a = {.flags = MCF_MS_FLAGS, .opaque = 7, .ttl = 0, .cas = 99, .new_cas = 3,
                       .client_flags = 4294967295u, .mode = MCF_MM_ADD};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ms(b, &k, 5, &a), b,
                 "ms foo 5 O7 T0 C99 E3 F4294967295 ME c k q I\r\n"));
    static const struct {
        mcf_meta_mode m;
        const char *want;
    } modes[] = {{MCF_MM_SET, "ms foo 18446744073709551615 MS\r\n"},
                 {MCF_MM_ADD, "ms foo 18446744073709551615 ME\r\n"},
                 {MCF_MM_APPEND, "ms foo 18446744073709551615 MA\r\n"},
                 {MCF_MM_PREPEND, "ms foo 18446744073709551615 MP\r\n"},
                 {MCF_MM_REPLACE, "ms foo 18446744073709551615 MR\r\n"}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        mcf_meta_args m = {.flags = MCF_MF_MODE, .mode = modes[i].m};
        memset(b, 0xAA, sizeof b);
        CHECK(enc_is(mcf_meta_enc_ms(b, &k, SIZE_MAX, &m), b, modes[i].want));
    }
    mcf_meta_args f = {.flags = MCF_MF_CFLAGS | MCF_MF_TTL, .client_flags = 0,
                       .ttl = INT64_MIN};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ms(b, &k, 3, &f), b, "ms foo 3 T-9223372036854775808 F0\r\n"));
    /* b goes after the length */
    mcf_meta_key kb = key_of(NULL, "a\0 b\xff", 5);
    mcf_meta_args kq = {.flags = MCF_MF_K | MCF_MF_Q};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ms(b, &kb, 2, &kq), b, "ms YQAgYv8= 2 b k q\r\n"));
}

TEST(encode_md_ma_mn_me)
{
    char b[MCF_META_MAX_REQUEST + GUARD];
    mcf_meta_key k = key_of(NULL, "foo", 3);
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_md(b, &k, NULL), b, "md foo\r\n"));
    mcf_meta_args d = {.flags = MCF_MD_FLAGS, .opaque = 1, .ttl = 30, .cas = 5, .new_cas = 6};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_md(b, &k, &d), b, "md foo O1 T30 C5 E6 k q I x\r\n"));
    mcf_meta_key kb = key_of(NULL, "a b", 3);
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_md(b, &kb, &d), b, "md YSBi b O1 T30 C5 E6 k q I x\r\n"));
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ma(b, &kb, NULL), b, "ma YSBi b\r\n"));
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ma(b, &k, NULL), b, "ma foo\r\n"));
    mcf_meta_args a = {.flags = MCF_MA_FLAGS, .opaque = 1, .ttl = -1, .vivify_ttl = 0, .cas = 9,
                       .new_cas = 8, .delta = UINT64_MAX, .initial = 5, .mode = MCF_MM_DECR};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ma(b, &k, &a), b,
                 "ma foo O1 T-1 N0 C9 E8 D18446744073709551615 J5 MD v c t k q\r\n"));
    mcf_meta_args inc = {.flags = MCF_MF_MODE | MCF_MF_DELTA, .mode = MCF_MM_INCR, .delta = 0};
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_ma(b, &k, &inc), b, "ma foo D0 MI\r\n"));
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_mn(b), b, "mn\r\n"));
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_me(b, &k), b, "me foo\r\n"));
    memset(b, 0xAA, sizeof b);
    CHECK(enc_is(mcf_meta_enc_me(b, &kb), b, "me YSBi b\r\n"));
}

TEST(encode_rejects_flags_and_modes_a_command_does_not_take)
{
    char b[MCF_META_MAX_REQUEST];
    mcf_meta_key k = key_of(NULL, "foo", 3);
    /* every single flag bit against every command */
    static const unsigned allowed[4] = {MCF_MG_FLAGS, MCF_MS_FLAGS, MCF_MD_FLAGS, MCF_MA_FLAGS};
    for (int cmd = 0; cmd < 4; cmd++)
        for (unsigned bit = 1; bit; bit <<= 1) {
            mcf_meta_args a = {.flags = bit, .mode = cmd == 3 ? MCF_MM_INCR : MCF_MM_SET};
            size_t n = cmd == 0   ? mcf_meta_enc_mg(b, &k, &a)
                       : cmd == 1 ? mcf_meta_enc_ms(b, &k, 1, &a)
                       : cmd == 2 ? mcf_meta_enc_md(b, &k, &a)
                                  : mcf_meta_enc_ma(b, &k, &a);
            CHECKF((n != 0) == ((allowed[cmd] & bit) != 0), "cmd %d bit %#x n %zu", cmd, bit, n);
        }
    mcf_meta_args m = {.flags = MCF_MF_MODE, .mode = MCF_MM_INCR};
    CHECK(mcf_meta_enc_ms(b, &k, 1, &m) == 0);
    m.mode = MCF_MM_SET;
    CHECK(mcf_meta_enc_ma(b, &k, &m) == 0);
    m.mode = (mcf_meta_mode)'X';
    CHECK(mcf_meta_enc_ms(b, &k, 1, &m) == 0 && mcf_meta_enc_ma(b, &k, &m) == 0);
    m.mode = (mcf_meta_mode)0;
    CHECK(mcf_meta_enc_ms(b, &k, 1, &m) == 0 && mcf_meta_enc_ma(b, &k, &m) == 0);
    /* a key that did not come from mcf_meta_key_init */
    mcf_meta_key none;
    memset(&none, 0, sizeof none);
    CHECK(mcf_meta_enc_mg(b, &none, NULL) == 0 && mcf_meta_enc_mg(b, NULL, NULL) == 0);
    CHECK(mcf_meta_enc_me(b, &none) == 0);
    /* a key struct changed after mcf_meta_key_init: refused, not overrun */
    static char big[300];
    memset(big, 1, sizeof big);
    mcf_meta_key bad = key_of(NULL, big, 10);
    CHECK(bad.b64);
    bad.key_len = sizeof big;
    CHECK(mcf_meta_enc_mg(b, &bad, NULL) == 0);
    bad = key_of(NULL, "foo", 3);
    bad.wire_len = 250;
    CHECK(mcf_meta_enc_mg(b, &bad, NULL) == 0);
}

TEST(encode_worst_case_fits_max_request)
{
    static char b[MCF_META_MAX_REQUEST + GUARD];
    char plain[250], bin[MCF_META_MAX_BINARY_KEY];
    memset(plain, 'k', sizeof plain);
    memset(bin, 0, sizeof bin);
    mcf_meta_key keys[2] = {key_of(NULL, plain, 250), key_of(NULL, bin, sizeof bin)};
    CHECK(keys[1].b64);
    size_t worst = 0;
    for (int i = 0; i < 2; i++) {
        mcf_meta_args a = {.opaque = UINT32_MAX, .ttl = INT64_MIN, .vivify_ttl = INT64_MIN,
                           .recache = INT64_MIN, .cas = UINT64_MAX, .new_cas = UINT64_MAX,
                           .client_flags = UINT32_MAX, .delta = UINT64_MAX,
                           .initial = UINT64_MAX};
        size_t n;
        a.flags = MCF_MG_FLAGS;
        memset(b, 0xAA, sizeof b);
        n = mcf_meta_enc_mg(b, &keys[i], &a);
        worst = n > worst ? n : worst;
        a.flags = MCF_MS_FLAGS;
        a.mode = MCF_MM_SET;
        n = mcf_meta_enc_ms(b, &keys[i], SIZE_MAX, &a);
        worst = n > worst ? n : worst;
        a.flags = MCF_MD_FLAGS;
        n = mcf_meta_enc_md(b, &keys[i], &a);
        worst = n > worst ? n : worst;
        a.flags = MCF_MA_FLAGS;
        a.mode = MCF_MM_DECR;
        n = mcf_meta_enc_ma(b, &keys[i], &a);
        worst = n > worst ? n : worst;
        for (size_t j = MCF_META_MAX_REQUEST; j < sizeof b; j++)
            CHECK((unsigned char)b[j] == 0xAA);
    }
    printf("  worst-case meta request: %zu bytes (MCF_META_MAX_REQUEST %d)\n", worst,
           MCF_META_MAX_REQUEST);
    CHECK(worst == 412 && worst <= MCF_META_MAX_REQUEST);
}

/* ---- reply parsing ---- */

/* One reply s (len bytes): every proper prefix is incomplete (need is 0 or
 * the full length), the whole parses to len - in exact-size heap copies, so
 * sanitizer builds catch any read past the end - and so does the reply
 * followed by more bytes. */
static ssize_t parse_cuts(const char *s, size_t len, size_t max_value, mcf_meta_reply *out)
{
    for (size_t cut = 0; cut < len; cut++) {
        char *c = malloc(cut ? cut : 1);
        memcpy(c, s, cut);
        mcf_meta_reply r;
        ssize_t n = mcf_meta_parse_reply(c, cut, max_value, &r);
        free(c);
        if (n != 0 || (r.need != 0 && r.need != len)) {
            t_fail(__FILE__, __LINE__, "prefix %zu of '%.*s': %zd need %zu", cut, (int)len, s, n,
                   r.need);
            return -100;
        }
    }
    char *c = malloc(len + 5);
    memcpy(c, s, len);
    memcpy(c + len, "HD\r\nx", 5);
    mcf_meta_reply r2;
    ssize_t n2 = mcf_meta_parse_reply(c, len + 5, max_value, &r2);
    free(c);
    c = malloc(len);
    memcpy(c, s, len);
    ssize_t n = mcf_meta_parse_reply(c, len, max_value, out);
    free(c);
    if (n2 != n || r2.type != out->type || r2.has != out->has)
        t_fail(__FILE__, __LINE__, "'%.*s' alone %zd, with more %zd", (int)len, s, n, n2);
    /* again from s, so the pointers in *out stay valid for the caller */
    if (mcf_meta_parse_reply(s, len, max_value, out) != n)
        t_fail(__FILE__, __LINE__, "'%.*s' parses differently", (int)len, s);
    return n;
}

#define P(lit, r) parse_cuts(lit, sizeof(lit) - 1, MAXV, r)

TEST(reply_hd_en_nf_ns_ex_mn)
{
    mcf_meta_reply r;
    CHECK(P("HD\r\n", &r) == 4 && r.type == MCF_M_HD && r.has == 0);
    CHECK(P("EN\r\n", &r) == 4 && r.type == MCF_M_EN && r.has == 0);
    CHECK(P("NF\r\n", &r) == 4 && r.type == MCF_M_NF);
    CHECK(P("NS\r\n", &r) == 4 && r.type == MCF_M_NS);
    CHECK(P("EX\r\n", &r) == 4 && r.type == MCF_M_EX);
    CHECK(P("MN\r\n", &r) == 4 && r.type == MCF_M_MN);
    CHECK(P("MN  \r\n", &r) == 6 && r.type == MCF_M_MN);
    /* real 1.6.18 replies with flags */
    CHECK(P("HD c1 kfoo O123\r\n", &r) == 17 && r.type == MCF_M_HD);
    CHECK(r.has == (MCF_MR_CAS | MCF_MR_KEY | MCF_MR_OPAQUE | MCF_MR_OPAQUE_U32));
    CHECK(r.cas == 1 && r.key_len == 3 && memcmp(r.key, "foo", 3) == 0);
    CHECK(r.opaque_len == 3 && memcmp(r.opaque, "123", 3) == 0 && r.opaque_u32 == 123);
    CHECK(P("EN kmiss O7\r\n", &r) > 0 && r.type == MCF_M_EN && r.opaque_u32 == 7);
    CHECK(r.key_len == 4 && memcmp(r.key, "miss", 4) == 0);
    CHECK(P("NS c0 kinv O3\r\n", &r) > 0 && r.type == MCF_M_NS && r.cas == 0 &&
          (r.has & MCF_MR_CAS));
    CHECK(P("EX O4 kfoo\r\n", &r) > 0 && r.type == MCF_M_EX && r.opaque_u32 == 4);
    CHECK(P("HD c29 t30 W\r\n", &r) > 0 && (r.has & MCF_MR_WIN) && r.ttl == 30 &&
          !(r.has & (MCF_MR_STALE | MCF_MR_WON)));
    CHECK(P("HD t200 h1 l1\r\n", &r) > 0 && r.ttl == 200 && r.hit_before == 1 &&
          r.last_access == 1 && (r.has & MCF_MR_HIT) && (r.has & MCF_MR_LA));
    CHECK(P("HD s3 f0\r\n", &r) > 0 && r.size == 3 && r.client_flags == 0 &&
          (r.has & MCF_MR_FLAGS) && (r.has & MCF_MR_SIZE));
    /* extremes */
    CHECK(P("HD c18446744073709551615 f4294967295 t-9223372036854775808 l0 s0 h0\r\n", &r) > 0 &&
          r.cas == UINT64_MAX && r.client_flags == UINT32_MAX && r.ttl == INT64_MIN &&
          r.hit_before == 0);
    CHECK(P("HD t9223372036854775807\r\n", &r) > 0 && r.ttl == INT64_MAX);
    /* opaque: raw always, u32 only when it is one */
    CHECK(P("HD O4294967296\r\n", &r) > 0 && (r.has & MCF_MR_OPAQUE) &&
          !(r.has & MCF_MR_OPAQUE_U32) && r.opaque_len == 10);
    CHECK(P("HD Oabc\r\n", &r) > 0 && r.opaque_len == 3 && !(r.has & MCF_MR_OPAQUE_U32));
    CHECK(P("HD O\r\n", &r) > 0 && (r.has & MCF_MR_OPAQUE) && r.opaque_len == 0 &&
          !(r.has & MCF_MR_OPAQUE_U32));
    CHECK(P("HD O0123456789012345678901234567890\r\n", &r) > 0 && r.opaque_len == 31);
    /* protocol.txt allows 32 (1.6.18 takes 31 in requests) */
    CHECK(P("HD O01234567890123456789012345678901\r\n", &r) > 0 && r.opaque_len == 32);
    /* spacing: more than one space, trailing spaces */
    CHECK(P("HD  c5   O1  \r\n", &r) > 0 && r.cas == 5 && r.opaque_u32 == 1);
    /* unknown flag letters are skipped (newer servers) */
    CHECK(P("HD c5 Qwhatever zz Y\r\n", &r) > 0 && r.has == MCF_MR_CAS && r.cas == 5);
    /* b without k: nothing to decode */
    CHECK(P("HD b\r\n", &r) > 0 && r.has == MCF_MR_B64);
}

TEST(reply_va)
{
    mcf_meta_reply r;
    CHECK(P("VA 3 f5 c1 t-1 kfoo O9 s3 h0 l0\r\nbar\r\n", &r) == 38);
    CHECK(r.type == MCF_M_VA && r.data_len == 3 && memcmp(r.data, "bar", 3) == 0);
    CHECK(r.client_flags == 5 && r.cas == 1 && r.ttl == -1 && r.opaque_u32 == 9 && r.size == 3 &&
          r.hit_before == 0 && r.last_access == 0);
    CHECK(!(r.has & MCF_MR_NUMBER));
    CHECK(P("VA 1 c31 X W\r\ny\r\n", &r) > 0 &&
          (r.has & (MCF_MR_STALE | MCF_MR_WIN | MCF_MR_WON)) == (MCF_MR_STALE | MCF_MR_WIN));
    CHECK(P("VA 1 c31 Z X\r\ny\r\n", &r) > 0 &&
          (r.has & (MCF_MR_STALE | MCF_MR_WIN | MCF_MR_WON)) == (MCF_MR_STALE | MCF_MR_WON));
    CHECK(P("VA 0 c5 t30 knvv s0 W\r\n\r\n", &r) == 25 && r.data_len == 0 && r.data);
    /* binary data, CRLF inside */
    static const char bin[] = "VA 4\r\n\r\n\0\xff\r\n";
    CHECK(parse_cuts(bin, sizeof bin - 1, MAXV, &r) == (ssize_t)sizeof bin - 1 &&
          r.data_len == 4 && memcmp(r.data, "\r\n\0\xff", 4) == 0);
    /* ma v: the number */
    CHECK(P("VA 20\r\n18446744073709551615\r\n", &r) > 0 && (r.has & MCF_MR_NUMBER) &&
          r.number == UINT64_MAX);
    CHECK(P("VA 2 t-1 c13\r\n11\r\n", &r) > 0 && r.number == 11 && r.cas == 13);
    CHECK(P("VA 20\r\n18446744073709551616\r\n", &r) > 0 && !(r.has & MCF_MR_NUMBER) &&
          r.number == 0);
    CHECK(P("VA 2\r\n1a\r\n", &r) > 0 && !(r.has & MCF_MR_NUMBER));
    /* need is known once the header line is in */
    const char *s = "VA 10 O1\r\n0123456789\r\n";
    for (size_t cut = 10; cut < strlen(s); cut++) {
        CHECK(mcf_meta_parse_reply(s, cut, MAXV, &r) == 0 && r.need == strlen(s));
    }
    /* max_value */
    CHECK(P("VA 5\r\nhello\r\n", &r) == 13);
    CHECK(parse_cuts("VA 5\r\nhello\r\n", 13, 5, &r) == 13);
    CHECK(mcf_meta_parse_reply("VA 5\r\nhello\r\n", 11, 4, &r) == MCF_PARSE_TOO_LARGE);
    CHECK(mcf_meta_parse_reply("VA 5\r\n", 6, 4, &r) == MCF_PARSE_TOO_LARGE);
    CHECK(mcf_meta_parse_reply("VA 18446744073709551615\r\n", 25, SIZE_MAX, &r) ==
          MCF_PARSE_TOO_LARGE);
    CHECK(mcf_meta_parse_reply("VA 5\r\nhelloXY", 13, 100, &r) == MCF_PARSE_BAD_DATA);
    CHECK(mcf_meta_parse_reply("VA 5\r\nhello\rX", 13, 100, &r) == MCF_PARSE_BAD_DATA);
    CHECK(mcf_meta_parse_reply("VA 0\r\nXY", 8, 100, &r) == MCF_PARSE_BAD_DATA);
}

TEST(reply_base64_key)
{
    mcf_meta_reply r;
    const char *k;
    size_t kl;
    CHECK(P("VA 2 kYQAgYv8= b O1\r\nhi\r\n", &r) > 0);
    CHECK((r.has & (MCF_MR_KEY | MCF_MR_B64)) == (MCF_MR_KEY | MCF_MR_B64));
    CHECK(r.key_len == 8 && memcmp(r.key, "YQAgYv8=", 8) == 0);
    CHECK(r.bkey_len == 5 && memcmp(r.bkey, "a\0 b\xff", 5) == 0);
    CHECK(mcf_meta_reply_key(&r, &k, &kl) == 1 && kl == 5 && memcmp(k, "a\0 b\xff", 5) == 0);
    mcf_meta_key want = key_of(NULL, "a\0 b\xff", 5), other = key_of(NULL, "a\0 b\xfe", 5);
    CHECK(mcf_meta_reply_key_is(&r, &want) && !mcf_meta_reply_key_is(&r, &other));
    mcf_meta_key ns = key_of("a", "\0 b\xff", 4);
    CHECK(mcf_meta_reply_key_is(&r, &ns));
    /* b may come before k */
    CHECK(P("EN b kZm9v\r\n", &r) > 0 && r.bkey_len == 3 && memcmp(r.bkey, "foo", 3) == 0);
    mcf_meta_key foo = key_of(NULL, "foo", 3), zm9v = key_of(NULL, "Zm9v", 4);
    CHECK(mcf_meta_reply_key_is(&r, &foo) && !mcf_meta_reply_key_is(&r, &zm9v));
    CHECK(P("EN kZm9v\r\n", &r) > 0 && mcf_meta_reply_key_is(&r, &zm9v) &&
          !mcf_meta_reply_key_is(&r, &foo));
    CHECK(P("HD\r\n", &r) > 0 && !mcf_meta_reply_key(&r, &k, &kl) &&
          !mcf_meta_reply_key_is(&r, &foo));
    /* the longest: 248 characters -> 186 bytes */
    char line[300], text[260];
    unsigned char bin[MCF_META_MAX_BINARY_KEY];
    memset(bin, 0xfe, sizeof bin);
    size_t tl = mcf_meta_b64_encode(text, bin, sizeof bin);
    int ln = snprintf(line, sizeof line, "HD k%s b\r\n", text);
    CHECK(parse_cuts(line, (size_t)ln, MAXV, &r) == ln && r.bkey_len == 186 &&
          memcmp(r.bkey, bin, 186) == 0 && tl == 248);
    /* 252 characters: not a key memcached can return */
    memset(bin, 0xfe, sizeof bin);
    unsigned char bin2[189];
    memset(bin2, 1, sizeof bin2);
    char text2[300];
    mcf_meta_b64_encode(text2, bin2, 189);
    ln = snprintf(line, sizeof line, "HD k%s b\r\n", text2);
    CHECK(mcf_meta_parse_reply(line, (size_t)ln, MAXV, &r) == MCF_PARSE_BAD_LINE);
}

TEST(reply_me_and_errors)
{
    mcf_meta_reply r;
    CHECK(P("ME foo exp=-1 la=9 cas=1 fetch=yes cls=1 size=69\r\n", &r) > 0 &&
          r.type == MCF_M_ME && r.key_len == 3 && memcmp(r.key, "foo", 3) == 0 &&
          r.data_len == 41 && memcmp(r.data, "exp=-1", 6) == 0 && r.has == 0);
    CHECK(P("ME foo\r\n", &r) > 0 && r.type == MCF_M_ME && r.data_len == 0);
    CHECK(P("CLIENT_ERROR bad command line format\r\n", &r) > 0 &&
          r.type == MCF_M_CLIENT_ERROR && r.data_len == 23 &&
          memcmp(r.data, "bad command line format", 23) == 0);
    CHECK(P("CLIENT_ERROR\r\n", &r) > 0 && r.type == MCF_M_CLIENT_ERROR && r.data_len == 0);
    CHECK(P("SERVER_ERROR object too large for cache\r\n", &r) > 0 &&
          r.type == MCF_M_SERVER_ERROR && r.data_len == 26);
    CHECK(P("ERROR\r\n", &r) == 7 && r.type == MCF_M_ERROR);
    CHECK(P("ERROR unknown command\r\n", &r) > 0 && r.type == MCF_M_ERROR);
}

TEST(reply_malformed)
{
    static const char *bad[] = {
        "HD\n", "\r\n", "H\r\n", "HX\r\n", "HDx\r\n", "hd\r\n", " HD\r\n", "VA\r\n", "VA \r\n",
        "VA x\r\n", "VA -1\r\n", "VA 1x\r\n", "VA  1\r\n", "VA 18446744073709551616\r\n",
        "VA 1 c\r\n", "HD c\r\n", "HD cx\r\n", "HD c-1\r\n", "HD c+1\r\n", "HD c 1\r\n",
        "HD c18446744073709551616\r\n", "HD f4294967296\r\n", "HD f-1\r\n", "HD h2\r\n",
        "HD h\r\n", "HD h01\r\n", "HD t\r\n", "HD t-\r\n", "HD t--1\r\n",
        "HD t9223372036854775808\r\n", "HD t-9223372036854775809\r\n", "HD l-1\r\n",
        "HD s\r\n", "HD Wx\r\n", "HD X1\r\n", "HD Zz\r\n", "HD bb\r\n", "HD k\r\n",
        "HD k\x01\r\n", "HD k\x7f\r\n", "HD k\rx\r\n", "HD c1 c2\r\n", "HD W W\r\n",
        "HD kfoo kbar\r\n", "HD O1 O2\r\n", "HD O012345678901234567890123456789012\r\n",
        "HD kfoo b\r\n", "HD kZm9 b\r\n", "HD kZm9v= b\r\n", "HD kZm9= b\r\n", "HD k==== b\r\n",
        "HD 1\r\n", "HD -\r\n", "HD =\r\n", "HD \x80\r\n", "HD\tc1\r\n", "MN x\r\n", "MNx\r\n",
        "ME\r\n", "ME \r\n", "ME  x\r\n", "CLIENT_ERRORX\r\n", "SERVER_ERRORS\r\n", "ERRORS\r\n",
        "OK\r\n", "END\r\n", "STORED\r\n", "VALUE foo 0 1\r\nx\r\n", "42\r\n", "HD\r\r\n",
        "EN\x00\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcf_meta_reply r;
        size_t len = strlen(bad[i]);
        if (i == sizeof bad / sizeof bad[0] - 1)
            len = 5;
        char *c = malloc(len);
        memcpy(c, bad[i], len);
        ssize_t n = mcf_meta_parse_reply(c, len, MAXV, &r);
        free(c);
        CHECKF(n == MCF_PARSE_BAD_LINE, "'%s' gave %zd", bad[i], n);
    }
}

TEST(reply_line_limits)
{
    static char buf[MCF_MAX_REPLY_LINE + 16];
    mcf_meta_reply r;
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "HD ", 3);
    /* no LF yet: incomplete until the limit, then an error */
    CHECK(mcf_meta_parse_reply(buf, MCF_MAX_REPLY_LINE - 1, MAXV, &r) == 0);
    CHECK(mcf_meta_parse_reply(buf, MCF_MAX_REPLY_LINE, MAXV, &r) == MCF_PARSE_LINE_TOO_LONG);
    CHECK(mcf_meta_parse_reply(buf, sizeof buf, MAXV, &r) == MCF_PARSE_LINE_TOO_LONG);
    /* a line of exactly MCF_MAX_REPLY_LINE bytes with CRLF is fine */
    buf[MCF_MAX_REPLY_LINE - 2] = '\r';
    buf[MCF_MAX_REPLY_LINE - 1] = '\n';
    CHECK(mcf_meta_parse_reply(buf, sizeof buf, MAXV, &r) == MCF_MAX_REPLY_LINE);
    CHECK(mcf_meta_parse_reply(NULL, 0, MAXV, &r) == 0);
}

/* A stream of every kind of reply, delivered in chunks of every size, as
 * a read loop would: the sequence of parsed replies is the same as when
 * everything arrives at once. */
TEST(reply_stream_every_chunk_size)
{
    static const char stream[] =
        "HD c1 kfoo O123\r\n"
        "VA 3 f5 c1 t-1 kfoo O9 s3 h0 l0\r\nbar\r\n"
        "EN kmiss O7\r\n"
        "VA 2 kYQAgYv8= b O1\r\nhi\r\n"
        "VA 0 c5 t30 knvv s0 W\r\n\r\n"
        "VA 1 c31 X W\r\ny\r\n"
        "NS c0 kinv O3\r\n"
        "EX O4 kfoo\r\n"
        "NF\r\n"
        "VA 2\r\n10\r\n"
        "ME foo exp=-1 la=9 cas=1 fetch=yes cls=1 size=69\r\n"
        "CLIENT_ERROR bad data chunk\r\n"
        "ERROR\r\n"
        "SERVER_ERROR out of memory\r\n"
        "MN\r\n";
    size_t len = sizeof stream - 1;
    enum { N = 15 };
    ssize_t whole[N];
    mcf_meta_type types[N];
    size_t pos = 0, k = 0;
    mcf_meta_reply r;
    while (pos < len && k < N) {
        ssize_t n = mcf_meta_parse_reply(stream + pos, len - pos, MAXV, &r);
        if (n <= 0)
            break;
        whole[k] = n;
        types[k++] = r.type;
        pos += (size_t)n;
    }
    CHECK(k == N && pos == len && types[N - 1] == MCF_M_MN);
    for (size_t step = 1; step <= len; step++) {
        size_t have = 0, at = 0, got = 0;
        int ok = 1;
        while (have < len && ok) {
            have += step;
            if (have > len)
                have = len;
            for (;;) {
                char *c = malloc(have - at ? have - at : 1);
                memcpy(c, stream + at, have - at);
                ssize_t n = mcf_meta_parse_reply(c, have - at, MAXV, &r);
                free(c);
                if (n == 0)
                    break;
                if (n < 0 || got >= N || n != whole[got] || r.type != types[got]) {
                    ok = 0;
                    break;
                }
                got++;
                at += (size_t)n;
            }
        }
        CHECKF(ok && got == N && at == len, "chunk size %zu: %zu replies", step, got);
    }
}

/* ---- live: a real memcached ---- */

/* One server for every live_* case, started by the first one that runs
 * (so the pure cases need no memcached) and stopped at the end of main. */
static mcserver srv;
static int have_srv = -1; /* -1 not tried yet, 0 no server, 1 running */

typedef struct req {
    char b[16384];
    size_t n;
} req;

static void add(req *q, size_t n)
{
    q->n += n;
    q->b[q->n] = 0;
}

static char *room(req *q)
{
    return q->b + q->n;
}

static void add_str(req *q, const char *s)
{
    size_t n = strlen(s);
    memcpy(room(q), s, n);
    add(q, n);
}

/* Sends q + "mn", parses every reply up to MN into out[]; returns the
 * count (MN included) or -1. */
static char resp[1 << 16];
static int roundtrip(req *q, mcf_meta_reply *out, int max)
{
    add(q, mcf_meta_enc_mn(room(q)));
    int got = mcserver_raw(&srv, q->b, "MN\r\n", resp, sizeof resp);
    q->n = 0;
    if (got <= 0)
        return -1;
    size_t pos = 0;
    int k = 0;
    while (pos < (size_t)got && k < max) {
        ssize_t n = mcf_meta_parse_reply(resp + pos, (size_t)got - pos, MAXV, &out[k]);
        if (n <= 0) {
            printf("  parse %zd at %zu of '%s'\n", n, pos, resp);
            return -1;
        }
        pos += (size_t)n;
        if (out[k++].type == MCF_M_MN)
            break;
    }
    return k;
}

static int live(void)
{
    if (have_srv < 0)
        have_srv = mcserver_binary() && mcserver_start_tcp(&srv, "127.0.0.1", NULL) == 0;
    if (!have_srv)
        t_skip_case("memcached is not installed or did not start");
    return have_srv;
}

TEST(live_set_then_get_every_field)
{
    if (!live())
        return;
    req q = {.n = 0};
    mcf_meta_reply r[8];
    mcf_meta_key k = key_of(NULL, "live:one", 8);
    mcf_meta_args s = {.flags = MCF_MF_C | MCF_MF_K | MCF_MF_OPAQUE | MCF_MF_CFLAGS | MCF_MF_TTL,
                       .opaque = 11, .client_flags = 4294967295u, .ttl = 0};
    add(&q, mcf_meta_enc_ms(room(&q), &k, 5, &s));
    add_str(&q, "hello\r\n");
    mcf_meta_args g = {.flags = MCF_MF_V | MCF_MF_F | MCF_MF_C | MCF_MF_T | MCF_MF_K |
                                MCF_MF_S | MCF_MF_H | MCF_MF_L | MCF_MF_OPAQUE,
                       .opaque = 12};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &g));
    int n = roundtrip(&q, r, 8);
    CHECK(n == 3);
    if (n != 3)
        return;
    CHECK(r[0].type == MCF_M_HD && (r[0].has & MCF_MR_CAS) && r[0].opaque_u32 == 11 &&
          mcf_meta_reply_key_is(&r[0], &k));
    CHECK(r[1].type == MCF_M_VA && r[1].data_len == 5 && memcmp(r[1].data, "hello", 5) == 0);
    CHECK(r[1].client_flags == 4294967295u && r[1].cas == r[0].cas && r[1].ttl == -1 &&
          r[1].opaque_u32 == 12 && mcf_meta_reply_key_is(&r[1], &k) && r[1].size == 5 &&
          r[1].hit_before == 0 && (r[1].has & MCF_MR_LA));
    CHECK(r[2].type == MCF_M_MN);
    /* a TTL: t counts down from it; T on mg touches */
    mcf_meta_args s2 = {.flags = MCF_MF_TTL, .ttl = 100};
    add(&q, mcf_meta_enc_ms(room(&q), &k, 1, &s2));
    add_str(&q, "x\r\n");
    mcf_meta_args g2 = {.flags = MCF_MF_T};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &g2));
    mcf_meta_args touch = {.flags = MCF_MF_T | MCF_MF_TTL | MCF_MF_H, .ttl = 200};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &touch));
    n = roundtrip(&q, r, 8);
    CHECKF(n == 4, "%d: %s", n, resp);
    CHECK(n == 4 && r[0].type == MCF_M_HD && r[1].type == MCF_M_HD && r[1].ttl > 90 &&
          r[1].ttl <= 100 && r[2].ttl > 190 && r[2].ttl <= 200 && r[2].hit_before == 1);
}

TEST(live_quiet_multiget_one_hit_two_misses)
{
    if (!live())
        return;
    req q = {.n = 0};
    mcf_meta_reply r[8];
    mcf_meta_key keys[3] = {key_of(NULL, "live:miss1", 10), key_of(NULL, "live:hit", 8),
                            key_of(NULL, "live:miss2", 10)};
    add(&q, mcf_meta_enc_ms(room(&q), &keys[1], 3, NULL));
    add_str(&q, "abc\r\n");
    CHECK(roundtrip(&q, r, 8) == 2 && r[0].type == MCF_M_HD);
    for (uint32_t i = 0; i < 3; i++) {
        mcf_meta_args a = {.flags = MCF_MF_V | MCF_MF_F | MCF_MF_C | MCF_MF_K | MCF_MF_Q |
                                    MCF_MF_OPAQUE,
                           .opaque = 1000 + i};
        add(&q, mcf_meta_enc_mg(room(&q), &keys[i], &a));
    }
    int n = roundtrip(&q, r, 8);
    CHECKF(n == 2, "%d replies: '%s'", n, resp);
    if (n != 2)
        return;
    CHECK(r[0].type == MCF_M_VA && r[0].opaque_u32 == 1001 &&
          mcf_meta_reply_key_is(&r[0], &keys[r[0].opaque_u32 - 1000]) && r[0].data_len == 3 &&
          (r[0].has & MCF_MR_CAS) && (r[0].has & MCF_MR_FLAGS));
    CHECK(r[1].type == MCF_M_MN);
    /* without q, a miss is EN with the k and O flags (1.6.18) */
    mcf_meta_args a = {.flags = MCF_MF_V | MCF_MF_K | MCF_MF_OPAQUE, .opaque = 7};
    add(&q, mcf_meta_enc_mg(room(&q), &keys[0], &a));
    n = roundtrip(&q, r, 8);
    CHECK(n == 2 && r[0].type == MCF_M_EN && r[0].opaque_u32 == 7 &&
          mcf_meta_reply_key_is(&r[0], &keys[0]));
    /* q on a hit without v still answers HD; q hides ms's HD but not NS */
    mcf_meta_args qh = {.flags = MCF_MF_Q};
    add(&q, mcf_meta_enc_mg(room(&q), &keys[1], &qh));
    mcf_meta_args qs = {.flags = MCF_MF_Q};
    add(&q, mcf_meta_enc_ms(room(&q), &keys[1], 1, &qs));
    add_str(&q, "z\r\n");
    mcf_meta_args qadd = {.flags = MCF_MF_Q | MCF_MF_MODE | MCF_MF_OPAQUE, .mode = MCF_MM_ADD,
                          .opaque = 5};
    add(&q, mcf_meta_enc_ms(room(&q), &keys[1], 1, &qadd));
    add_str(&q, "z\r\n");
    n = roundtrip(&q, r, 8);
    CHECK(n == 3 && r[0].type == MCF_M_HD && r[1].type == MCF_M_NS && r[1].opaque_u32 == 5 &&
          r[2].type == MCF_M_MN);
}

TEST(live_binary_key_b_flag)
{
    if (!live())
        return;
    req q = {.n = 0};
    mcf_meta_reply r[8];
    static const char raw[] = "a\0 b\xff\r\n";
    mcf_meta_key k = key_of("ns ", raw, sizeof raw - 1);
    CHECK(k.b64);
    mcf_meta_args s = {.flags = MCF_MF_K | MCF_MF_OPAQUE, .opaque = 1};
    add(&q, mcf_meta_enc_ms(room(&q), &k, 3, &s));
    add_str(&q, "bin\r\n");
    mcf_meta_args g = {.flags = MCF_MF_V | MCF_MF_K | MCF_MF_OPAQUE, .opaque = 2};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &g));
    int n = roundtrip(&q, r, 8);
    CHECKF(n == 3, "%d: %s", n, resp);
    if (n != 3)
        return;
    const char *got;
    size_t gl;
    CHECK(r[0].type == MCF_M_HD && (r[0].has & MCF_MR_B64) && mcf_meta_reply_key_is(&r[0], &k));
    CHECK(r[1].type == MCF_M_VA && (r[1].has & MCF_MR_B64) && mcf_meta_reply_key_is(&r[1], &k) &&
          r[1].data_len == 3 && memcmp(r[1].data, "bin", 3) == 0);
    CHECK(mcf_meta_reply_key(&r[1], &got, &gl) && gl == 3 + sizeof raw - 1 &&
          memcmp(got, "ns a\0 b\xff\r\n", gl) == 0);
    /* the longest binary key works; one byte more is what the server refuses */
    unsigned char big[MCF_META_MAX_BINARY_KEY + 1];
    memset(big, 0x01, sizeof big);
    mcf_meta_key kb = key_of(NULL, (const char *)big, MCF_META_MAX_BINARY_KEY);
    mcf_meta_args kv = {.flags = MCF_MF_K | MCF_MF_V};
    add(&q, mcf_meta_enc_ms(room(&q), &kb, 1, NULL));
    add_str(&q, "B\r\n");
    add(&q, mcf_meta_enc_mg(room(&q), &kb, &kv));
    n = roundtrip(&q, r, 8);
    CHECK(n == 3 && r[0].type == MCF_M_HD && r[1].type == MCF_M_VA && r[1].bkey_len == 186 &&
          mcf_meta_reply_key_is(&r[1], &kb));
    mcf_meta_key over;
    CHECK_RC(mcf_meta_key_init(&over, NULL, 0, (const char *)big, sizeof big, 1), MCF_ERR_BAD_KEY);
    add_str(&q, "mg ");
    add(&q, mcf_meta_b64_encode(room(&q), big, sizeof big));
    add_str(&q, " b v\r\n");
    n = roundtrip(&q, r, 8);
    CHECK(n == 2 && r[0].type == MCF_M_CLIENT_ERROR);
}

TEST(live_ma_auto_create)
{
    if (!live())
        return;
    req q = {.n = 0};
    mcf_meta_reply r[10];
    mcf_meta_key k = key_of(NULL, "live:counter", 12);
    mcf_meta_args miss = {.flags = MCF_MF_V};
    add(&q, mcf_meta_enc_ma(room(&q), &k, &miss));
    mcf_meta_args create = {.flags = MCF_MF_V | MCF_MF_VIVIFY | MCF_MF_INITIAL | MCF_MF_T,
                            .vivify_ttl = 0, .initial = 10};
    add(&q, mcf_meta_enc_ma(room(&q), &k, &create));
    mcf_meta_args inc = {.flags = MCF_MF_V | MCF_MF_DELTA | MCF_MF_C | MCF_MF_K | MCF_MF_OPAQUE,
                         .delta = 5, .opaque = 3};
    add(&q, mcf_meta_enc_ma(room(&q), &k, &inc));
    mcf_meta_args dec = {.flags = MCF_MF_V | MCF_MF_DELTA | MCF_MF_MODE, .delta = 100,
                         .mode = MCF_MM_DECR};
    add(&q, mcf_meta_enc_ma(room(&q), &k, &dec));
    mcf_meta_args plain = {.flags = 0};
    add(&q, mcf_meta_enc_ma(room(&q), &k, &plain));
    mcf_meta_args wrap = {.flags = MCF_MF_V | MCF_MF_DELTA, .delta = UINT64_MAX};
    add(&q, mcf_meta_enc_ma(room(&q), &k, &wrap));
    int n = roundtrip(&q, r, 10);
    CHECKF(n == 7, "%d: %s", n, resp);
    if (n != 7)
        return;
    CHECK(r[0].type == MCF_M_NF);
    CHECK(r[1].type == MCF_M_VA && (r[1].has & MCF_MR_NUMBER) && r[1].number == 10 &&
          r[1].ttl == -1);
    CHECK(r[2].type == MCF_M_VA && r[2].number == 15 && (r[2].has & MCF_MR_CAS) &&
          r[2].opaque_u32 == 3 && mcf_meta_reply_key_is(&r[2], &k));
    CHECK(r[3].type == MCF_M_VA && r[3].number == 0); /* decr stops at 0 */
    CHECK(r[4].type == MCF_M_HD);                      /* now 1 */
    CHECK(r[5].type == MCF_M_VA && r[5].number == 0);  /* incr wraps */
    /* a value that is not a number */
    mcf_meta_key t = key_of(NULL, "live:text", 9);
    add(&q, mcf_meta_enc_ms(room(&q), &t, 3, NULL));
    add_str(&q, "abc\r\n");
    add(&q, mcf_meta_enc_ma(room(&q), &t, &miss));
    n = roundtrip(&q, r, 10);
    CHECK(n == 3 && r[1].type == MCF_M_CLIENT_ERROR);
}

/* Stale-while-revalidate (protocol.txt, Meta Delete "I", Meta Get "W X Z"). */
TEST(live_invalidate_then_win_and_stale)
{
    if (!live())
        return;
    req q = {.n = 0};
    mcf_meta_reply r[10];
    mcf_meta_key k = key_of(NULL, "live:swr", 8);
    add(&q, mcf_meta_enc_ms(room(&q), &k, 5, NULL));
    add_str(&q, "hello\r\n");
    mcf_meta_args inv = {.flags = MCF_MF_I | MCF_MF_TTL | MCF_MF_K | MCF_MF_OPAQUE, .ttl = 30,
                         .opaque = 5};
    add(&q, mcf_meta_enc_md(room(&q), &k, &inv));
    mcf_meta_args g = {.flags = MCF_MF_V | MCF_MF_C | MCF_MF_T};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &g));
    add(&q, mcf_meta_enc_mg(room(&q), &k, &g));
    int n = roundtrip(&q, r, 10);
    CHECKF(n == 5, "%d: %s", n, resp);
    if (n != 5)
        return;
    unsigned wxz = MCF_MR_WIN | MCF_MR_STALE | MCF_MR_WON;
    CHECK(r[1].type == MCF_M_HD && r[1].opaque_u32 == 5 && mcf_meta_reply_key_is(&r[1], &k));
    CHECK(r[2].type == MCF_M_VA && (r[2].has & wxz) == (MCF_MR_WIN | MCF_MR_STALE) &&
          r[2].ttl > 0 && r[2].ttl <= 30 && r[2].data_len == 5);
    CHECK(r[3].type == MCF_M_VA && (r[3].has & wxz) == (MCF_MR_WON | MCF_MR_STALE) &&
          r[3].cas == r[2].cas);
    /* The winner recaches with the CAS it saw before md and I: stored, but
     * still stale; a CAS set with the current CAS makes it fresh. */
    mcf_meta_args re = {.flags = MCF_MF_CAS | MCF_MF_I | MCF_MF_C, .cas = 0};
    mcf_meta_args gc = {.flags = MCF_MF_V | MCF_MF_C};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &gc)); /* r[0]: cas before md */
    n = roundtrip(&q, r, 10);
    CHECK(n == 2 && r[0].type == MCF_M_VA);
    re.cas = r[0].cas - 1; /* md I bumped the CAS: any older one will do */
    add(&q, mcf_meta_enc_ms(room(&q), &k, 3, &re));
    add_str(&q, "new\r\n");
    add(&q, mcf_meta_enc_mg(room(&q), &k, &gc));
    n = roundtrip(&q, r, 10);
    CHECKF(n == 3, "%d: %s", n, resp);
    if (n != 3)
        return;
    CHECK(r[0].type == MCF_M_HD && (r[0].has & MCF_MR_CAS) && r[1].type == MCF_M_VA &&
          (r[1].has & MCF_MR_STALE) && r[1].cas == r[0].cas && r[1].data_len == 3);
    mcf_meta_args fresh = {.flags = MCF_MF_CAS, .cas = r[1].cas};
    add(&q, mcf_meta_enc_ms(room(&q), &k, 3, &fresh));
    add_str(&q, "new\r\n");
    add(&q, mcf_meta_enc_mg(room(&q), &k, &gc));
    n = roundtrip(&q, r, 10);
    CHECK(n == 3 && r[0].type == MCF_M_HD && r[1].type == MCF_M_VA && !(r[1].has & wxz));
    /* N on a miss: vivify, W then Z */
    mcf_meta_key v = key_of(NULL, "live:vivify", 11);
    mcf_meta_args viv = {.flags = MCF_MF_V | MCF_MF_VIVIFY, .vivify_ttl = 30};
    add(&q, mcf_meta_enc_mg(room(&q), &v, &viv));
    add(&q, mcf_meta_enc_mg(room(&q), &v, &viv));
    n = roundtrip(&q, r, 10);
    CHECK(n == 3 && r[0].type == MCF_M_VA && r[0].data_len == 0 &&
          (r[0].has & wxz) == MCF_MR_WIN && (r[1].has & wxz) == MCF_MR_WON);
}

/* Facts about the server version the codec was written against. */
TEST(live_version_gates)
{
    if (!live())
        return;
    char ver[128];
    int got = mcserver_raw(&srv, "version\r\n", "\r\n", ver, sizeof ver);
    if (got <= 0 || strncmp(ver, "VERSION 1.6.18\r\n", 16) != 0) {
        t_skip_case("not memcached 1.6.18");
        return;
    }
    req q = {.n = 0};
    mcf_meta_reply r[8];
    mcf_meta_key k = key_of(NULL, "live:gate", 9);
    /* E (new CAS) is not in 1.6.18 */
    mcf_meta_args e = {.flags = MCF_MF_NEWCAS | MCF_MF_C, .new_cas = 999};
    add(&q, mcf_meta_enc_mg(room(&q), &k, &e));
    /* opaque: 31 bytes pass, 32 do not */
    add_str(&q, "mg live:gate O0123456789012345678901234567890\r\n");
    add_str(&q, "mg live:gate O01234567890123456789012345678901\r\n");
    /* md x (empty the value) is not either */
    mcf_meta_args x = {.flags = MCF_MF_X};
    add(&q, mcf_meta_enc_md(room(&q), &k, &x));
    int n = roundtrip(&q, r, 8);
    CHECK(n == 5 && r[0].type == MCF_M_CLIENT_ERROR && r[1].type == MCF_M_EN &&
          r[1].opaque_len == 31 && r[2].type == MCF_M_CLIENT_ERROR &&
          r[3].type == MCF_M_CLIENT_ERROR);
}

TEST(version_parse_and_gates)
{
    uint32_t v = 0;
    CHECK(mcf_meta_parse_version("VERSION 1.6.18\r\n", 16, &v) && v == MCF_META_VERSION(1, 6, 18));
    CHECK(mcf_meta_parse_version("1.6.9", 5, &v) && v == MCF_META_VERSION(1, 6, 9));
    CHECK(mcf_meta_parse_version("VERSION 1.6.27-rc1", 18, &v) && v == MCF_META_VERSION(1, 6, 27));
    CHECK(MCF_META_VERSION(1, 6, 9) < MCF_META_SINCE_HD &&
          MCF_META_VERSION(1, 10, 0) > MCF_META_SINCE_NEWCAS);
    static const char *bad[] = {"", "VERSION ", "1.6", "1.6.", "1..6", "x1.6.18",
                                "1.6.1234", "1234.6.1", "VERSION mcrouter 0.41", "1,6,18"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(!mcf_meta_parse_version(bad[i], strlen(bad[i]), &v), "accepted '%s'", bad[i]);
    uint32_t since = 0;
    CHECK(mcf_meta_unsupported(MCF_MF_V | MCF_MF_VIVIFY | MCF_MF_I, MCF_META_VERSION(1, 6, 10),
                               &since) == 0);
    CHECK(mcf_meta_unsupported(MCF_MF_NEWCAS, MCF_META_VERSION(1, 6, 18), &since) ==
              MCF_MF_NEWCAS &&
          since == MCF_META_SINCE_NEWCAS);
    CHECK(mcf_meta_unsupported(MCF_MF_X | MCF_MF_Q, MCF_META_VERSION(1, 6, 26), &since) ==
              MCF_MF_X &&
          since == MCF_META_SINCE_X);
    CHECK(mcf_meta_unsupported(MCF_MF_X | MCF_MF_NEWCAS, MCF_META_VERSION(1, 6, 27), &since) == 0);
}

int main(int argc, char **argv)
{
    int rc = t_main(argc, argv);
    if (have_srv > 0)
        mcserver_stop(&srv);
    return rc;
}
