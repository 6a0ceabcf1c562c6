#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/fanout.h"
#include "capture/file_prefetch.h"
#include "capture/pcap_records.h"
#include "util/log.h"

#define LIVE_POLL_MILLISECONDS 200

struct source;

/* One back-end per kind of source, as libpcap itself is built. */
struct source_ops {
    /* 1: a packet; 0: none right now (live); -1: this source is finished. */
    int (*read)(struct source *source, struct capture_packet *packet);
    void (*stats)(struct source *source, uint64_t *received, uint64_t *drops);
};

struct source {
    const struct source_ops *ops;
    pcap_t *pcap;
    char *name;
    int linktype;
    uint16_t index;
    uint32_t snaplen;
    bool finished;
    bool bad_time_said; /* a timestamp outside the four-digit years was reported */
    bool has_peeked;    /* files: the next packet is read and waiting in peeked */
    struct capture_packet peeked;
    FILE *file;        /* files: the stream under libpcap, for progress */
    char *file_buffer; /* files: the stream's buffer, freed after pcap_close */
    /* Classic pcap files read in place (pcap_records.h): libpcap has read only the file
     * header, from header_bytes, and the filter is run here. */
    struct pcap_records *records;
    uint8_t *header_bytes;
    struct bpf_program program;
    bool has_program;
    uint64_t size;    /* files: bytes in a regular file, 0 when unknown */
    bool prefiltered; /* the policy's prefilter is in place */
    uint64_t *errors;
    const volatile sig_atomic_t *interrupted;
};

struct capture {
    struct source *sources;
    size_t count;
    bool live;
    size_t next_live; /* round-robin start, so one busy interface cannot starve another */
    volatile sig_atomic_t interrupted;
    uint64_t errors;
};

/* libpcap adds a pcapng interface's if_tsoffset to the seconds itself, in unsigned 64-bit
 * arithmetic, and scales the fraction from its if_tsresol (10^-n or 2^-n) in the same way
 * (sf-pcapng.c): an extreme offset or a damaged record gives any time_t, and a fraction
 * outside a second. Both are brought back within the years RFC 3339 can write before any
 * arithmetic of ours, and the first such time of a source is a damaged input, said once; the
 * sensor's packet clock then judges the clamped times like any other far timestamp. */
static packet_time time_of(struct source *source, const struct timeval *ts)
{
    const int64_t min_seconds = PACKET_TIME_MIN / PACKET_TIME_SECOND;
    const int64_t max_seconds = PACKET_TIME_MAX / PACKET_TIME_SECOND;
    int64_t seconds = (int64_t)ts->tv_sec;
    int64_t micros = (int64_t)ts->tv_usec;
    bool bad = seconds < min_seconds || seconds > max_seconds || micros < 0 ||
               micros >= PACKET_TIME_SECOND;
    if (bad && !source->bad_time_said) {
        source->bad_time_said = true;
        (*source->errors)++;
        log_message(LOG_ERROR,
                    "%s: a packet is stamped %lld s and %lld us, outside the years 0000-9999 "
                    "(a pcapng if_tsoffset or if_tsresol out of range, or a damaged record); "
                    "such times are clamped",
                    source->name, (long long)seconds, (long long)micros);
    }
    seconds = seconds < min_seconds ? min_seconds : seconds > max_seconds ? max_seconds : seconds;
    micros = micros < 0 ? 0 : micros >= PACKET_TIME_SECOND ? PACKET_TIME_SECOND - 1 : micros;
    return packet_time_clamp(seconds * PACKET_TIME_SECOND + micros);
}

static int pcap_read(struct source *source, struct capture_packet *packet)
{
    struct pcap_pkthdr *header;
    const u_char *data;
    int status = pcap_next_ex(source->pcap, &header, &data);
    if (status == 1) {
        packet->source = source->index;
        packet->linktype = source->linktype;
        packet->ts = time_of(source, &header->ts);
        packet->data = data;
        packet->captured_length = header->caplen;
        packet->wire_length = header->len;
        return 1;
    }
    if (status == 0)
        return 0;
    if (status == PCAP_ERROR && *source->interrupted) {
        /* A signal cut a read short (no SA_RESTART): that is shutdown, not damage. */
        return -1;
    }
    if (status == PCAP_ERROR) {
        /* A damaged file cannot be resynchronised: what was read before is kept. */
        log_message(LOG_ERROR, "%s: %s; the rest of this input is skipped", source->name,
                    pcap_geterr(source->pcap));
        (*source->errors)++;
    }
    return -1;
}

