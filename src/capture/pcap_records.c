#include "capture/pcap_records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/file_prefetch.h"

#define MAGIC_MICROSECONDS 0xa1b2c3d4u
#define MAGIC_NANOSECONDS 0xa1b23c4du
#define RECORD_HEADER 16
/* libpcap's MAXIMUM_SNAPLEN: max_snaplen_for_dlt of every link type taken here. */
#define CAPLEN_MAX 262144u
/* The buffer read() fills when there is no second core to read ahead on. */
#define READ_BUFFER_BYTES (256u * 1024u)

/* How the libpcap this runs with reads a record's stamp, in each byte order: the file's
 * fields are 32 bits, taken as signed or unsigned depending on the version and on whether it
 * swapped them (1.10.3 sign-extends native ones, not swapped ones). Learned by asking it. */
struct stamp_rules {
    bool known;
    bool usable;
    bool seconds_signed[2]; /* [swapped] */
    bool fraction_signed[2];
};

static struct stamp_rules stamp_rules;

struct pcap_records {
    struct prefetch *prefetch; /* blocks read ahead, or NULL: read() into buffer */
    int fd;
    uint8_t *buffer;
    const uint8_t *chunk; /* the bytes being taken: a block, or what read() gave */
    size_t chunk_length;
    size_t at;
    bool ended;     /* no byte after the chunk */
    int read_error; /* errno of the read that ended the file, or 0 */
    uint8_t *carry; /* a record that runs across chunks, put together */
    bool swapped;
    bool nanoseconds;
    int snapshot;
    uint64_t position;
    struct pcap_pkthdr header;
    char error[PCAP_ERRBUF_SIZE + 64];
};

static uint32_t swap32(uint32_t value)
{
    return __builtin_bswap32(value);
}

static uint32_t field32(const uint8_t *at, bool swapped)
{
    uint32_t value;
    memcpy(&value, at, 4);
    return swapped ? swap32(value) : value;
}

static uint16_t field16(const uint8_t *at, bool swapped)
{
    uint16_t value;
    memcpy(&value, at, 2);
    return swapped ? __builtin_bswap16(value) : value;
}

/* Asks libpcap: one record stamped -5 s and -1500 us, read from memory as any file, in the
 * machine's byte order or the other. false when it cannot be asked or says something else. */
static bool learn_stamp_rule(bool swapped)
{
    uint32_t file[] = {MAGIC_MICROSECONDS, 0x00040002u, 0, 0, 65535, DLT_EN10MB,
                       0xfffffffbu,        0xfffffa24u, 4, 4, 0};
    for (size_t i = 0; swapped && i < sizeof(file) / sizeof(file[0]) - 1; i++)
        file[i] = i == 1 ? 0x04000200u : swap32(file[i]); /* two 16-bit fields */
    FILE *stream = fmemopen(file, sizeof(file), "rb");
    if (stream == NULL)
        return false;
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *pcap =
        pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_MICRO, error);
    if (pcap == NULL) {
        fclose(stream);
        return false;
    }
    struct pcap_pkthdr *header;
    const u_char *data;
    bool known = pcap_next_ex(pcap, &header, &data) == 1 &&
                 (header->ts.tv_sec == -5 || header->ts.tv_sec == 0xfffffffbLL) &&
                 (header->ts.tv_usec == -1500 || header->ts.tv_usec == 0xfffffa24LL);
    if (known) {
        stamp_rules.seconds_signed[swapped] = header->ts.tv_sec == -5;
        stamp_rules.fraction_signed[swapped] = header->ts.tv_usec == -1500;
    }
    pcap_close(pcap);
    return known;
}

static void learn_stamp_rules(void)
{
    stamp_rules.known = true;
    stamp_rules.usable = learn_stamp_rule(false) && learn_stamp_rule(true);
}

bool pcap_records_takes(const uint8_t header[PCAP_RECORDS_FILE_HEADER], int linktype, bool swapped)
{
    if (!stamp_rules.known)
        learn_stamp_rules();
    if (!stamp_rules.usable)
        return false;
    uint32_t magic = field32(header, swapped);
    if (magic != MAGIC_MICROSECONDS && magic != MAGIC_NANOSECONDS)
        return false; /* the patched formats have records of another size */
    if (field16(header + 4, swapped) != 2 || field16(header + 6, swapped) != 4)
        return false; /* older versions may have caplen and len swapped */
    switch (linktype) {
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return true;
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
        return !swapped; /* libpcap byte-swaps these pseudo-headers in swapped files */
    default:
        return false;
    }
}

