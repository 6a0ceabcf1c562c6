/* Capture files (src/capture/capture.c) written byte by byte into a temporary directory:
 * several files merged by packet time, standard input, pcapng and nanosecond captures read
 * in microseconds, damaged and truncated files (what could be read is delivered, the damage
 * counted), files that cannot be opened, and the filters. Live interfaces are tested by
 * tests/live. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"

static char directory[4096];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(directory, sizeof(directory), "%s/op25b-capture-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(directory));
}

static void teardown(void)
{
    DIR *dir = opendir(directory);
    if (dir == NULL)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(directory);
}

TestSuite(capture, .init = setup, .fini = teardown);

/* ---- capture files, by hand ---- */

struct record {
    uint32_t seconds;
    uint32_t fraction; /* microseconds, or nanoseconds in a nanosecond file */
    uint32_t captured_length;
    uint32_t wire_length;
    const uint8_t *data;
};

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101 /* DLT_RAW to libpcap's readers */
#define MAGIC_MICRO 0xa1b2c3d4u
#define MAGIC_NANO 0xa1b23c4du
#define T0_SECONDS 1768467600u
#define T0 ((packet_time)T0_SECONDS * PACKET_TIME_SECOND)

static const char *path_of(const char *name)
{
    static char paths[8][4400];
    static unsigned next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof(paths[0]), "%s/%s", directory, name);
    return path;
}

static void put(FILE *file, const void *bytes, size_t length)
{
    cr_assert_eq(fwrite(bytes, 1, length, file), length);
}

static void put32(FILE *file, uint32_t value)
{
    put(file, &value, 4); /* the file's byte order is ours, as its magic number says */
}

/* A classic pcap file; returns its size in bytes. */
static long write_pcap(const char *path, uint32_t magic, uint32_t linktype,
                       const struct record *records, size_t count)
{
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file, "%s", path);
    put32(file, magic);
    uint16_t version[2] = {2, 4};
    put(file, version, sizeof(version));
    put32(file, 0); /* thiszone */
    put32(file, 0); /* sigfigs */
    put32(file, 65535);
    put32(file, linktype);
    for (size_t i = 0; i < count; i++) {
        put32(file, records[i].seconds);
        put32(file, records[i].fraction);
        put32(file, records[i].captured_length);
        put32(file, records[i].wire_length);
        put(file, records[i].data, records[i].captured_length);
    }
    long size = ftell(file);
    cr_assert_eq(fclose(file), 0);
    return size;
}

static void write_bytes(const char *path, const void *bytes, size_t length)
{
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file, "%s", path);
    if (length > 0)
        put(file, bytes, length);
    cr_assert_eq(fclose(file), 0);
}

/* Packet i of file f: bytes that say which they are. */
static uint8_t payloads[4][16][64];

static struct record packet_of(int file, int index, uint32_t seconds, uint32_t micros,
                               uint32_t length)
{
    cr_assert(length >= 2 && length <= sizeof(payloads[0][0]));
    uint8_t *data = payloads[file][index];
    memset(data, 0xee, length);
    data[0] = (uint8_t)file;
    data[1] = (uint8_t)index;
    return (struct record){T0_SECONDS + seconds, micros, length, length, data};
}

static struct capture *open_files(const char *const *files, size_t count)
{
    struct capture_options options = {.files = files, .file_count = count};
    enum capture_error kind;
    char error[512];
    struct capture *capture = capture_open(&options, &kind, error, sizeof(error));
    cr_assert_not_null(capture, "%s", error);
    cr_assert_eq(kind, CAPTURE_ERROR_NONE);
    return capture;
}

static struct capture *open_file(const char *path)
{
    return open_files(&path, 1);
}

/* Everything left in a capture, in the order it came. A packet's bytes are the capture's
 * until the next capture_next, so each is copied (its data then points at the copy). */
struct delivered {
    struct capture_packet packet[32];
    uint8_t bytes[32][64];
    uint8_t file[32], index[32];
    size_t count;
};

static void read_all(struct capture *capture, struct delivered *out)
{
    memset(out, 0, sizeof(*out));
    struct capture_packet packet;
    enum capture_status status;
    while ((status = capture_next(capture, &packet)) == CAPTURE_PACKET) {
        cr_assert_lt(out->count, 32);
        cr_assert_leq(packet.captured_length, sizeof(out->bytes[0]));
        memcpy(out->bytes[out->count], packet.data, packet.captured_length);
        packet.data = out->bytes[out->count];
        out->packet[out->count] = packet;
        out->file[out->count] = packet.captured_length >= 2 ? packet.data[0] : 0xff;
        out->index[out->count] = packet.captured_length >= 2 ? packet.data[1] : 0xff;
        out->count++;
    }
    cr_assert_eq(status, CAPTURE_END);
    cr_assert_eq(capture_next(capture, &packet), CAPTURE_END, "the end stays the end");
}

