/* The in-place reader of classic pcap files (capture/pcap_records.c) against libpcap itself:
 * for each crafted file, both read record for record, and every header, every byte and the
 * message at the end must be the same, read ahead on another thread and with read() alike.
 * The files cover both byte orders, nanosecond stamps, negative stamps, records across the
 * reader's chunks, records beyond the snap length (read and cut) or beyond any sane length,
 * and files cut inside a record header, inside its bytes and inside the part beyond the snap
 * length. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/pcap_records.h"

#define MAX_FILE (8u << 20)

struct file {
    uint8_t *bytes;
    size_t length;
    bool swapped;
};

static void put32(struct file *file, uint32_t value)
{
    if (file->swapped)
        value = __builtin_bswap32(value);
    memcpy(file->bytes + file->length, &value, 4);
    file->length += 4;
}

static void put16(struct file *file, uint16_t value)
{
    if (file->swapped)
        value = __builtin_bswap16(value);
    memcpy(file->bytes + file->length, &value, 2);
    file->length += 2;
}

static void file_begin(struct file *file, bool swapped, bool nanoseconds, uint32_t snaplen,
                       uint32_t linktype)
{
    file->bytes = calloc(1, MAX_FILE);
    cr_assert_not_null(file->bytes);
    file->length = 0;
    file->swapped = swapped;
    put32(file, nanoseconds ? 0xa1b23c4du : 0xa1b2c3d4u);
    put16(file, 2);
    put16(file, 4);
    put32(file, 0);
    put32(file, 0);
    put32(file, snaplen);
    put32(file, linktype);
}

static void record(struct file *file, int32_t seconds, int32_t fraction, uint32_t caplen,
                   uint32_t len)
{
    put32(file, (uint32_t)seconds);
    put32(file, (uint32_t)fraction);
    put32(file, caplen);
    put32(file, len);
    for (uint32_t i = 0; i < caplen && file->length < MAX_FILE; i++)
        file->bytes[file->length++] = (uint8_t)(i * 7 + caplen);
}

static char *write_file(const struct file *file, size_t length)
{
    char *path = strdup("/tmp/op25b-records-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, file->bytes, length), (ssize_t)length);
    close(fd);
    return path;
}

/* libpcap and the reader on the same file, side by side. */
static void compare(const char *path, bool prefetch, size_t *records_read)
{
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *pcap =
        pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, error);
    cr_assert_not_null(pcap, "%s", error);
    int fd = open(path, O_RDONLY);
    uint8_t header[PCAP_RECORDS_FILE_HEADER];
    cr_assert_eq(pread(fd, header, sizeof(header), 0), (ssize_t)sizeof(header));
    cr_assert(pcap_records_takes(header, pcap_datalink(pcap), pcap_is_swapped(pcap) == 1));
    struct pcap_records *records =
        pcap_records_open(fd, prefetch, header, pcap_is_swapped(pcap) == 1, pcap_snapshot(pcap));
    cr_assert_not_null(records);
    size_t count = 0;
    for (;;) {
        struct pcap_pkthdr *want_header;
        const u_char *want_data;
        int want = pcap_next_ex(pcap, &want_header, &want_data);
        const struct pcap_pkthdr *got_header;
        const uint8_t *got_data;
        int got = pcap_records_next(records, &got_header, &got_data);
        if (want == 1) {
            cr_assert_eq(got, 1, "record %zu: libpcap reads it, the reader says %d (%s)", count,
                         got, pcap_records_error(records));
            cr_assert_eq(got_header->ts.tv_sec, want_header->ts.tv_sec, "record %zu: %ld, %ld (%d)",
                         count, (long)got_header->ts.tv_sec, (long)want_header->ts.tv_sec,
                         prefetch);
            cr_assert_eq(got_header->ts.tv_usec, want_header->ts.tv_usec, "record %zu: %ld, %ld",
                         count, (long)got_header->ts.tv_usec, (long)want_header->ts.tv_usec);
            cr_assert_eq(got_header->caplen, want_header->caplen, "record %zu", count);
            cr_assert_eq(got_header->len, want_header->len, "record %zu", count);
            cr_assert(memcmp(got_data, want_data, want_header->caplen) == 0, "record %zu", count);
            count++;
            continue;
        }
        if (want == PCAP_ERROR_BREAK) {
            cr_assert_eq(got, 0, "libpcap ends after %zu records, the reader says %d (%s)", count,
                         got, pcap_records_error(records));
        } else {
            cr_assert_eq(got, -1, "libpcap fails after %zu records (%s)", count, pcap_geterr(pcap));
            cr_assert_str_eq(pcap_records_error(records), pcap_geterr(pcap));
        }
        break;
    }
    *records_read = count;
    pcap_records_close(records);
    pcap_close(pcap);
}