static void file_stats(struct source *source, uint64_t *received, uint64_t *drops)
{
    (void)source;
    (void)received;
    (void)drops;
}

static void live_stats(struct source *source, uint64_t *received, uint64_t *drops)
{
    struct pcap_stat stat;
    if (pcap_stats(source->pcap, &stat) != 0)
        return;
    *received += stat.ps_recv;
    *drops += (uint64_t)stat.ps_drop + stat.ps_ifdrop;
}

static int records_read(struct source *source, struct capture_packet *packet)
{
    const struct pcap_pkthdr *header;
    const uint8_t *data;
    int status;
    while ((status = pcap_records_next(source->records, &header, &data)) == 1) {
        if (source->has_program && pcap_offline_filter(&source->program, header, data) == 0)
            continue;
        packet->source = source->index;
        packet->linktype = source->linktype;
        packet->ts = time_of(source, &header->ts);
        packet->data = data;
        packet->captured_length = header->caplen;
        packet->wire_length = header->len;
        return 1;
    }
    if (status < 0 && !*source->interrupted) {
        /* As pcap_read says it: the message is libpcap's own. */
        log_message(LOG_ERROR, "%s: %s; the rest of this input is skipped", source->name,
                    pcap_records_error(source->records));
        (*source->errors)++;
    }
    return -1;
}

static const struct source_ops file_ops = {pcap_read, file_stats};
static const struct source_ops records_ops = {records_read, file_stats};
static const struct source_ops live_ops = {pcap_read, live_stats};

static int apply_filter(struct source *source, const char *filter, char *error, size_t error_size)
{
    struct bpf_program program;
    if (pcap_compile(source->pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(error, error_size, "bad filter '%s': %s", filter, pcap_geterr(source->pcap));
        return -1;
    }
    if (source->records != NULL) {
        /* Records read in place never pass through libpcap's loop: the filter runs here. */
        if (source->has_program)
            pcap_freecode(&source->program);
        source->program = program;
        source->has_program = true;
        return 0;
    }
    int status = pcap_setfilter(source->pcap, &program);
    pcap_freecode(&program);
    if (status != 0) {
        snprintf(error, error_size, "%s: cannot set filter: %s", source->name,
                 pcap_geterr(source->pcap));
        return -1;
    }
    return 0;
}

/* libpcap reads a file with two freads per packet through stdio's default buffer, one
 * page, which costs a read system call every few packets. A buffer that holds many
 * packets but still sits in the L2 cache cut the bare read loop's time by about a third on
 * the benchmark's ISP mix (tests/bench; 64 KiB beat 16 KiB, 256 KiB and 1 MiB there). */
#define FILE_BUFFER_BYTES (64 * 1024)

/* Reading ahead pays only with a core to do it on: on one core the thread's extra copy and
 * its switches cost more than they save (tests/bench, taskset -c 0). */
static bool have_spare_core(void)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return false;
    return CPU_COUNT(&allowed) > 1;
}

/* A regular file is read ahead on another core (file_prefetch.c); standard input and pipes
 * the ordinary way, where a signal can cut a blocked read short. */
static FILE *open_stream(const char *path, bool is_stdin, bool *prefetched, uint64_t *size)
{
    *prefetched = false;
    *size = 0;
    if (is_stdin)
        return stdin;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat status;
    if (fstat(fd, &status) == 0 && S_ISREG(status.st_mode))
        *size = (uint64_t)status.st_size;
    if (*size > 0 && have_spare_core()) {
        FILE *stream = file_prefetch_open(fd);
        if (stream != NULL) {
            *prefetched = true;
            return stream;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC); /* file_prefetch_open closed it */
        if (fd < 0)
            return NULL;
    }
    FILE *stream = fdopen(fd, "rb");
    if (stream == NULL)
        close(fd);
    return stream;
}