static uint64_t errors_of(struct capture *capture)
{
    uint64_t received, drops, errors;
    capture_stats(capture, &received, &drops, &errors);
    cr_assert_eq(received, 0, "files receive nothing from a kernel");
    cr_assert_eq(drops, 0);
    return errors;
}

Test(capture, two_files_are_merged_by_packet_time)
{
    struct record a[] = {
        packet_of(0, 0, 1, 0, 20),
        packet_of(0, 1, 3, 0, 30),
        packet_of(0, 2, 5, 250, 60),
        packet_of(0, 3, 7, 0, 20),
    };
    a[1].wire_length = 1500; /* cut by a snaplen */
    struct record b[] = {
        packet_of(1, 0, 2, 0, 40),
        packet_of(1, 1, 4, 999999, 40),
        packet_of(1, 2, 5, 250, 40), /* the same time as a[2]: the file named first wins */
        packet_of(1, 3, 6, 0, 40),
    };
    const char *files[] = {path_of("a.pcap"), path_of("b.pcap")};
    long size_a = write_pcap(files[0], MAGIC_MICRO, LINKTYPE_ETHERNET, a, 4);
    long size_b = write_pcap(files[1], MAGIC_MICRO, LINKTYPE_RAW, b, 4);

    struct capture *capture = open_files(files, 2);
    cr_assert_not(capture_is_live(capture));
    cr_assert_eq(capture_source_count(capture), 2);
    cr_assert_str_eq(capture_source_name(capture, 0), files[0]);
    cr_assert_str_eq(capture_source_name(capture, 1), files[1]);
    cr_assert_null(capture_source_name(capture, 2));
    uint64_t done, total;
    capture_progress(capture, &done, &total);
    cr_assert_eq(total, (uint64_t)(size_a + size_b));

    struct delivered got;
    read_all(capture, &got);
    const uint8_t order[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {0, 2}, {1, 2}, {1, 3}, {0, 3}};
    cr_assert_eq(got.count, 8);
    for (size_t i = 0; i < got.count; i++) {
        cr_assert_eq(got.file[i], order[i][0], "packet %zu", i);
        cr_assert_eq(got.index[i], order[i][1], "packet %zu", i);
        const struct record *r = got.file[i] == 0 ? &a[got.index[i]] : &b[got.index[i]];
        cr_assert_eq(got.packet[i].source, got.file[i], "packet %zu", i);
        cr_assert_eq(got.packet[i].ts, (packet_time)r->seconds * PACKET_TIME_SECOND + r->fraction,
                     "packet %zu", i);
        cr_assert_eq(got.packet[i].captured_length, r->captured_length);
        cr_assert_eq(got.packet[i].wire_length, r->wire_length);
        cr_assert_eq(got.packet[i].linktype, got.file[i] == 0 ? DLT_EN10MB : DLT_RAW);
        if (i > 0)
            cr_assert_geq(got.packet[i].ts, got.packet[i - 1].ts, "one timeline");
    }
    cr_assert_eq(errors_of(capture), 0);
    capture_progress(capture, &done, &total);
    cr_assert_eq(done, total, "both files read to the end");
    capture_close(capture);
}