struct pcap_records *pcap_records_open(int fd, bool prefetch,
                                       const uint8_t header[PCAP_RECORDS_FILE_HEADER], bool swapped,
                                       int snapshot)
{
    struct pcap_records *records = calloc(1, sizeof(*records));
    if (records == NULL)
        return NULL;
    records->fd = fd;
    records->swapped = swapped;
    records->nanoseconds = field32(header, swapped) == MAGIC_NANOSECONDS;
    records->snapshot = snapshot;
    records->position = PCAP_RECORDS_FILE_HEADER;
    records->carry = malloc(RECORD_HEADER + CAPLEN_MAX);
    if (records->carry == NULL) {
        free(records);
        return NULL;
    }
    if (prefetch) {
        /* The thread takes a descriptor of its own over; without one, read() it is. */
        int copy = dup(fd);
        records->prefetch = copy >= 0 ? file_prefetch_start(copy) : NULL;
        if (records->prefetch != NULL) {
            close(fd);
            records->fd = -1;
        }
    }
    if (records->prefetch == NULL && (records->buffer = malloc(READ_BUFFER_BYTES)) == NULL) {
        free(records->carry);
        free(records);
        return NULL;
    }
    /* The file header was libpcap's to read: skip it. */
    records->at = PCAP_RECORDS_FILE_HEADER;
    return records;
}

/* The next bytes of the file into chunk; false at the end or on an error. */
static bool next_chunk(struct pcap_records *records)
{
    if (records->ended)
        return false;
    size_t skip = records->at > records->chunk_length ? records->at - records->chunk_length : 0;
    for (;;) {
        const uint8_t *bytes;
        size_t length;
        int status;
        if (records->prefetch != NULL) {
            status = file_prefetch_next(records->prefetch, &bytes, &length);
        } else {
            ssize_t got = read(records->fd, records->buffer, READ_BUFFER_BYTES);
            if (got < 0 && errno == EINTR)
                continue;
            status = got > 0 ? 1 : got == 0 ? 0 : -1;
            bytes = records->buffer;
            length = got > 0 ? (size_t)got : 0;
        }
        if (status <= 0) {
            records->ended = true;
            records->read_error = status < 0 ? errno : 0;
            return false;
        }
        /* The first chunks begin with the file header, which libpcap read. */
        if (length <= skip) {
            skip -= length;
            continue;
        }
        records->chunk = bytes;
        records->chunk_length = length;
        records->at = skip;
        return true;
    }
}

/* want bytes in a row: in place when the chunk holds them, else put together in carry.
 * Returns how many there are (fewer at the end of the file). */
static size_t take(struct pcap_records *records, size_t want, const uint8_t **out)
{
    if (records->at <= records->chunk_length && records->chunk_length - records->at >= want) {
        *out = records->chunk + records->at;
        records->at += want;
        records->position += want;
        return want;
    }
    size_t got = 0;
    for (;;) {
        if (records->at < records->chunk_length) {
            size_t count = records->chunk_length - records->at;
            if (count > want - got)
                count = want - got;
            memcpy(records->carry + got, records->chunk + records->at, count);
            records->at += count;
            got += count;
        }
        if (got == want || !next_chunk(records))
            break;
    }
    records->position += got;
    *out = records->carry;
    return got;
}

/* As libpcap says it (pcap_fmt_errmsg_for_errno). */
static int read_failed(struct pcap_records *records)
{
    snprintf(records->error, sizeof(records->error), "error reading dump file: %s",
             strerror(records->read_error));
    return -1;
}

static void fill_header(struct pcap_records *records, const uint8_t *bytes)
{
    struct pcap_pkthdr *header = &records->header;
    uint32_t seconds = field32(bytes, records->swapped);
    uint32_t fraction = field32(bytes + 4, records->swapped);
    bool swapped = records->swapped;
    header->ts.tv_sec =
        stamp_rules.seconds_signed[swapped] ? (time_t)(int32_t)seconds : (time_t)seconds;
    header->ts.tv_usec = stamp_rules.fraction_signed[swapped] ? (suseconds_t)(int32_t)fraction
                                                              : (suseconds_t)fraction;
    if (records->nanoseconds)
        header->ts.tv_usec = header->ts.tv_usec / 1000;
    header->caplen = field32(bytes + 8, records->swapped);
    header->len = field32(bytes + 12, records->swapped);
}