/* The policy's prefilter, and the user's filter with it; true when set. When it cannot be
 * (a link type without IP, a program too long for the kernel), capture goes on without
 * it: the prefilter only saves work, it never decides what is detected. */
static bool apply_prefilter(struct source *source, const char *prefilter, const char *filter)
{
    size_t size = strlen(prefilter) + (filter != NULL ? strlen(filter) : 0) + 16;
    char *combined = malloc(size);
    if (combined == NULL)
        return false;
    if (filter != NULL)
        snprintf(combined, size, "(%s) and (%s)", prefilter, filter);
    else
        snprintf(combined, size, "%s", prefilter);
    char error[PCAP_ERRBUF_SIZE + 64];
    bool applied = apply_filter(source, combined, error, sizeof(error)) == 0;
    free(combined);
    if (applied)
        log_message(LOG_INFO, "%s: the policy's prefilter in place: %s", source->name, prefilter);
    else
        log_message(LOG_INFO, "%s: prefilter not taken (%s)", source->name,
                    pcap_geterr(source->pcap));
    return applied;
}

static int apply_filter(struct source *source, const char *filter, char *error, size_t error_size);

void capture_refilter(struct capture *capture, const char *prefilter,
                      const char *prefilter_untagged, const char *filter)
{
    for (size_t i = 0; i < capture->count; i++) {
        struct source *source = &capture->sources[i];
        if (!source->prefiltered)
            continue;
        if (prefilter != NULL && (apply_prefilter(source, prefilter, filter) ||
                                  apply_prefilter(source, prefilter_untagged, filter)))
            continue;
        /* Without the prefilter rather than with the old one, which would drop the new
         * prefixes' traffic; the user's filter alone, or none ("" takes every packet). */
        char error[PCAP_ERRBUF_SIZE + 64];
        if (apply_filter(source, filter != NULL ? filter : "", error, sizeof(error)) != 0)
            log_message(LOG_ERROR, "%s", error);
        source->prefiltered = false;
    }
}

/* Said once a source, at start: attempts are still judged, but SMTP facts may be missing. */
static void note_snaplen(struct source *source)
{
    int snaplen = pcap_snapshot(source->pcap);
    source->snaplen = snaplen > 0 ? (uint32_t)snaplen : 0;
    if (source->snaplen > 0 && source->snaplen < CAPTURE_SNAPLEN_SMTP_MIN)
        log_message(LOG_WARNING,
                    "%s: snap length %u is under %u bytes: attempts and verdicts are still "
                    "judged from the headers, but SMTP command and reply lines (up to 512 "
                    "bytes behind up to 256 of headers) may be cut, and what was cut is left "
                    "out of the events%s",
                    source->name, source->snaplen, CAPTURE_SNAPLEN_SMTP_MIN,
                    source->snaplen < 78 ? "; under 78 bytes the TCP header of an IPv6 packet "
                                           "behind an 802.1Q tag (74 bytes untagged) is cut, "
                                           "and those attempts go unseen"
                                         : "");
}

/* A regular classic pcap file: libpcap reads its 24-byte header from a copy in memory, and
 * the records are read in place from then on (pcap_records.h). 1 when so; 0 when the file is
 * for libpcap to read whole (pcapng, another version or link type, too short): nothing
 * changed then. */