Test(capture, each_file_keeps_its_own_order)
{
    /* A capture whose clock stepped back: its packets come as recorded (the sensor counts
     * the regression), whether it is read alone or merged. */
    struct record a[] = {packet_of(0, 0, 10, 0, 20), packet_of(0, 1, 5, 0, 20),
                         packet_of(0, 2, 20, 0, 20)};
    struct record b[] = {packet_of(1, 0, 7, 0, 20), packet_of(1, 1, 8, 0, 20)};
    const char *files[] = {path_of("a.pcap"), path_of("b.pcap")};
    write_pcap(files[0], MAGIC_MICRO, LINKTYPE_ETHERNET, a, 3);
    write_pcap(files[1], MAGIC_MICRO, LINKTYPE_ETHERNET, b, 2);

    struct delivered got;
    struct capture *alone = open_file(files[0]);
    read_all(alone, &got);
    capture_close(alone);
    cr_assert_eq(got.count, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(got.index[i], i);

    struct capture *merged = open_files(files, 2);
    read_all(merged, &got);
    capture_close(merged);
    cr_assert_eq(got.count, 5);
    int next[2] = {0, 0};
    for (size_t i = 0; i < got.count; i++)
        cr_assert_eq(got.index[i], next[got.file[i]]++, "packet %zu", i);
    cr_assert_eq(next[0], 3);
    cr_assert_eq(next[1], 2);
}

/* Three packets of 40 bytes; the offset where record i begins. */
static long record_offset(int i)
{
    return 24 + i * (16 + 40);
}

static const char *three_packets(const char *name)
{
    struct record r[] = {packet_of(0, 0, 1, 0, 40), packet_of(0, 1, 2, 0, 40),
                         packet_of(0, 2, 3, 0, 40)};
    const char *path = path_of(name);
    cr_assert_eq(write_pcap(path, MAGIC_MICRO, LINKTYPE_ETHERNET, r, 3), record_offset(3));
    return path;
}

Test(capture, a_truncated_file_delivers_what_was_read_and_counts_an_error)
{
    const struct {
        long size;
        uint64_t errors;
        const char *what;
    } cuts[] = {
        {record_offset(2) + 16 + 25, 1, "inside the third packet's bytes"},
        {record_offset(2) + 7, 1, "inside the third record header"},
        {record_offset(2), 0, "at a record boundary: a shorter file, not a damaged one"},
    };
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        const char *path = three_packets("cut.pcap");
        cr_assert_eq(truncate(path, cuts[c].size), 0);
        struct capture *capture = open_file(path);
        struct delivered got;
        read_all(capture, &got);
        cr_assert_eq(got.count, 2, "%s", cuts[c].what);
        cr_assert_eq(got.index[0], 0);
        cr_assert_eq(got.index[1], 1);
        cr_assert_eq(got.packet[1].ts, T0 + 2 * PACKET_TIME_SECOND);
        cr_assert_eq(errors_of(capture), cuts[c].errors, "%s", cuts[c].what);
        capture_close(capture);
    }
}

/* Standard error into a file for the length of a call, to read what was logged. */
static int saved_stderr = -1;

