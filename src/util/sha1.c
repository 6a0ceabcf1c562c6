#include "util/sha1.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA1_HAVE_X86 1
#endif

/* By hand rather than through OpenSSL's EVP interface: for a one-block message the
 * interface's set-up, finalisation and cleansing cost more than the compression itself
 * (callgrind: some 2,300 instructions a Community ID). The compression uses the x86 SHA
 * extensions where the processor has them (as OpenSSL does: in C, the 80 rounds' chain of
 * dependencies costs several hundred cycles a block), the portable rounds elsewhere. */

static uint32_t rotate(uint32_t value, unsigned bits)
{
    return (value << bits) | (value >> (32 - bits));
}

static uint32_t load_be32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

static void store_be32(uint8_t *bytes, uint32_t value)
{
    bytes[0] = (uint8_t)(value >> 24);
    bytes[1] = (uint8_t)(value >> 16);
    bytes[2] = (uint8_t)(value >> 8);
    bytes[3] = (uint8_t)value;
}

/* Five rounds per step, the roles of a..e rotating through the arguments instead of five
 * moves a round; the four round functions of the standard, with its constants. */
#define CHOOSE(b, c, d) ((((c) ^ (d)) & (b)) ^ (d))
#define PARITY(b, c, d) ((b) ^ (c) ^ (d))
#define MAJORITY(b, c, d) ((((b) | (c)) & (d)) | ((b) & (c)))
#define ROUND(f, k, a, b, c, d, e, word)                                                           \
    do {                                                                                           \
        (e) += rotate(a, 5) + f(b, c, d) + (k) + (word);                                           \
        (b) = rotate(b, 30);                                                                       \
    } while (0)
#define FIVE_ROUNDS(f, k, i)                                                                       \
    do {                                                                                           \
        ROUND(f, k, a, b, c, d, e, w[(i)]);                                                        \
        ROUND(f, k, e, a, b, c, d, w[(i) + 1]);                                                    \
        ROUND(f, k, d, e, a, b, c, w[(i) + 2]);                                                    \
        ROUND(f, k, c, d, e, a, b, w[(i) + 3]);                                                    \
        ROUND(f, k, b, c, d, e, a, w[(i) + 4]);                                                    \
    } while (0)

static void compress(uint32_t state[5], const uint8_t block[64])
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = load_be32(block + 4 * i);
    for (int i = 16; i < 80; i++)
        w[i] = rotate(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    for (int i = 0; i < 20; i += 5)
        FIVE_ROUNDS(CHOOSE, 0x5a827999u, i);
    for (int i = 20; i < 40; i += 5)
        FIVE_ROUNDS(PARITY, 0x6ed9eba1u, i);
    for (int i = 40; i < 60; i += 5)
        FIVE_ROUNDS(MAJORITY, 0x8f1bbcdcu, i);
    for (int i = 60; i < 80; i += 5)
        FIVE_ROUNDS(PARITY, 0xca62c1d6u, i);
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
}

#ifdef SHA1_HAVE_X86
/* The standard's rounds four at a time (sha1rnds4) with the message schedule in the same
 * instructions (sha1msg1, sha1msg2, xor), the layout of Intel's reference: a..d in one
 * register, e folded into the next four words (sha1nexte). A step after the first three
 * takes the schedule one group on: cur is the group's words, next, prev and later the
 * groups they become. */