static int open_records(struct source *source, const char *path)
{
    if (strcmp(path, "-") == 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat status;
    uint8_t *header = malloc(PCAP_RECORDS_FILE_HEADER);
    if (header == NULL || fstat(fd, &status) != 0 || !S_ISREG(status.st_mode) ||
        pread(fd, header, PCAP_RECORDS_FILE_HEADER, 0) != PCAP_RECORDS_FILE_HEADER)
        goto fail;
    FILE *copy = fmemopen(header, PCAP_RECORDS_FILE_HEADER, "rb");
    if (copy == NULL)
        goto fail;
    char pcap_error[PCAP_ERRBUF_SIZE];
    pcap_t *pcap =
        pcap_fopen_offline_with_tstamp_precision(copy, PCAP_TSTAMP_PRECISION_MICRO, pcap_error);
    if (pcap == NULL) {
        fclose(copy);
        goto fail;
    }
    if (!pcap_records_takes(header, pcap_datalink(pcap), pcap_is_swapped(pcap) == 1))
        goto fail_close;
    source->records = pcap_records_open(fd, (uint64_t)status.st_size > 0 && have_spare_core(),
                                        header, pcap_is_swapped(pcap) == 1, pcap_snapshot(pcap));
    if (source->records == NULL)
        goto fail_close;
    source->pcap = pcap;
    source->header_bytes = header;
    source->size = (uint64_t)status.st_size;
    source->ops = &records_ops;
    return 1;

fail_close:
    pcap_close(pcap);
fail:
    free(header);
    close(fd);
    return 0;
}

static int open_file(struct source *source, const char *path, char *error, size_t error_size)
{
    if (open_records(source, path) == 1)
        return 0;
    char pcap_error[PCAP_ERRBUF_SIZE] = "";
    source->ops = &file_ops;
    bool is_stdin = strcmp(path, "-") == 0;
    bool prefetched;
    FILE *file = open_stream(path, is_stdin, &prefetched, &source->size);
    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot read capture: %s", path, strerror(errno));
        return -1;
    }
    if (!prefetched) {
        /* setvbuf must come before the first read; without memory the default buffer
         * does. Standard input is never closed by libpcap, so its buffer lives as long. */
        char *buffer = malloc(FILE_BUFFER_BYTES);
        if (buffer != NULL && setvbuf(file, buffer, _IOFBF, FILE_BUFFER_BYTES) != 0) {
            free(buffer);
            buffer = NULL;
        }
        if (!is_stdin)
            source->file_buffer = buffer;
    }
    /* Only this thread reads the stream (the read-ahead thread has its own descriptor), so
     * stdio's lock, a pair of atomic operations per fread and two freads per packet once a
     * second thread exists, guards nothing. */
    __fsetlocking(file, FSETLOCKING_BYCALLER);
    /* On success libpcap owns the stream and closes it in pcap_close. */
    source->pcap =
        pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_MICRO, pcap_error);
    if (source->pcap == NULL) {
        snprintf(error, error_size, "%s: cannot read capture: %s", path, pcap_error);
        if (!is_stdin)
            fclose(file);
        return -1;
    }
    source->file = file;
    return 0;
}

static void log_activation(const char *name, int status)
{
    if (status > 0)
        log_message(LOG_WARNING, "%s: %s", name, pcap_statustostr(status));
}

static int open_live(struct source *source, const char *interface,
                     const struct capture_options *options, char *error, size_t error_size)
{
    char pcap_error[PCAP_ERRBUF_SIZE] = "";
    source->ops = &live_ops;
    source->pcap = pcap_create(interface, pcap_error);
    if (source->pcap == NULL) {
        snprintf(error, error_size, "%s: cannot capture: %s", interface, pcap_error);
        return -1;
    }
    int snaplen = options->snaplen > 0 ? options->snaplen : 262144;
    int buffer = (options->buffer_megabytes > 0 ? options->buffer_megabytes : 64) << 20;
    /* Immediate mode off lets libpcap use TPACKET_V3 blocks: the kernel fills whole
     * blocks and wakes us once per block, not once per packet. */
    pcap_set_snaplen(source->pcap, snaplen);
    pcap_set_promisc(source->pcap, 1);
    pcap_set_timeout(source->pcap, 100);
    pcap_set_buffer_size(source->pcap, buffer);
    pcap_set_immediate_mode(source->pcap, 0);
    pcap_set_tstamp_precision(source->pcap, PCAP_TSTAMP_PRECISION_MICRO);
    int status = pcap_activate(source->pcap);
    if (status < 0) {
        snprintf(error, error_size, "%s: cannot capture: %s (%s)", interface,
                 pcap_statustostr(status), pcap_geterr(source->pcap));
        return -1;
    }
    log_activation(interface, status);
    /* One group per interface: the kernel puts sockets of one device only in a group. */
    if (options->fanout_group != 0 &&
        fanout_join(pcap_fileno(source->pcap), (uint16_t)(options->fanout_group + source->index),
                    options->fanout_ipv6_bits, pcap_error, sizeof(pcap_error)) != 0) {
        snprintf(error, error_size, "%s: %s", interface, pcap_error);
        return -1;
    }
    if (pcap_setnonblock(source->pcap, 1, pcap_error) != 0) {
        snprintf(error, error_size, "%s: %s", interface, pcap_error);
        return -1;
    }
    return 0;
}

