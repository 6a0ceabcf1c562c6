/* What the fuzz targets share: the link types an input's first byte picks from, and how a
 * broken promise is reported. */
#ifndef OP25B_FUZZ_COMMON_H
#define OP25B_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "decode/decode.h"

/* Checks are not instrumented: their comparisons would slow every run and feed the fuzzer
 * coverage of the harness instead of the code under test. */
#define FUZZ_CHECKER __attribute__((no_sanitize("coverage")))

/* Any broken promise aborts, which libFuzzer reports as a crash with the input. */
#define FUZZ_FAIL(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "fuzz: " __VA_ARGS__);                                                     \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* pcap LINKTYPE_ values by selector byte. make_seeds.py writes the same indexes: keep the
 * two lists in step. */
static const int fuzz_link_types[] = {
    1,   /* Ethernet */
    101, /* raw IP */
    113, /* Linux cooked capture (SLL) */
    276, /* Linux cooked capture v2 (SLL2) */
    0,   /* BSD loopback (null) */
    12,  /* raw IP (DLT_RAW on most systems) */
    14,  /* raw IP (DLT_RAW on OpenBSD) */
    108, /* OpenBSD loopback */
    228, /* raw IPv4 */
    229, /* raw IPv6 */
};

#define FUZZ_LINK_TYPE_COUNT (sizeof(fuzz_link_types) / sizeof(fuzz_link_types[0]))

static inline int fuzz_link_type(uint8_t selector)
{
    return fuzz_link_types[selector % FUZZ_LINK_TYPE_COUNT];
}

/* A link type the decoder dropped would make every input that picks it useless. */
static inline void fuzz_check_link_types(void)
{
    for (size_t i = 0; i < FUZZ_LINK_TYPE_COUNT; i++) {
        if (!decode_link_supported(fuzz_link_types[i]))
            FUZZ_FAIL("link type %d is no longer decoded", fuzz_link_types[i]);
    }
}

#endif