static void stderr_to(const char *path)
{
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(saved_stderr >= 0 && fd >= 0);
    cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

static void stderr_back(char *text, size_t size)
{
    fflush(stderr);
    cr_assert_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(saved_stderr);
    FILE *file = fopen(path_of("stderr.txt"), "r");
    cr_assert_not_null(file);
    size_t length = fread(text, 1, size - 1, file);
    text[length] = '\0';
    fclose(file);
}

Test(capture, a_damaged_file_is_logged_by_name)
{
    const char *path = three_packets("torn.pcap");
    cr_assert_eq(truncate(path, record_offset(2) + 20), 0);
    struct capture *capture = open_file(path);
    struct delivered got;
    stderr_to(path_of("stderr.txt"));
    read_all(capture, &got);
    char logged[1024];
    stderr_back(logged, sizeof(logged));
    capture_close(capture);
    char expected[4600];
    snprintf(expected, sizeof(expected), "%s: truncated dump file", path);
    cr_assert_not_null(strstr(logged, expected), "%s", logged);
    cr_assert_not_null(strstr(logged, "the rest of this input is skipped"), "%s", logged);
}

Test(capture, a_damaged_file_beside_a_good_one_loses_only_its_own_rest)
{
    const char *damaged = three_packets("damaged.pcap");
    /* The second record says it holds 2 GiB: nothing after it can be trusted. */
    int fd = open(damaged, O_WRONLY);
    cr_assert(fd >= 0);
    uint32_t huge = 0x7fffffffu;
    cr_assert_eq(pwrite(fd, &huge, 4, record_offset(1) + 8), 4);
    close(fd);
    struct record b[] = {packet_of(1, 0, 1, 500, 20), packet_of(1, 1, 2, 500, 20),
                         packet_of(1, 2, 9, 0, 20)};
    const char *good = path_of("good.pcap");
    write_pcap(good, MAGIC_MICRO, LINKTYPE_ETHERNET, b, 3);

    const char *files[] = {damaged, good};
    struct capture *capture = open_files(files, 2);
    struct delivered got;
    read_all(capture, &got);
    cr_assert_eq(got.count, 4);
    const uint8_t order[][2] = {{0, 0}, {1, 0}, {1, 1}, {1, 2}};
    for (size_t i = 0; i < got.count; i++) {
        cr_assert_eq(got.file[i], order[i][0], "packet %zu", i);
        cr_assert_eq(got.index[i], order[i][1], "packet %zu", i);
    }
    cr_assert_eq(errors_of(capture), 1);
    capture_close(capture);
}

static void assert_open_fails(const char *const *files, size_t count, enum capture_error kind,
                              const char *message)
{
    struct capture_options options = {.files = files, .file_count = count};
    enum capture_error got_kind = CAPTURE_ERROR_NONE;
    char error[512] = "";
    cr_assert_null(capture_open(&options, &got_kind, error, sizeof(error)));
    cr_assert_eq(got_kind, kind);
    cr_assert_str_eq(error, message);
}

Test(capture, a_missing_file_is_a_clear_error)
{
    const char *missing = path_of("missing.pcap");
    char message[4600];
    snprintf(message, sizeof(message), "%s: cannot read capture: No such file or directory",
             missing);
    assert_open_fails(&missing, 1, CAPTURE_ERROR_OPEN, message);
    /* Behind a good file too: nothing is half opened. */
    const char *files[] = {three_packets("good.pcap"), missing};
    assert_open_fails(files, 2, CAPTURE_ERROR_OPEN, message);
}

Test(capture, a_file_that_is_no_capture_is_a_clear_error)
{
    const char *text = path_of("notes.txt");
    write_bytes(text, "this is not a capture file at all\n", 34);
    const char *empty = path_of("empty.pcap");
    write_bytes(empty, "", 0);
    const char *paths[] = {text, empty};
    for (size_t i = 0; i < 2; i++) {
        struct capture_options options = {.files = &paths[i], .file_count = 1};
        enum capture_error kind = CAPTURE_ERROR_NONE;
        char error[512] = "";
        cr_assert_null(capture_open(&options, &kind, error, sizeof(error)));
        cr_assert_eq(kind, CAPTURE_ERROR_OPEN);
        char prefix[4600];
        snprintf(prefix, sizeof(prefix), "%s: cannot read capture: ", paths[i]);
        cr_assert_eq(strncmp(error, prefix, strlen(prefix)), 0, "%s", error);
        cr_assert_gt(strlen(error), strlen(prefix), "libpcap's reason follows");
    }
}

Test(capture, sources_must_be_files_or_interfaces)
{
    enum capture_error kind;
    char error[256];
    struct capture_options none = {0};
    cr_assert_null(capture_open(&none, &kind, error, sizeof(error)));
    cr_assert_eq(kind, CAPTURE_ERROR_OPEN);
    const char *file = "x.pcap";
    const char *interface = "lo";
    struct capture_options both = {
        .files = &file, .file_count = 1, .interfaces = &interface, .interface_count = 1};
    cr_assert_null(capture_open(&both, &kind, error, sizeof(error)));
    cr_assert_eq(kind, CAPTURE_ERROR_OPEN);
    cr_assert_str_eq(error, "give capture files or interfaces, not both");
}

/* ---- pcapng, by hand ---- */

static void block(FILE *file, uint32_t type, const void *body, uint32_t length)
{
    uint32_t padded = (length + 3) & ~3u;
    uint32_t total = 12 + padded;
    static const uint8_t zeros[4];
    put32(file, type);
    put32(file, total);
    put(file, body, length);
    put(file, zeros, padded - length);
    put32(file, total);
}

static void interface_block(FILE *file, uint16_t linktype, int tsresol)
{
    uint8_t body[32];
    uint32_t length = 8;
    memset(body, 0, sizeof(body));
    memcpy(body, &linktype, 2);
    uint32_t snaplen = 65535;
    memcpy(body + 4, &snaplen, 4);
    if (tsresol >= 0) {
        uint16_t option[2] = {9, 1}; /* if_tsresol, one byte */
        memcpy(body + length, option, 4);
        body[length + 4] = (uint8_t)tsresol;
        length += 8;
        memset(body + length, 0, 4); /* opt_endofopt */
        length += 4;
    }
    block(file, 1, body, length);
}

static void enhanced_packet(FILE *file, uint32_t interface, uint64_t ticks, const struct record *r)
{
    uint8_t body[20 + 64];
    memcpy(body, &interface, 4);
    uint32_t high = (uint32_t)(ticks >> 32), low = (uint32_t)ticks;
    memcpy(body + 4, &high, 4);
    memcpy(body + 8, &low, 4);
    memcpy(body + 12, &r->captured_length, 4);
    memcpy(body + 16, &r->wire_length, 4);
    memcpy(body + 20, r->data, r->captured_length);
    block(file, 6, body, 20 + r->captured_length);
}

Test(capture, pcapng_reads_in_microseconds_whatever_its_resolution)
{
    const char *path = path_of("two-interfaces.pcapng");
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file);
    uint8_t section[16];
    uint32_t magic = 0x1a2b3c4d;
    uint16_t version[2] = {1, 0};
    int64_t section_length = -1;
    memcpy(section, &magic, 4);
    memcpy(section + 4, version, 4);
    memcpy(section + 8, &section_length, 8);
    block(file, 0x0a0d0d0a, section, sizeof(section));
    interface_block(file, LINKTYPE_ETHERNET, -1); /* microseconds, the default */
    interface_block(file, LINKTYPE_ETHERNET, 9);  /* nanoseconds */
    struct record r0 = packet_of(0, 0, 1, 123456, 30);
    struct record r1 = packet_of(0, 1, 2, 0, 42);
    r1.wire_length = 1514;
    struct record r2 = packet_of(0, 2, 3, 0, 17); /* odd length: padded in the file */
    enhanced_packet(file, 0, (uint64_t)r0.seconds * 1000000 + 123456, &r0);
    enhanced_packet(file, 1, (uint64_t)r1.seconds * 1000000000 + 987654321, &r1);
    enhanced_packet(file, 0, (uint64_t)r2.seconds * 1000000, &r2);
    cr_assert_eq(fclose(file), 0);

    struct capture *capture = open_file(path);
    struct delivered got;
    read_all(capture, &got);
    cr_assert_eq(got.count, 3);
    cr_assert_eq(got.packet[0].ts, T0 + 1 * PACKET_TIME_SECOND + 123456);
    cr_assert_eq(got.packet[1].ts, T0 + 2 * PACKET_TIME_SECOND + 987654, "ns become µs");
    cr_assert_eq(got.packet[2].ts, T0 + 3 * PACKET_TIME_SECOND);
    cr_assert_eq(got.packet[1].captured_length, 42);
    cr_assert_eq(got.packet[1].wire_length, 1514);
    cr_assert_eq(got.packet[2].captured_length, 17);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(got.index[i], i);
        cr_assert_eq(got.packet[i].linktype, DLT_EN10MB);
        cr_assert_eq(got.packet[i].data[got.packet[i].captured_length - 1], 0xee);
    }
    cr_assert_eq(errors_of(capture), 0);
    capture_close(capture);
}