static void compare_both_ways(const struct file *file, size_t length, size_t expected_records)
{
    char *path = write_file(file, length);
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        size_t count;
        compare(path, prefetch == 1, &count);
        cr_assert_eq(count, expected_records, "%zu records read (prefetch %d)", count, prefetch);
    }
    unlink(path);
    free(path);
}

Test(pcap_records, whole_files_in_both_byte_orders_and_resolutions)
{
    for (int variant = 0; variant < 4; variant++) {
        struct file file;
        file_begin(&file, variant & 1, variant & 2, 65535, DLT_EN10MB);
        /* Enough records of growing sizes to run across the 256 KiB and 1 MiB chunks. */
        size_t records = 0;
        for (uint32_t i = 0; file.length < (3u << 20); i++, records++)
            record(&file, 1768467600 + (int32_t)(i / 1000), (int32_t)(i * 997 % 1000000000),
                   60 + i % 1500, 60 + i % 1500 + (i % 3));
        /* Stamps before 1970 and fractions out of range, as they come. */
        record(&file, -5, -1500, 60, 60);
        record(&file, 0, 1999999999, 60, 64);
        compare_both_ways(&file, file.length, records + 2);
        free(file.bytes);
    }
}

Test(pcap_records, beyond_the_snap_length_and_beyond_sanity)
{
    struct file file;
    file_begin(&file, false, false, 128, DLT_EN10MB);
    record(&file, 1, 0, 100, 100);
    record(&file, 2, 0, 3000, 3000); /* read whole, handed on cut to 128 bytes */
    record(&file, 3, 0, 128, 200);
    compare_both_ways(&file, file.length, 3);
    record(&file, 4, 0, 262145, 262145); /* more than any capture holds: the file is damaged */
    compare_both_ways(&file, file.length, 3);
    free(file.bytes);

    file_begin(&file, true, false, 300000, DLT_EN10MB); /* libpcap lowers it to 262144 */
    record(&file, 1, 0, 262144, 262144);
    record(&file, 2, 0, 262145, 262145);
    compare_both_ways(&file, file.length, 1);
    free(file.bytes);
}

Test(pcap_records, files_cut_anywhere)
{
    struct file file;
    file_begin(&file, false, true, 1000, DLT_EN10MB);
    record(&file, 1, 0, 200, 200);
    size_t second = file.length;
    record(&file, 2, 0, 2000, 2000); /* beyond the snap length of 1000 */
    size_t third = file.length;
    record(&file, 3, 0, 300, 300);
    size_t cuts[] = {PCAP_RECORDS_FILE_HEADER,
                     second,
                     second + 5,
                     second + 16,
                     second + 16 + 500,
                     second + 16 + 1000,
                     second + 16 + 1500,
                     third - 1,
                     third + 8,
                     file.length - 1,
                     file.length};
    size_t wanted[] = {0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        compare_both_ways(&file, cuts[i], wanted[i]);
    free(file.bytes);
}

Test(pcap_records, takes_only_what_libpcap_hands_on_untouched)
{
    struct file file;
    uint8_t header[PCAP_RECORDS_FILE_HEADER];
    file_begin(&file, false, false, 65535, DLT_EN10MB);
    memcpy(header, file.bytes, sizeof(header));
    cr_assert(pcap_records_takes(header, DLT_EN10MB, false));
    cr_assert(pcap_records_takes(header, DLT_LINUX_SLL2, false));
    cr_assert(!pcap_records_takes(header, DLT_USB_LINUX_MMAPPED, false));
    free(file.bytes);
    /* Swapped: SLL pseudo-headers are byte-swapped by libpcap, so it reads those. */
    file_begin(&file, true, false, 65535, DLT_LINUX_SLL);
    memcpy(header, file.bytes, sizeof(header));
    cr_assert(!pcap_records_takes(header, DLT_LINUX_SLL, true));
    cr_assert(pcap_records_takes(header, DLT_RAW, true));
    free(file.bytes);
    /* Version 2.3 may have caplen and len swapped; the patched magic has longer records. */
    file_begin(&file, false, false, 65535, DLT_EN10MB);
    file.bytes[6] = 3;
    memcpy(header, file.bytes, sizeof(header));
    cr_assert(!pcap_records_takes(header, DLT_EN10MB, false));
    const uint32_t patched = 0xa1b2cd34u;
    memcpy(header, &patched, 4);
    header[6] = 4;
    cr_assert(!pcap_records_takes(header, DLT_EN10MB, false));
    free(file.bytes);
}