/* Beyond the snap length but not beyond what is sane: the first snapshot bytes are the
 * packet, the rest is read and dropped (sf-pcap.c). */
static int take_cut(struct pcap_records *records, const uint8_t **data)
{
    uint32_t caplen = records->header.caplen;
    size_t got = take(records, caplen, data);
    if (got < caplen && records->read_error != 0)
        return read_failed(records);
    if (got < (size_t)records->snapshot) {
        snprintf(records->error, sizeof(records->error),
                 "truncated dump file; tried to read %d captured bytes, only got %zu",
                 records->snapshot, got);
        return -1;
    }
    if (got < caplen) {
        snprintf(records->error, sizeof(records->error),
                 "truncated dump file; tried to read %u captured bytes, only got %zu", caplen, got);
        return -1;
    }
    records->header.caplen = (uint32_t)records->snapshot;
    return 1;
}

/* The record's header or bytes run across chunks, it is longer than the snap length, or
 * the file ends or is damaged: each case as libpcap takes it. */
static int next_slowly(struct pcap_records *records, const struct pcap_pkthdr **header,
                       const uint8_t **data)
{
    const uint8_t *bytes;
    size_t got = take(records, RECORD_HEADER, &bytes);
    if (got < RECORD_HEADER) {
        if (records->read_error != 0)
            return read_failed(records);
        if (got == 0)
            return 0;
        snprintf(records->error, sizeof(records->error),
                 "truncated dump file; tried to read %d header bytes, only got %zu", RECORD_HEADER,
                 got);
        return -1;
    }
    fill_header(records, bytes);
    *header = &records->header;
    uint32_t caplen = records->header.caplen;
    if (caplen > CAPLEN_MAX) {
        if (caplen > (uint32_t)records->snapshot)
            snprintf(records->error, sizeof(records->error),
                     "invalid packet capture length %u, bigger than snaplen of %d", caplen,
                     records->snapshot);
        else
            snprintf(records->error, sizeof(records->error),
                     "invalid packet capture length %u, bigger than maximum of %u", caplen,
                     CAPLEN_MAX);
        return -1;
    }
    if (caplen > (uint32_t)records->snapshot)
        return take_cut(records, data);
    got = take(records, caplen, data);
    if (got < caplen) {
        if (records->read_error != 0)
            return read_failed(records);
        snprintf(records->error, sizeof(records->error),
                 "truncated dump file; tried to read %u captured bytes, only got %zu", caplen, got);
        return -1;
    }
    return 1;
}

int pcap_records_next(struct pcap_records *records, const struct pcap_pkthdr **header,
                      const uint8_t **data)
{
    /* Most records lie whole in the chunk, within the snap length: taken in a few steps. */
    size_t at = records->at;
    if (at <= records->chunk_length && records->chunk_length - at >= RECORD_HEADER) {
        const uint8_t *bytes = records->chunk + at;
        uint32_t caplen = field32(bytes + 8, records->swapped);
        if (caplen <= (uint32_t)records->snapshot && caplen <= CAPLEN_MAX &&
            records->chunk_length - at - RECORD_HEADER >= caplen) {
            fill_header(records, bytes);
            *header = &records->header;
            *data = bytes + RECORD_HEADER;
            records->at = at + RECORD_HEADER + caplen;
            records->position += RECORD_HEADER + caplen;
            return 1;
        }
    }
    return next_slowly(records, header, data);
}

const char *pcap_records_error(const struct pcap_records *records)
{
    return records->error;
}

uint64_t pcap_records_position(const struct pcap_records *records)
{
    return records->position;
}

void pcap_records_close(struct pcap_records *records)
{
    if (records == NULL)
        return;
    if (records->prefetch != NULL)
        file_prefetch_stop(records->prefetch);
    else if (records->fd >= 0)
        close(records->fd);
    free(records->buffer);
    free(records->carry);
    free(records);
}
