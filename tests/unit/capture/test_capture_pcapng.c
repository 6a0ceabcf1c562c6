/* Capture files (src/capture/capture.c) as libpcap hands them over: pcapng interfaces with
 * if_tsoffset and odd if_tsresol values, offsets that push a time out of any calendar, and
 * the snap length of each source. The files are written here byte by byte from the pcapng
 * layout (draft-ietf-opsawg-pcapng), so nothing rests on another tool. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"

#define S PACKET_TIME_SECOND
#define BASE_SECONDS 1768467600LL /* 2026-01-15T09:00:00Z */

/* ---- a pcapng writer, little-endian ---- */

struct blob {
    uint8_t bytes[4096];
    size_t length;
};

static void put(struct blob *b, const void *data, size_t length)
{
    cr_assert_leq(b->length + length, sizeof(b->bytes));
    memcpy(b->bytes + b->length, data, length);
    b->length += length;
}

static void put32(struct blob *b, uint32_t v)
{
    uint8_t bytes[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, bytes, 4);
}

static void put16(struct blob *b, uint16_t v)
{
    uint8_t bytes[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, bytes, 2);
}

static void put64(struct blob *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

/* A block: type, total length, body (padded to 4 bytes), total length again. */
static void block(struct blob *b, uint32_t type, const struct blob *body)
{
    size_t padded = (body->length + 3) / 4 * 4;
    uint32_t total = (uint32_t)(12 + padded);
    put32(b, type);
    put32(b, total);
    put(b, body->bytes, body->length);
    static const uint8_t zeros[4] = {0};
    put(b, zeros, padded - body->length);
    put32(b, total);
}

static void section_header(struct blob *b)
{
    struct blob body = {.length = 0};
    put32(&body, 0x1a2b3c4d);
    put16(&body, 1);
    put16(&body, 0);
    put64(&body, UINT64_MAX); /* section length unknown */
    block(b, 0x0a0d0d0a, &body);
}

/* An Ethernet interface; resolution < 0 leaves if_tsresol out (microseconds). */
static void interface(struct blob *b, uint32_t snaplen, int resolution, bool has_offset,
                      uint64_t offset)
{
    struct blob body = {.length = 0};
    put16(&body, 1);
    put16(&body, 0);
    put32(&body, snaplen);
    if (resolution >= 0) {
        put16(&body, 9);
        put16(&body, 1);
        uint8_t value[4] = {(uint8_t)resolution, 0, 0, 0};
        put(&body, value, 4);
    }
    if (has_offset) {
        put16(&body, 14);
        put16(&body, 8);
        put64(&body, offset);
    }
    put16(&body, 0);
    put16(&body, 0);
    block(b, 1, &body);
}

static const uint8_t frame[60] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45};

static void packet(struct blob *b, uint32_t interface_id, uint64_t ticks, uint32_t captured)
{
    struct blob body = {.length = 0};
    put32(&body, interface_id);
    put32(&body, (uint32_t)(ticks >> 32));
    put32(&body, (uint32_t)ticks);
    put32(&body, captured);
    put32(&body, sizeof(frame));
    put(&body, frame, captured);
    block(b, 6, &body);
}

static char directory[64];

static const char *write_file(const char *name, const struct blob *b)
{
    static char path[4][128];
    static unsigned next;
    char *out = path[next++ % 4];
    snprintf(out, 128, "%s/%s", directory, name);
    FILE *file = fopen(out, "wb");
    cr_assert_not_null(file);
    cr_assert_eq(fwrite(b->bytes, 1, b->length, file), b->length);
    fclose(file);
    return out;
}

static void setup(void)
{
    snprintf(directory, sizeof(directory), "/tmp/op25b-capture-XXXXXX");
    cr_assert_not_null(mkdtemp(directory));
}

static void teardown(void)
{
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    cr_assert_eq(system(command), 0);
}

TestSuite(capture, .init = setup, .fini = teardown);

/* Reads every packet of the file; returns how many, their times in ts[]. */
static size_t read_all(const char *path, packet_time *ts, size_t max, uint64_t *errors,
                       uint32_t *snaplen)
{
    const char *files[1] = {path};
    struct capture_options options = {.files = files, .file_count = 1};
    enum capture_error kind;
    char error[512];
    struct capture *capture = capture_open(&options, &kind, error, sizeof(error));
    cr_assert_not_null(capture, "%s", error);
    size_t count = 0;
    struct capture_packet packet;
    while (capture_next(capture, &packet) == CAPTURE_PACKET) {
        cr_assert_lt(count, max);
        ts[count++] = packet.ts;
    }
    uint64_t received, drops;
    capture_stats(capture, &received, &drops, errors);
    *snaplen = capture_snaplen(capture);
    capture_close(capture);
    return count;
}

/* Nanoseconds on one interface, 2^-20 s on another, each with an offset: libpcap applies
 * both, and the times come out exact to the microsecond, merged in one file. */
Test(capture, pcapng_offsets_and_odd_resolutions)
{
    struct blob b = {.length = 0};
    section_header(&b);
    interface(&b, 262144, 9, true, (uint64_t)BASE_SECONDS);
    interface(&b, 262144, 0x80 | 20, true, (uint64_t)BASE_SECONDS - 3600);
    packet(&b, 0, 1500000000ull + 123456789ull, sizeof(frame));     /* 1.623456789 s */
    packet(&b, 1, (3600ull + 2) * (1ull << 20) + (1ull << 19), 54); /* 3600 + 2.5 s */
    packet(&b, 0, 3000000000ull, sizeof(frame));                    /* 3 s */
    packet_time ts[8];
    uint64_t errors;
    uint32_t snaplen;
    size_t count = read_all(write_file("odd.pcapng", &b), ts, 8, &errors, &snaplen);
    cr_assert_eq(count, 3);
    cr_assert_eq(ts[0], BASE_SECONDS * S + 1623456);
    cr_assert_eq(ts[1], BASE_SECONDS * S + 2500000);
    cr_assert_eq(ts[2], BASE_SECONDS * S + 3000000);
    cr_assert_eq(errors, 0);
    cr_assert_eq(snaplen, 262144);
}

