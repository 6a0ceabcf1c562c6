#include "output/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* File layout, all integers little-endian so a spool survives a move between machines:
 *   segment header: magic "OP25BSPL", u32 version, u32 zero, u64 start
 *   record:         u32 key length, u32 type length, u32 value length, u32 checksum,
 *                   key, type, value
 * start is the offset of the first record still to send: records before it were settled
 * in an earlier run. The checksum (FNV-1a over lengths and bytes) finds a record torn by a
 * crash, since records are not synced one by one. */
#define SEGMENT_MAGIC "OP25BSPL"
#define SEGMENT_VERSION 1
#define SEGMENT_HEADER_BYTES 24
#define SEGMENT_START_OFFSET 16
#define RECORD_HEADER_BYTES 16
#define SEGMENT_SUFFIX ".seg"
#define SEGMENT_NAME_MAX 32
#define LOCK_NAME "lock"
/* Ids start in the middle of the range, so segments can be added at both ends. */
#define FIRST_SEGMENT_ID (UINT64_C(1) << 63)

struct segment {
    uint64_t id;
    int fd;                /* for reading, and for writing the start at close */
    uint64_t end;          /* offset just past the last whole record */
    uint64_t read_offset;  /* the next record to take */
    uint64_t unread;       /* records from read_offset to end */
    uint64_t taken;        /* records taken in this run */
    uint64_t settled;      /* of those, settled */
    uint64_t first_ticket; /* tickets of the records taken, for spool_settle */
    uint64_t last_ticket;
    bool damaged; /* kept on disk for a look once done with */
};

struct spool {
    char *directory;
    int directory_fd;
    int lock_fd;
    uint64_t segment_bytes;
    struct segment *segments; /* oldest first */
    size_t count;
    size_t capacity;
    FILE *writer; /* appends to the last segment when not NULL */
    uint64_t pending;
    bool ids_used; /* lowest_id and highest_id name files that exist or existed */
    uint64_t lowest_id;
    uint64_t highest_id;
    bool peeked; /* peeked_record, in the buffer, is the one at the reader's position */
    struct spool_record peeked_record;
    uint64_t peeked_length;
    uint8_t *buffer;
    size_t buffer_size;
};