struct capture *capture_open(const struct capture_options *options, enum capture_error *kind,
                             char *error, size_t error_size)
{
    *kind = CAPTURE_ERROR_OPEN;
    size_t count = options->file_count + options->interface_count;
    if (count == 0 || (options->file_count > 0 && options->interface_count > 0) ||
        count > UINT16_MAX) {
        snprintf(error, error_size, "give capture files or interfaces, not both");
        return NULL;
    }
    struct capture *capture = calloc(1, sizeof(*capture));
    if (capture == NULL)
        goto fail_memory;
    capture->sources = calloc(count, sizeof(struct source));
    if (capture->sources == NULL)
        goto fail_memory;
    capture->live = options->interface_count > 0;
    for (size_t i = 0; i < count; i++) {
        struct source *source = &capture->sources[i];
        const char *name = capture->live ? options->interfaces[i] : options->files[i];
        source->index = (uint16_t)i;
        source->errors = &capture->errors;
        source->interrupted = &capture->interrupted;
        source->name = strdup(name);
        capture->count = i + 1;
        if (source->name == NULL)
            goto fail_memory;
        int status = capture->live ? open_live(source, name, options, error, error_size)
                                   : open_file(source, name, error, error_size);
        if (status != 0)
            goto fail_close;
        source->linktype = pcap_datalink(source->pcap);
        note_snaplen(source);
        if (options->prefilter != NULL &&
            (apply_prefilter(source, options->prefilter, options->filter) ||
             apply_prefilter(source, options->prefilter_untagged, options->filter))) {
            source->prefiltered = true;
            continue;
        }
        if (options->filter != NULL &&
            apply_filter(source, options->filter, error, error_size) != 0) {
            *kind = CAPTURE_ERROR_FILTER;
            goto fail_close;
        }
    }
    *kind = CAPTURE_ERROR_NONE;
    return capture;

fail_memory:
    snprintf(error, error_size, "out of memory");
fail_close:
    capture_close(capture);
    return NULL;
}

/* Files: the packet with the lowest time among all sources goes first (ties: the source
 * named first), so a replay of several mirror-port files sees one timeline. */
static enum capture_status next_from_files(struct capture *capture, struct capture_packet *packet)
{
    /* One file, the common case: nothing to merge, so nothing is held back. */
    if (capture->count == 1) {
        struct source *source = &capture->sources[0];
        if (source->finished)
            return CAPTURE_END;
        if (source->ops->read(source, packet) == 1)
            return CAPTURE_PACKET;
        source->finished = true;
        return CAPTURE_END;
    }
    struct source *earliest = NULL;
    for (size_t i = 0; i < capture->count; i++) {
        struct source *source = &capture->sources[i];
        if (source->finished)
            continue;
        if (!source->has_peeked) {
            if (source->ops->read(source, &source->peeked) != 1) {
                source->finished = true;
                continue;
            }
            source->has_peeked = true;
        }
        if (earliest == NULL || source->peeked.ts < earliest->peeked.ts)
            earliest = source;
    }
    if (earliest == NULL)
        return CAPTURE_END;
    *packet = earliest->peeked;
    earliest->has_peeked = false;
    return CAPTURE_PACKET;
}

static enum capture_status next_from_interfaces(struct capture *capture,
                                                struct capture_packet *packet)
{
    for (;;) {
        if (capture->interrupted)
            return CAPTURE_INTERRUPTED;
        size_t open_sources = 0;
        for (size_t n = 0; n < capture->count; n++) {
            size_t i = (capture->next_live + n) % capture->count;
            struct source *source = &capture->sources[i];
            if (source->finished)
                continue;
            open_sources++;
            int status = source->ops->read(source, packet);
            if (status == 1) {
                capture->next_live = (i + 1) % capture->count;
                return CAPTURE_PACKET;
            }
            if (status < 0)
                source->finished = true;
        }
        if (open_sources == 0)
            return CAPTURE_END;
        struct pollfd fds[capture->count];
        nfds_t used = 0;
        for (size_t i = 0; i < capture->count; i++) {
            int fd = capture->sources[i].finished
                         ? -1
                         : pcap_get_selectable_fd(capture->sources[i].pcap);
            if (fd >= 0) {
                fds[used].fd = fd;
                fds[used].events = POLLIN;
                fds[used].revents = 0;
                used++;
            }
        }
        int ready = poll(fds, used, LIVE_POLL_MILLISECONDS);
        if (ready == 0)
            return CAPTURE_IDLE;
        if (ready < 0 && errno != EINTR) {
            log_message(LOG_ERROR, "poll: %s", strerror(errno));
            return CAPTURE_END;
        }
    }
}

