#include "util/sha1.h"

#include <string.h>

/* By hand rather than through OpenSSL's EVP interface: for a one-block message the
 * interface's set-up, finalisation and cleansing cost about twice the compression itself
 * (callgrind: some 2,300 instructions a Community ID, 900 of them compressing). */

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

void sha1_digest(const void *data, size_t length, uint8_t digest[SHA1_DIGEST_LENGTH])
{
    uint32_t state[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    const uint8_t *bytes = data;
    size_t left = length;
    for (; left >= 64; bytes += 64, left -= 64)
        compress(state, bytes);
    /* The tail, the 0x80 byte, zeros and the length in bits: one block, or two when the
     * tail leaves fewer than nine bytes. */
    uint8_t tail[128] = {0};
    memcpy(tail, bytes, left);
    tail[left] = 0x80;
    size_t tail_length = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_length - 1 - i] = (uint8_t)(bits >> (8 * i));
    compress(state, tail);
    if (tail_length == 128)
        compress(state, tail + 64);
    for (int i = 0; i < 5; i++)
        store_be32(digest + 4 * i, state[i]);
}