static void put_u32(uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static void put_u64(uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static uint32_t get_u32(const uint8_t *in)
{
    uint32_t value = 0;
    for (int i = 3; i >= 0; i--)
        value = value << 8 | in[i];
    return value;
}

static uint64_t get_u64(const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = value << 8 | in[i];
    return value;
}

static uint32_t fnv1a(uint32_t hash, const void *data, size_t length)
{
    const uint8_t *bytes = data;
    for (size_t i = 0; i < length; i++) {
        hash ^= bytes[i];
        hash *= 16777619u;
    }
    return hash;
}

static uint32_t record_checksum(const uint8_t *lengths, const uint8_t *payload, size_t size)
{
    return fnv1a(fnv1a(2166136261u, lengths, 12), payload, size);
}

static void segment_name(uint64_t id, char *name, size_t size)
{
    snprintf(name, size, "%016" PRIx64 SEGMENT_SUFFIX, id);
}

static bool parse_segment_name(const char *name, uint64_t *id)
{
    if (strlen(name) != 16 + strlen(SEGMENT_SUFFIX) || strcmp(name + 16, SEGMENT_SUFFIX) != 0)
        return false;
    uint64_t value = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return false;
        value = value << 4 | (uint64_t)digit;
    }
    *id = value;
    return true;
}

static int read_exact(int fd, void *buffer, size_t size, uint64_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread(fd, (uint8_t *)buffer + done, size - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -1 : 0;
        done += (size_t)got;
    }
    return 1;
}

static int ensure_buffer(struct spool *spool, size_t size)
{
    if (size <= spool->buffer_size)
        return 0;
    uint8_t *grown = realloc(spool->buffer, size);
    if (grown == NULL)
        return -1;
    spool->buffer = grown;
    spool->buffer_size = size;
    return 0;
}

/* Reads the record at offset into the buffer and points *record into it: 1 with *length
 * its size on disk, 0 at a clean end of data, -1 on a torn or damaged record or a read
 * error. */
static int read_record(struct spool *spool, int fd, uint64_t offset, struct spool_record *record,
                       uint64_t *length)
{
    uint8_t header[RECORD_HEADER_BYTES];
    int status = read_exact(fd, header, sizeof(header), offset);
    if (status <= 0)
        return status;
    uint32_t key_length = get_u32(header), type_length = get_u32(header + 4);
    uint32_t value_length = get_u32(header + 8);
    if (key_length > SPOOL_KEY_MAX || type_length > SPOOL_TYPE_MAX ||
        value_length > SPOOL_VALUE_MAX)
        return -1;
    size_t payload = (size_t)key_length + type_length + value_length;
    if (ensure_buffer(spool, payload + 1) != 0)
        return -1;
    if (read_exact(fd, spool->buffer, payload, offset + RECORD_HEADER_BYTES) != 1)
        return -1;
    if (record_checksum(header, spool->buffer, payload) != get_u32(header + 12))
        return -1;
    const char *bytes = (const char *)spool->buffer;
    record->key = bytes;
    record->key_length = key_length;
    record->type = bytes + key_length;
    record->type_length = type_length;
    record->value = bytes + key_length + type_length;
    record->value_length = value_length;
    *length = RECORD_HEADER_BYTES + payload;
    return 1;
}

static struct segment *add_segment(struct spool *spool, size_t index)
{
    if (spool->count == spool->capacity) {
        size_t capacity = spool->capacity ? spool->capacity * 2 : 8;
        struct segment *grown = realloc(spool->segments, capacity * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        spool->segments = grown;
        spool->capacity = capacity;
    }
    memmove(&spool->segments[index + 1], &spool->segments[index],
            (spool->count - index) * sizeof(*spool->segments));
    spool->count++;
    struct segment *segment = &spool->segments[index];
    memset(segment, 0, sizeof(*segment));
    segment->fd = -1;
    return segment;
}

static int open_segment(const struct spool *spool, uint64_t id, int flags)
{
    char name[SEGMENT_NAME_MAX];
    segment_name(id, name, sizeof(name));
    return openat(spool->directory_fd, name, flags | O_CLOEXEC, 0600);
}

static bool is_writing(const struct spool *spool, const struct segment *segment)
{
    return spool->writer != NULL && segment == &spool->segments[spool->count - 1];
}

static void close_writer(struct spool *spool)
{
    if (spool->writer == NULL)
        return;
    if (fclose(spool->writer) != 0)
        log_message(LOG_ERROR, "spool %s: writing: %s", spool->directory, strerror(errno));
    spool->writer = NULL;
}

/* Records before the reader's position are done with: the next start skips them. */
static void write_start(struct spool *spool, struct segment *segment)
{
    uint8_t start[8];
    put_u64(start, segment->read_offset);
    if (pwrite(segment->fd, start, sizeof(start), SEGMENT_START_OFFSET) != sizeof(start) ||
        fsync(segment->fd) != 0)
        log_message(LOG_WARNING,
                    "spool %s: cannot record progress in segment %016" PRIx64
                    " (%s); its records will be sent again",
                    spool->directory, segment->id, strerror(errno));
}

/* Deletes a segment that is done with, unless it is damaged: that one stays for a look,
 * its whole records marked as sent. */
static void remove_segment(struct spool *spool, size_t index)
{
    struct segment *segment = &spool->segments[index];
    if (is_writing(spool, segment))
        close_writer(spool);
    char name[SEGMENT_NAME_MAX];
    segment_name(segment->id, name, sizeof(name));
    if (segment->damaged)
        write_start(spool, segment);
    else if (unlinkat(spool->directory_fd, name, 0) != 0)
        log_message(LOG_WARNING, "spool %s: cannot delete %s: %s", spool->directory, name,
                    strerror(errno));
    if (segment->fd >= 0)
        close(segment->fd);
    memmove(&spool->segments[index], &spool->segments[index + 1],
            (spool->count - index - 1) * sizeof(*spool->segments));
    spool->count--;
}

/* Nothing left to read and every record taken was settled. */
static bool segment_done(const struct segment *segment)
{
    return segment->unread == 0 && segment->settled == segment->taken;
}

/* Ids of new segments stay clear of every file seen, kept damaged ones included. */
static void note_id(struct spool *spool, uint64_t id)
{
    if (!spool->ids_used || id < spool->lowest_id)
        spool->lowest_id = id;
    if (!spool->ids_used || id > spool->highest_id)
        spool->highest_id = id;
    spool->ids_used = true;
}

/* Checks a segment left by an earlier run and counts its records from the stored start.
 * A torn tail (a crash while writing) ends the segment; nothing after it is trusted. */
static int load_segment(struct spool *spool, uint64_t id)
{
    char name[SEGMENT_NAME_MAX];
    segment_name(id, name, sizeof(name));
    int fd = open_segment(spool, id, O_RDWR);
    if (fd < 0) {
        log_message(LOG_WARNING, "spool %s: cannot open %s: %s", spool->directory, name,
                    strerror(errno));
        return 0;
    }
    uint8_t header[SEGMENT_HEADER_BYTES];
    uint64_t start = 0;
    if (read_exact(fd, header, sizeof(header), 0) == 1)
        start = get_u64(header + SEGMENT_START_OFFSET);
    if (start < SEGMENT_HEADER_BYTES || memcmp(header, SEGMENT_MAGIC, 8) != 0 ||
        get_u32(header + 8) != SEGMENT_VERSION) {
        log_message(LOG_WARNING, "spool %s: %s is not a spool segment; left alone",
                    spool->directory, name);
        close(fd);
        return 0;
    }
    uint64_t offset = start, records = 0, length;
    struct spool_record record;
    while (read_record(spool, fd, offset, &record, &length) == 1) {
        offset += length;
        records++;
    }
    struct stat info;
    bool damaged = fstat(fd, &info) != 0 || (uint64_t)info.st_size > offset;
    if (damaged)
        log_message(LOG_WARNING,
                    "spool %s: %s is damaged or was cut short at byte %" PRIu64 "; the %" PRIu64
                    " records before that will be sent, the file is kept",
                    spool->directory, name, offset, records);
    size_t index = spool->count;
    while (index > 0 && spool->segments[index - 1].id > id)
        index--;
    struct segment *segment = add_segment(spool, index);
    if (segment == NULL) {
        close(fd);
        return -1;
    }
    segment->id = id;
    segment->fd = fd;
    segment->read_offset = start;
    segment->end = offset;
    segment->unread = records;
    segment->damaged = damaged;
    spool->pending += records;
    return 0;
}

static int load_segments(struct spool *spool)
{
    int fd = dup(spool->directory_fd);
    DIR *directory = fd >= 0 ? fdopendir(fd) : NULL;
    if (directory == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct dirent *entry;
    int status = 0;
    while (status == 0 && (entry = readdir(directory)) != NULL) {
        uint64_t id;
        if (parse_segment_name(entry->d_name, &id)) {
            note_id(spool, id);
            status = load_segment(spool, id);
        }
    }
    closedir(directory);
    /* Segments whose every record went out in an earlier run. */
    for (size_t i = spool->count; status == 0 && i-- > 0;) {
        if (segment_done(&spool->segments[i]) && !spool->segments[i].damaged)
            remove_segment(spool, i);
    }
    return status;
}

struct spool *spool_open(const char *directory, uint64_t segment_bytes, char *error,
                         size_t error_size)
{
    struct spool *spool = calloc(1, sizeof(*spool));
    if (spool == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    spool->segment_bytes = segment_bytes ? segment_bytes : SPOOL_DEFAULT_SEGMENT_BYTES;
    spool->directory = strdup(directory);
    if (spool->directory == NULL) {
        snprintf(error, error_size, "out of memory");
        goto err_free_spool;
    }
    if (mkdir(directory, 0700) != 0 && errno != EEXIST) {
        snprintf(error, error_size, "spool %s: cannot create: %s", directory, strerror(errno));
        goto err_free_directory;
    }
    spool->directory_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (spool->directory_fd < 0) {
        snprintf(error, error_size, "spool %s: cannot open: %s", directory, strerror(errno));
        goto err_free_directory;
    }
    /* Two sensors in one spool would send each other's events and delete them. */
    spool->lock_fd = openat(spool->directory_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (spool->lock_fd < 0) {
        snprintf(error, error_size, "spool %s: cannot create %s: %s", directory, LOCK_NAME,
                 strerror(errno));
        goto err_close_directory;
    }
    if (flock(spool->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(error, error_size, "spool %s: %s", directory,
                 errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
        goto err_close_lock;
    }
    if (load_segments(spool) != 0) {
        snprintf(error, error_size, "spool %s: cannot read: %s", directory, strerror(errno));
        goto err_close_segments;
    }
    if (spool->pending > 0)
        log_message(LOG_INFO, "spool %s: %" PRIu64 " events of an earlier run go out first",
                    directory, spool->pending);
    return spool;

err_close_segments:
    for (size_t i = 0; i < spool->count; i++)
        close(spool->segments[i].fd);
    free(spool->segments);
    free(spool->buffer);
err_close_lock:
    close(spool->lock_fd);
err_close_directory:
    close(spool->directory_fd);
err_free_directory:
    free(spool->directory);
err_free_spool:
    free(spool);
    return NULL;
}

void spool_close(struct spool *spool)
{
    if (spool == NULL)
        return;
    if (spool->writer != NULL && (fflush(spool->writer) != 0 || fsync(fileno(spool->writer)) != 0))
        log_message(LOG_ERROR, "spool %s: writing: %s", spool->directory, strerror(errno));
    for (size_t i = spool->count; i-- > 0;) {
        struct segment *segment = &spool->segments[i];
        if (segment->taken > 0 && segment->settled == segment->taken) {
            if (segment->unread == 0) {
                remove_segment(spool, i);
                continue;
            }
            write_start(spool, segment);
        }
    }
    close_writer(spool);
    for (size_t i = 0; i < spool->count; i++)
        close(spool->segments[i].fd);
    free(spool->segments);
    free(spool->buffer);
    close(spool->lock_fd);
    close(spool->directory_fd);
    free(spool->directory);
    free(spool);
}

/* A new, empty segment file with its header: the writing side and a descriptor for reading. */
static FILE *create_segment(struct spool *spool, uint64_t id, int *read_fd)
{
    int fd = open_segment(spool, id, O_RDWR | O_CREAT | O_EXCL);
    if (fd < 0)
        return NULL;
    uint8_t header[SEGMENT_HEADER_BYTES] = {0};
    memcpy(header, SEGMENT_MAGIC, 8);
    put_u32(header + 8, SEGMENT_VERSION);
    put_u64(header + SEGMENT_START_OFFSET, SEGMENT_HEADER_BYTES);
    *read_fd = open_segment(spool, id, O_RDWR);
    FILE *stream = *read_fd >= 0 ? fdopen(fd, "w") : NULL;
    if (stream != NULL && fwrite(header, 1, sizeof(header), stream) == sizeof(header))
        return stream;
    int saved = errno;
    if (stream != NULL)
        fclose(stream);
    else
        close(fd);
    if (*read_fd >= 0)
        close(*read_fd);
    *read_fd = -1;
    char name[SEGMENT_NAME_MAX];
    segment_name(id, name, sizeof(name));
    unlinkat(spool->directory_fd, name, 0);
    errno = saved;
    return NULL;
}

/* fwrite may not be handed NULL, even for no bytes (C11 7.1.4). */
static bool write_bytes(FILE *stream, const char *bytes, size_t length)
{
    return length == 0 || fwrite(bytes, 1, length, stream) == length;
}

static int write_record(FILE *stream, const struct spool_record *record)
{
    uint8_t header[RECORD_HEADER_BYTES];
    put_u32(header, (uint32_t)record->key_length);
    put_u32(header + 4, (uint32_t)record->type_length);
    put_u32(header + 8, (uint32_t)record->value_length);
    uint32_t hash = fnv1a(2166136261u, header, 12);
    hash = fnv1a(hash, record->key, record->key_length);
    hash = fnv1a(hash, record->type, record->type_length);
    hash = fnv1a(hash, record->value, record->value_length);
    put_u32(header + 12, hash);
    if (fwrite(header, 1, sizeof(header), stream) != sizeof(header) ||
        !write_bytes(stream, record->key, record->key_length) ||
        !write_bytes(stream, record->type, record->type_length) ||
        !write_bytes(stream, record->value, record->value_length))
        return -1;
    return 0;
}

static uint64_t record_bytes(const struct spool_record *record)
{
    return RECORD_HEADER_BYTES + record->key_length + record->type_length + record->value_length;
}

static bool record_fits(const struct spool *spool, const struct spool_record *record)
{
    if (record->key_length <= SPOOL_KEY_MAX && record->type_length <= SPOOL_TYPE_MAX &&
        record->value_length <= SPOOL_VALUE_MAX)
        return true;
    log_message(LOG_ERROR, "spool %s: a %zu-byte event is too large to spool", spool->directory,
                record->value_length);
    return false;
}

/* Adds a segment at index whose file is open for writing. */
static struct segment *start_segment(struct spool *spool, size_t index, uint64_t id, FILE **out)
{
    int read_fd = -1;
    FILE *stream = create_segment(spool, id, &read_fd);
    struct segment *segment = stream != NULL ? add_segment(spool, index) : NULL;
    if (segment == NULL) {
        log_message(LOG_ERROR, "spool %s: cannot create a segment: %s", spool->directory,
                    strerror(errno));
        if (stream != NULL) {
            fclose(stream);
            close(read_fd);
        }
        return NULL;
    }
    note_id(spool, id);
    segment->id = id;
    segment->fd = read_fd;
    segment->end = segment->read_offset = SEGMENT_HEADER_BYTES;
    *out = stream;
    return segment;
}

int spool_append(struct spool *spool, const struct spool_record *record)
{
    if (!record_fits(spool, record))
        return -1;
    struct segment *last = spool->count > 0 ? &spool->segments[spool->count - 1] : NULL;
    if (spool->writer != NULL && last->end >= spool->segment_bytes)
        close_writer(spool); /* full: it stays for the reader */
    if (spool->writer == NULL) {
        uint64_t id = spool->ids_used ? spool->highest_id + 1 : FIRST_SEGMENT_ID;
        last = start_segment(spool, spool->count, id, &spool->writer);
        if (last == NULL)
            return -1;
    }
    if (write_record(spool->writer, record) != 0) {
        /* A torn record would hide every later one: cut it off, go on in a new segment. */
        log_message(LOG_ERROR, "spool %s: writing: %s", spool->directory, strerror(errno));
        fflush(spool->writer);
        if (ftruncate(fileno(spool->writer), (off_t)last->end) != 0)
            log_message(LOG_ERROR, "spool %s: %s", spool->directory, strerror(errno));
        close_writer(spool);
        return -1;
    }
    last->end += record_bytes(record);
    last->unread++;
    spool->pending++;
    return 0;
}

uint64_t spool_pending(const struct spool *spool)
{
    return spool->pending;
}

static struct segment *reader_segment(struct spool *spool)
{
    for (size_t i = 0; i < spool->count; i++) {
        if (spool->segments[i].unread > 0)
            return &spool->segments[i];
    }
    return NULL;
}

int spool_peek(struct spool *spool, struct spool_record *record)
{
    /* While the producer has no room, every event asks again for the same record. */
    if (spool->peeked) {
        *record = spool->peeked_record;
        return 1;
    }
    struct segment *segment;
    while ((segment = reader_segment(spool)) != NULL) {
        /* The reader may catch up with records still in the writer's buffer. */
        if (is_writing(spool, segment) && fflush(spool->writer) != 0)
            log_message(LOG_ERROR, "spool %s: writing: %s", spool->directory, strerror(errno));
        uint64_t length;
        if (read_record(spool, segment->fd, segment->read_offset, record, &length) == 1) {
            spool->peeked = true;
            spool->peeked_record = *record;
            spool->peeked_length = length;
            return 1;
        }
        log_message(LOG_ERROR,
                    "spool %s: segment %016" PRIx64 " cannot be read at byte %" PRIu64
                    "; its %" PRIu64 " remaining events are lost",
                    spool->directory, segment->id, segment->read_offset, segment->unread);
        spool->pending -= segment->unread;
        segment->unread = 0;
        segment->damaged = true;
        if (is_writing(spool, segment))
            close_writer(spool);
    }
    return 0;
}

void spool_take(struct spool *spool, uint64_t ticket)
{
    struct segment *segment = reader_segment(spool);
    if (!spool->peeked || segment == NULL)
        return;
    spool->peeked = false;
    if (segment->taken == 0)
        segment->first_ticket = ticket;
    segment->last_ticket = ticket;
    segment->taken++;
    segment->read_offset += spool->peeked_length;
    segment->unread--;
    spool->pending--;
}

void spool_settle(struct spool *spool, uint64_t ticket)
{
    /* Front to back: a segment prepended while another was half read holds tickets that
     * fall inside the other's range, and is found first. */
    for (size_t i = 0; i < spool->count; i++) {
        struct segment *segment = &spool->segments[i];
        if (segment->taken == 0 || ticket < segment->first_ticket || ticket > segment->last_ticket)
            continue;
        segment->settled++;
        if (segment_done(segment))
            remove_segment(spool, i);
        return;
    }
}

int spool_prepend(struct spool *spool, const struct spool_record *records, size_t count)
{
    if (count == 0)
        return 0;
    spool->peeked = false; /* the oldest record is about to change */
    for (size_t i = 0; i < count; i++) {
        if (!record_fits(spool, &records[i]))
            return -1;
    }
    uint64_t id = spool->ids_used ? spool->lowest_id - 1 : FIRST_SEGMENT_ID;
    FILE *stream = NULL;
    struct segment *segment = start_segment(spool, 0, id, &stream);
    if (segment == NULL)
        return -1;
    uint64_t end = segment->end;
    int status = 0;
    for (size_t i = 0; i < count && status == 0; i++) {
        status = write_record(stream, &records[i]);
        end += record_bytes(&records[i]);
    }
    if (status != 0 || fflush(stream) != 0 || fsync(fileno(stream)) != 0) {
        log_message(LOG_ERROR, "spool %s: writing: %s", spool->directory, strerror(errno));
        fclose(stream);
        segment->damaged = false;
        remove_segment(spool, 0);
        return -1;
    }
    fclose(stream);
    segment->end = end;
    segment->unread = count;
    spool->pending += count;
    return 0;
}

const char *spool_directory(const struct spool *spool)
{
    return spool->directory;
}