enum capture_status capture_next(struct capture *capture, struct capture_packet *packet)
{
    if (capture->interrupted)
        return CAPTURE_INTERRUPTED;
    enum capture_status status =
        capture->live ? next_from_interfaces(capture, packet) : next_from_files(capture, packet);
    /* A signal that cut a read short ends the input as a shutdown, not as its end. */
    if (status == CAPTURE_END && capture->interrupted)
        return CAPTURE_INTERRUPTED;
    return status;
}

void capture_interrupt(struct capture *capture)
{
    capture->interrupted = 1;
}

bool capture_is_live(const struct capture *capture)
{
    return capture->live;
}

uint32_t capture_snaplen(const struct capture *capture)
{
    uint32_t smallest = 0;
    for (size_t i = 0; i < capture->count; i++) {
        uint32_t snaplen = capture->sources[i].snaplen;
        if (snaplen > 0 && (smallest == 0 || snaplen < smallest))
            smallest = snaplen;
    }
    return smallest;
}

size_t capture_source_count(const struct capture *capture)
{
    return capture->count;
}

const char *capture_source_name(const struct capture *capture, size_t index)
{
    return index < capture->count ? capture->sources[index].name : NULL;
}

void capture_source_describe(const struct capture *capture, size_t index,
                             struct capture_source_info *info)
{
    const struct source *source = &capture->sources[index];
    bool is_stdin = !capture->live && strcmp(source->name, "-") == 0;
    const char *link_type = pcap_datalink_val_to_name(source->linktype);
    *info = (struct capture_source_info){
        .name = is_stdin ? "standard input" : source->name,
        .live = capture->live,
        /* libpcap gives a pcapng file major version 1, a pcap file 2. */
        .format = capture->live                           ? NULL
                  : pcap_major_version(source->pcap) == 1 ? "pcapng"
                                                          : "pcap",
        .link_type = link_type != NULL ? link_type : "unknown",
        .prefiltered = source->prefiltered,
    };
}

void capture_stats(struct capture *capture, uint64_t *received, uint64_t *drops, uint64_t *errors)
{
    *received = 0;
    *drops = 0;
    for (size_t i = 0; i < capture->count; i++) {
        struct source *source = &capture->sources[i];
        if (source->pcap != NULL)
            source->ops->stats(source, received, drops);
    }
    *errors = capture->errors;
}

void capture_progress(const struct capture *capture, uint64_t *done, uint64_t *total)
{
    *done = 0;
    *total = 0;
    for (size_t i = 0; i < capture->count; i++) {
        const struct source *source = &capture->sources[i];
        if (source->size == 0 || (source->file == NULL && source->records == NULL))
            continue;
        long position = source->finished  ? (long)source->size
                        : source->records ? (long)pcap_records_position(source->records)
                                          : ftell(source->file);
        *done += position > 0 ? (uint64_t)position : 0;
        *total += source->size;
    }
}

void capture_close(struct capture *capture)
{
    if (capture == NULL)
        return;
    for (size_t i = 0; i < capture->count; i++) {
        if (capture->sources[i].pcap != NULL)
            pcap_close(capture->sources[i].pcap);
        free(capture->sources[i].file_buffer);
        free(capture->sources[i].header_bytes);
        pcap_records_close(capture->sources[i].records);
        if (capture->sources[i].has_program)
            pcap_freecode(&capture->sources[i].program);
        free(capture->sources[i].name);
    }
    free(capture->sources);
    free(capture);
}