Test(capture, a_nanosecond_pcap_reads_in_microseconds)
{
    struct record r[] = {packet_of(0, 0, 1, 999999999, 20), packet_of(0, 1, 2, 1500, 20)};
    const char *path = path_of("nano.pcap");
    write_pcap(path, MAGIC_NANO, LINKTYPE_ETHERNET, r, 2);
    struct capture *capture = open_file(path);
    struct delivered got;
    read_all(capture, &got);
    cr_assert_eq(got.count, 2);
    cr_assert_eq(got.packet[0].ts, T0 + 1 * PACKET_TIME_SECOND + 999999);
    cr_assert_eq(got.packet[1].ts, T0 + 2 * PACKET_TIME_SECOND + 1);
    capture_close(capture);
}

Test(capture, standard_input_is_read_as_a_file)
{
    const char *path = three_packets("stdin.pcap");
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    struct capture *capture = open_file("-");
    cr_assert_str_eq(capture_source_name(capture, 0), "-");
    struct delivered got;
    read_all(capture, &got);
    cr_assert_eq(got.count, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(got.index[i], i);
        cr_assert_eq(got.packet[i].ts, T0 + (i + 1) * PACKET_TIME_SECOND);
    }
    uint64_t done, total;
    capture_progress(capture, &done, &total);
    cr_assert_eq(total, 0, "a stream's size is unknown");
    cr_assert_eq(errors_of(capture), 0);
    capture_close(capture);
}

/* ---- filters: IPv4/TCP packets without a link layer ---- */

static uint8_t segments[8][40];