#define SHA_STEP(ea, eb, cur, next, later, prev, f)                                                \
    do {                                                                                           \
        ea = _mm_sha1nexte_epu32(ea, cur);                                                         \
        eb = abcd;                                                                                 \
        next = _mm_sha1msg2_epu32(next, cur);                                                      \
        abcd = _mm_sha1rnds4_epu32(abcd, ea, f);                                                   \
        prev = _mm_sha1msg1_epu32(prev, cur);                                                      \
        later = _mm_xor_si128(later, cur);                                                         \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3"))) static void compress_sha_ni(uint32_t state[5],
                                                                        const uint8_t *block)
{
    const __m128i order = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1b);
    __m128i e0 = _mm_set_epi32((int)state[4], 0, 0, 0), e1;
    __m128i abcd_before = abcd, e_before = e0;
    __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)block), order);
    __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16)), order);
    __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 32)), order);
    __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 48)), order);
    /* Rounds 0-11: the schedule starts. */
    e0 = _mm_add_epi32(e0, m0);
    e1 = abcd;
    abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
    e1 = _mm_sha1nexte_epu32(e1, m1);
    e0 = abcd;
    abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
    m0 = _mm_sha1msg1_epu32(m0, m1);
    e0 = _mm_sha1nexte_epu32(e0, m2);
    e1 = abcd;
    abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
    m1 = _mm_sha1msg1_epu32(m1, m2);
    m0 = _mm_xor_si128(m0, m2);
    /* Rounds 12-79, the function changing every 20 rounds (the last steps compute schedule
     * words past the 80th, which nothing reads). */
    SHA_STEP(e1, e0, m3, m0, m1, m2, 0);
    SHA_STEP(e0, e1, m0, m1, m2, m3, 0);
    SHA_STEP(e1, e0, m1, m2, m3, m0, 1);
    SHA_STEP(e0, e1, m2, m3, m0, m1, 1);
    SHA_STEP(e1, e0, m3, m0, m1, m2, 1);
    SHA_STEP(e0, e1, m0, m1, m2, m3, 1);
    SHA_STEP(e1, e0, m1, m2, m3, m0, 1);
    SHA_STEP(e0, e1, m2, m3, m0, m1, 2);
    SHA_STEP(e1, e0, m3, m0, m1, m2, 2);
    SHA_STEP(e0, e1, m0, m1, m2, m3, 2);
    SHA_STEP(e1, e0, m1, m2, m3, m0, 2);
    SHA_STEP(e0, e1, m2, m3, m0, m1, 2);
    SHA_STEP(e1, e0, m3, m0, m1, m2, 3);
    SHA_STEP(e0, e1, m0, m1, m2, m3, 3);
    SHA_STEP(e1, e0, m1, m2, m3, m0, 3);
    SHA_STEP(e0, e1, m2, m3, m0, m1, 3);
    SHA_STEP(e1, e0, m3, m0, m1, m2, 3);
    e0 = _mm_sha1nexte_epu32(e0, e_before);
    abcd = _mm_add_epi32(abcd, abcd_before);
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1b));
    state[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

/* cpuid once (in a virtual machine every cpuid traps to the hypervisor): leaf 7's SHA bit,
 * leaf 1's SSSE3 and SSE4.1. */
static bool has_sha_ni(void)
{
    static int known; /* 0: not asked yet, 1: no, 2: yes */
    int answer = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (answer == 0) {
        unsigned a, b, c, d, leaf1_c = 0;
        bool sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0;
        if (__get_cpuid(1, &a, &b, &leaf1_c, &d) == 0)
            sha = false;
        sha = sha && (leaf1_c & (1u << 9)) != 0 && (leaf1_c & (1u << 19)) != 0;
        answer = sha ? 2 : 1;
        __atomic_store_n(&known, answer, __ATOMIC_RELAXED);
    }
    return answer == 2;
}
#endif

bool sha1_accelerated(void)
{
#ifdef SHA1_HAVE_X86
    return has_sha_ni();
#else
    return false;
#endif
}

static void digest_with(bool accelerated, const void *data, size_t length,
                        uint8_t digest[SHA1_DIGEST_LENGTH])
{
    uint32_t state[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    const uint8_t *bytes = data;
    size_t left = length;
    void (*compress_block)(uint32_t *, const uint8_t *) = compress;
#ifdef SHA1_HAVE_X86
    if (accelerated)
        compress_block = compress_sha_ni;
#else
    (void)accelerated;
#endif
    for (; left >= 64; bytes += 64, left -= 64)
        compress_block(state, bytes);
    /* The tail, the 0x80 byte, zeros and the length in bits: one block, or two when the
     * tail leaves fewer than nine bytes. */
    uint8_t tail[128] = {0};
    memcpy(tail, bytes, left);
    tail[left] = 0x80;
    size_t tail_length = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_length - 1 - i] = (uint8_t)(bits >> (8 * i));
    compress_block(state, tail);
    if (tail_length == 128)
        compress_block(state, tail + 64);
    for (int i = 0; i < 5; i++)
        store_be32(digest + 4 * i, state[i]);
}

void sha1_digest(const void *data, size_t length, uint8_t digest[SHA1_DIGEST_LENGTH])
{
    digest_with(sha1_accelerated(), data, length, digest);
}

void sha1_digest_portable(const void *data, size_t length, uint8_t digest[SHA1_DIGEST_LENGTH])
{
    digest_with(false, data, length, digest);
}
