/* SHA-1 against the FIPS 180 examples and against OpenSSL for every length around the
 * block boundaries (the padding spills into a second block from 56 bytes on): the portable
 * rounds, and the SHA extensions where this machine has them. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <string.h>

#include "util/sha1.h"

static void hex(const uint8_t *digest, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA1_DIGEST_LENGTH; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[2 * SHA1_DIGEST_LENGTH] = '\0';
}

static void check_text(const char *text, const char *expected)
{
    uint8_t digest[SHA1_DIGEST_LENGTH];
    char text_hex[2 * SHA1_DIGEST_LENGTH + 1];
    sha1_digest(text, strlen(text), digest);
    hex(digest, text_hex);
    cr_assert_str_eq(text_hex, expected, "SHA-1 of \"%s\"", text);
}

Test(sha1, fips_examples)
{
    check_text("", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_text("abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
               "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

Test(sha1, a_million_a)
{
    static char text[1000001];
    memset(text, 'a', 1000000);
    check_text(text, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    uint8_t digest[SHA1_DIGEST_LENGTH];
    char digest_hex[2 * SHA1_DIGEST_LENGTH + 1];
    sha1_digest_portable(text, 1000000, digest);
    hex(digest, digest_hex);
    cr_assert_str_eq(digest_hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

Test(sha1, same_as_openssl)
{
    uint8_t data[300];
    uint64_t state = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < sizeof(data); i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        data[i] = (uint8_t)(state >> 56);
    }
    for (size_t length = 0; length <= sizeof(data); length++) {
        uint8_t ours[SHA1_DIGEST_LENGTH], portable[SHA1_DIGEST_LENGTH], theirs[EVP_MAX_MD_SIZE];
        unsigned int theirs_length = 0;
        sha1_digest(data, length, ours);
        sha1_digest_portable(data, length, portable);
        cr_assert_eq(EVP_Digest(data, length, theirs, &theirs_length, EVP_sha1(), NULL), 1);
        cr_assert_eq(theirs_length, SHA1_DIGEST_LENGTH);
        cr_assert_eq(memcmp(ours, theirs, SHA1_DIGEST_LENGTH), 0, "length %zu (%s)", length,
                     sha1_accelerated() ? "SHA extensions" : "portable");
        cr_assert_eq(memcmp(portable, theirs, SHA1_DIGEST_LENGTH), 0, "length %zu, portable",
                     length);
    }
}