static struct record tcp_to(int index, uint16_t port)
{
    uint8_t *p = segments[index];
    memset(p, 0, 40);
    p[0] = 0x45;
    p[3] = 40; /* total length */
    p[8] = 64;
    p[9] = 6;
    const uint8_t src[4] = {198, 51, 100, 10}, dst[4] = {203, 0, 113, 25};
    memcpy(p + 12, src, 4);
    memcpy(p + 16, dst, 4);
    p[20] = (uint8_t)(40000 >> 8);
    p[21] = (uint8_t)40000;
    p[22] = (uint8_t)(port >> 8);
    p[23] = (uint8_t)port;
    p[32] = 5 << 4;
    p[33] = 0x02;
    return (struct record){T0_SECONDS + (uint32_t)index, 0, 40, 40, p};
}

static const char *mixed_ports(void)
{
    struct record r[] = {tcp_to(0, 25), tcp_to(1, 443), tcp_to(2, 25), tcp_to(3, 587)};
    const char *path = path_of("raw.pcap");
    write_pcap(path, MAGIC_MICRO, LINKTYPE_RAW, r, 4);
    return path;
}

/* The destination ports of what the capture delivers, as one string ("25,25"). */
static void ports_delivered(struct capture *capture, char *out, size_t size)
{
    struct delivered got;
    read_all(capture, &got);
    out[0] = '\0';
    for (size_t i = 0; i < got.count; i++) {
        cr_assert_eq(got.packet[i].captured_length, 40);
        const uint8_t *p = got.packet[i].data;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%u", i > 0 ? "," : "", (unsigned)(p[22] << 8 | p[23]));
    }
}

static struct capture *open_filtered(const char *path, const char *filter, const char *prefilter,
                                     const char *prefilter_untagged)
{
    struct capture_options options = {.files = &path,
                                      .file_count = 1,
                                      .filter = filter,
                                      .prefilter = prefilter,
                                      .prefilter_untagged = prefilter_untagged};
    enum capture_error kind;
    char error[512];
    struct capture *capture = capture_open(&options, &kind, error, sizeof(error));
    cr_assert_not_null(capture, "%s", error);
    return capture;
}

Test(capture, the_user_filter_keeps_what_it_matches)
{
    char ports[64];
    struct capture *capture = open_filtered(mixed_ports(), "tcp dst port 25", NULL, NULL);
    ports_delivered(capture, ports, sizeof(ports));
    capture_close(capture);
    cr_assert_str_eq(ports, "25,25");
}

Test(capture, a_bad_filter_is_a_filter_error)
{
    const char *path = mixed_ports();
    struct capture_options options = {.files = &path, .file_count = 1, .filter = "tcp port"};
    enum capture_error kind = CAPTURE_ERROR_NONE;
    char error[512] = "";
    cr_assert_null(capture_open(&options, &kind, error, sizeof(error)));
    cr_assert_eq(kind, CAPTURE_ERROR_FILTER);
    cr_assert_eq(strncmp(error, "bad filter 'tcp port': ", 23), 0, "%s", error);
}

Test(capture, the_prefilter_falls_back_and_never_stops_the_capture)
{
    char ports[64];
    /* The tagged prefilter cannot compile without a link layer; the untagged one applies,
     * with the user's filter beside it. */
    struct capture *capture =
        open_filtered(mixed_ports(), NULL, "vlan and tcp dst port 25", "tcp dst port 25");
    ports_delivered(capture, ports, sizeof(ports));
    capture_close(capture);
    cr_assert_str_eq(ports, "25,25");
    capture = open_filtered(mixed_ports(), "tcp dst port 587", "vlan and tcp", "tcp");
    ports_delivered(capture, ports, sizeof(ports));
    capture_close(capture);
    cr_assert_str_eq(ports, "587");
    /* Neither compiles: everything is read, and the user's filter still holds. */
    capture = open_filtered(mixed_ports(), NULL, "not a (filter", "nor ( this");
    ports_delivered(capture, ports, sizeof(ports));
    capture_close(capture);
    cr_assert_str_eq(ports, "25,443,25,587");
    capture = open_filtered(mixed_ports(), "tcp dst port 443", "not a (filter", "nor ( this");
    ports_delivered(capture, ports, sizeof(ports));
    capture_close(capture);
    cr_assert_str_eq(ports, "443");
}

Test(capture, an_interrupt_ends_the_input_as_a_shutdown)
{
    struct capture *capture = open_file(three_packets("long.pcap"));
    struct capture_packet packet;
    cr_assert_eq(capture_next(capture, &packet), CAPTURE_PACKET);
    capture_interrupt(capture);
    cr_assert_eq(capture_next(capture, &packet), CAPTURE_INTERRUPTED);
    cr_assert_eq(capture_next(capture, &packet), CAPTURE_INTERRUPTED);
    capture_close(capture);
}
