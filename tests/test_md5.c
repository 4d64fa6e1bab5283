/* test_md5.c - src/md5.c against RFC 1321's test suite (appendix A.5) and
 * digests from independent implementations: every expected digest of
 * generated data below was computed with Python's hashlib when the test
 * was written, the 56-byte, 64-byte, 1 MiB and million-'a' ones also with
 * `openssl dgst -md5`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "md5.h"

/* The generated data: byte i is (i * 31 + 7) mod 256, so a length's digest
 * is reproducible from Python with bytes((i*31+7)&0xff for i in range(n)). */
#define PAT_MUL 31
#define PAT_ADD 7
static void pattern(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * PAT_MUL + PAT_ADD);
}

static void hex(const unsigned char md[MCF_MD5_LEN], char out[2 * MCF_MD5_LEN + 1])
{
    for (int i = 0; i < MCF_MD5_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The digest of p[0..n), hashed from a heap block of exactly n bytes (so
 * ASan sees any read past the end), against want (hex). */
static void check_md5(const void *p, size_t n, const char *want, const char *what)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (!copy) {
        CHECKF(0, "%s: out of memory", what);
        return;
    }
    if (n)
        memcpy(copy, p, n);
    unsigned char md[MCF_MD5_LEN];
    char got[2 * MCF_MD5_LEN + 1];
    mcf_md5(copy, n, md);
    hex(md, got);
    CHECKF(strcmp(got, want) == 0, "%s (%zu bytes): %s, want %s", what, n, got, want);
    free(copy);
}

TEST(rfc1321_test_suite)
{
    /* RFC 1321, A.5 */
    static const char *v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890123456"
         "7890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_md5(v[i][0], strlen(v[i][0]), v[i][1], v[i][0]);
}

/* Around the padding's edges: 55 bytes is the longest tail that takes one
 * padded block, 56..63 take two, 64 is a whole block and a padding block;
 * the same again one block on. */
TEST(block_boundaries)
{
    static const struct {
        size_t n;
        const char *md5;
    } v[] = {
        {55, "c9e512626618c9980ef21a96597af94c"},   {56, "ecde7caa08e9f5657c863df107cac60a"},
        {57, "b17b1a018dd6a4d1edda8aca15f17846"},   {63, "2f0301069e1c40af7f6c8f843b1b13f2"},
        {64, "b6bf87c24b1bc334e2541387a92b981b"},   {65, "f168246f08b6134d66bd2a10343fa9f1"},
        {119, "d5dc3d8264de3aa24dee105910ee27fe"},  {120, "bcc139b3848923904860d1eefd6e5923"},
        {127, "27670172396247fa5f68637f13f8933d"},  {128, "3e85b70ffc8df5c735ecf2a8f14f1bee"},
        {129, "e45ecac9930fe93de302f98ba673ba36"},  {1000, "2b1e78d5765de9e10495a01412a1cf22"},
    };
    unsigned char buf[1000];
    pattern(buf, sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_md5(buf, v[i].n, v[i].md5, "pattern");
}

/* Every length 0..256 at once: the digest of the 257 digests laid end to end. */
#define CHAIN_MAX 256
TEST(every_length_to_256)
{
    unsigned char buf[CHAIN_MAX];
    unsigned char all[(CHAIN_MAX + 1) * MCF_MD5_LEN];
    pattern(buf, sizeof buf);
    for (size_t n = 0; n <= CHAIN_MAX; n++)
        mcf_md5(buf, n, all + n * MCF_MD5_LEN);
    check_md5(all, sizeof all, "5e09f8fbfe78f6132b0916d19c13ac51", "digests of lengths 0..256");
}

#define MIB (1u << 20)
#define MILLION 1000000u
TEST(long_inputs)
{
    unsigned char *buf = malloc(MIB);
    if (!buf) {
        CHECK(buf);
        return;
    }
    pattern(buf, MIB);
    check_md5(buf, MIB, "3f2c8bd9cfde6550fdff4b36617c3261", "1 MiB pattern");
    /* A million 'a', a common extra vector (hashlib and openssl agree). */
    memset(buf, 'a', MILLION);
    check_md5(buf, MILLION, "7707d6ae4e027c70eea2a935c2296f21", "a million 'a'");
    free(buf);
}

/* Words are read byte by byte: an input at any alignment hashes the same. */
TEST(unaligned_input)
{
    unsigned char buf[200 + sizeof(long)];
    unsigned char want[MCF_MD5_LEN], got[MCF_MD5_LEN];
    pattern(buf, 200);
    mcf_md5(buf, 200, want);
    for (size_t off = 1; off < sizeof(long); off++) {
        memmove(buf + off, buf + off - 1, 200);
        mcf_md5(buf + off, 200, got);
        CHECKF(memcmp(want, got, sizeof want) == 0, "offset %zu", off);
    }
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