/* libpcap (1.10) reads a pcapng file's interfaces only while they share one link type and
 * one snap length, so a file has one snap length: an interface with another ends the input
 * as damaged, the packets before it judged. */
Test(capture, pcapng_interfaces_share_one_snap_length)
{
    struct blob b = {.length = 0};
    section_header(&b);
    interface(&b, 262144, -1, false, 0);
    packet(&b, 0, (uint64_t)BASE_SECONDS * 1000000, sizeof(frame));
    interface(&b, 96, -1, false, 0);
    packet(&b, 1, (uint64_t)BASE_SECONDS * 1000000 + 1, 54);
    packet_time ts[4];
    uint64_t errors;
    uint32_t snaplen;
    cr_assert_eq(read_all(write_file("two.pcapng", &b), ts, 4, &errors, &snaplen), 1);
    cr_assert_eq(errors, 1);
    cr_assert_eq(snaplen, 262144);
}

/* An if_tsoffset that sends the seconds past year 9999, one that sends them before year 0
 * (libpcap adds it in unsigned arithmetic, so a negative offset is a huge one): the times are
 * clamped to the four-digit years, and each source is one damaged input, however many of its
 * packets are affected. The UBSan build checks that no arithmetic overflowed. */
Test(capture, pcapng_offsets_out_of_range_are_clamped_and_counted)
{
    struct blob b = {.length = 0};
    section_header(&b);
    interface(&b, 262144, -1, true, (uint64_t)1 << 62);
    packet(&b, 0, 5, sizeof(frame));
    packet(&b, 0, 2000005, sizeof(frame));
    packet_time ts[8];
    uint64_t errors;
    uint32_t snaplen;
    size_t count = read_all(write_file("ahead.pcapng", &b), ts, 8, &errors, &snaplen);
    cr_assert_eq(count, 2);
    for (size_t i = 0; i < count; i++)
        cr_assert(ts[i] > PACKET_TIME_MAX - S && ts[i] <= PACKET_TIME_MAX, "%lld",
                  (long long)ts[i]);
    cr_assert_eq(errors, 1);

    b.length = 0;
    section_header(&b);
    interface(&b, 262144, -1, true, (uint64_t)(-((int64_t)1 << 62)));
    packet(&b, 0, 5, sizeof(frame));
    count = read_all(write_file("behind.pcapng", &b), ts, 8, &errors, &snaplen);
    cr_assert_eq(count, 1);
    cr_assert(ts[0] >= PACKET_TIME_MIN && ts[0] < PACKET_TIME_MIN + S, "%lld", (long long)ts[0]);
    cr_assert_eq(errors, 1);
}

/* 2^-63 s, the finest resolution libpcap takes: its scaling to microseconds wraps inside
 * libpcap (unsigned, so no undefined behaviour), and what comes out is still a valid time. */
Test(capture, pcapng_finest_binary_resolution)
{
    struct blob b = {.length = 0};
    section_header(&b);
    interface(&b, 262144, 0x80 | 63, true, (uint64_t)BASE_SECONDS);
    packet(&b, 0, (uint64_t)1 << 62, sizeof(frame)); /* half a second */
    packet_time ts[2];
    uint64_t errors;
    uint32_t snaplen;
    cr_assert_eq(read_all(write_file("fine.pcapng", &b), ts, 2, &errors, &snaplen), 1);
    cr_assert(ts[0] >= BASE_SECONDS * S && ts[0] < (BASE_SECONDS + 1) * S, "%lld",
              (long long)ts[0]);
    cr_assert_eq(errors, 0);
}

/* The snap length of a classic pcap file is its header's; of several sources, the smallest. */
Test(capture, smallest_snap_length_of_the_sources)
{
    struct blob b = {.length = 0};
    put32(&b, 0xa1b2c3d4);
    put16(&b, 2);
    put16(&b, 4);
    put32(&b, 0);
    put32(&b, 0);
    put32(&b, 64);
    put32(&b, 1);
    put32(&b, (uint32_t)BASE_SECONDS);
    put32(&b, 0);
    put32(&b, 54);
    put32(&b, 60);
    put(&b, frame, 54);
    const char *small = write_file("small.pcap", &b);

    struct blob ng = {.length = 0};
    section_header(&ng);
    interface(&ng, 128, -1, false, 0);
    packet(&ng, 0, (uint64_t)BASE_SECONDS * 1000000, 54);
    const char *files[2] = {write_file("cut.pcapng", &ng), small};
    struct capture_options options = {.files = files, .file_count = 2};
    enum capture_error kind;
    char error[512];
    struct capture *capture = capture_open(&options, &kind, error, sizeof(error));
    cr_assert_not_null(capture, "%s", error);
    cr_assert_eq(capture_snaplen(capture), 64);
    struct capture_packet packet_read;
    cr_assert_eq(capture_next(capture, &packet_read), CAPTURE_PACKET);
    cr_assert_eq(packet_read.captured_length, 54);
    capture_close(capture);
}
