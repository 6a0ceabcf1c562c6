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
#include <time.h>
#include <unistd.h>

#include "output/spool_file.h"
#include "util/log.h"

#define LOCK_NAME "lock"
/* Ids start in the middle of the range, so segments can be added at both ends. */
#define FIRST_SEGMENT_ID (UINT64_C(1) << 63)

struct segment {
    uint64_t id;
    int fd;                /* read, appended to (the last segment) and its start rewritten */
    uint64_t end;          /* offset just past the last whole record */
    uint64_t synced_end;   /* what the last sync made durable */
    uint64_t unsynced;     /* records from synced_end to end */
    uint64_t read_offset;  /* the next record to take */
    uint64_t unread;       /* records from read_offset to end */
    uint64_t taken;        /* records taken in this run */
    uint64_t settled;      /* of those, settled */
    uint64_t first_ticket; /* tickets of the records taken, for spool_settle */
    uint64_t last_ticket;
    bool damaged; /* set aside as NAME.damaged once done with */
};

struct spool {
    char *directory;
    int directory_fd;
    int lock_fd;
    uid_t owner; /* the directory's: every file the spool holds is given to it */
    gid_t group;
    uint64_t segment_bytes;
    struct segment *segments; /* oldest first */
    size_t count;
    size_t capacity;
    bool writing;     /* the last segment takes appends */
    double synced_at; /* monotonic seconds of the writing segment's last sync */
    uint64_t pending;
    uint64_t lost;
    uint64_t damaged;
    uint64_t refused; /* appends refused in a row: the first and the recovery are logged */
    bool ids_used;    /* lowest_id and highest_id name files that exist or existed */
    uint64_t lowest_id;
    uint64_t highest_id;
    bool peeked; /* peeked_record, in the buffer, is the one at the reader's position */
    struct spool_record peeked_record;
    uint64_t peeked_length;
    struct spool_buffer read_buffer;
    struct spool_buffer write_buffer;
};

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
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

/* Never through a symbolic link: the directory may belong to the user root gives it to. */
static int open_segment(const struct spool *spool, uint64_t id, int flags)
{
    char name[SPOOL_SEGMENT_NAME_MAX];
    spool_segment_name(id, name, sizeof(name));
    return openat(spool->directory_fd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* Run as root, the spool's files go to the directory's owner, so that the user the program
 * becomes (-u), or a later run started as that user, can use them. Only a regular file with
 * a single link: anything else in a directory another user writes could be a trap. */
static void give_file(const struct spool *spool, int fd, const char *name)
{
    struct stat info;
    if (geteuid() != 0 || fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_nlink != 1 ||
        (info.st_uid == spool->owner && info.st_gid == spool->group))
        return;
    if (fchown(fd, spool->owner, spool->group) != 0)
        log_message(LOG_WARNING, "spool %s: cannot give %s to the directory's owner: %s",
                    spool->directory, name, strerror(errno));
}

static struct segment *writer(struct spool *spool)
{
    return spool->writing ? &spool->segments[spool->count - 1] : NULL;
}

/* Records before the reader's position are done with: the next start skips them. */
static void write_start(struct spool *spool, struct segment *segment)
{
    uint8_t start[8];
    size_t written;
    spool_put_u64(start, segment->read_offset);
    if (spool_write_exact(segment->fd, start, sizeof(start), SPOOL_START_OFFSET, &written) != 0 ||
        fsync(segment->fd) != 0)
        log_message(LOG_WARNING,
                    "spool %s: cannot record progress in segment %016" PRIx64
                    " (%s); its records will be sent again",
                    spool->directory, segment->id, strerror(errno));
}

static void set_aside(struct spool *spool, const char *name)
{
    char aside[SPOOL_SEGMENT_NAME_MAX + 16];
    if (spool_set_aside(spool->directory_fd, name, aside, sizeof(aside)) == 0)
        log_message(LOG_ERROR, "spool %s: damaged segment %s set aside as %s", spool->directory,
                    name, aside);
    else
        log_message(LOG_ERROR,
                    "spool %s: cannot set damaged segment %s aside (%s); the next start "
                    "checks it again",
                    spool->directory, name, strerror(errno));
}

static void mark_damaged(struct spool *spool, struct segment *segment)
{
    if (!segment->damaged)
        spool->damaged++;
    segment->damaged = true;
}

/* Deletes a segment that is done with; a damaged one is set aside instead, its whole
 * records marked as sent. */
static void remove_segment(struct spool *spool, size_t index)
{
    struct segment *segment = &spool->segments[index];
    if (writer(spool) == segment)
        spool->writing = false;
    char name[SPOOL_SEGMENT_NAME_MAX];
    spool_segment_name(segment->id, name, sizeof(name));
    if (segment->damaged) {
        write_start(spool, segment);
        set_aside(spool, name);
    } else if (unlinkat(spool->directory_fd, name, 0) != 0) {
        log_message(LOG_WARNING, "spool %s: cannot delete %s: %s", spool->directory, name,
                    strerror(errno));
    }
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

/* Ids of new segments stay clear of every file seen, those set aside included. */
static void note_id(struct spool *spool, uint64_t id)
{
    if (!spool->ids_used || id < spool->lowest_id)
        spool->lowest_id = id;
    if (!spool->ids_used || id > spool->highest_id)
        spool->highest_id = id;
    spool->ids_used = true;
}

/* A segment left by an earlier run, open for reading and writing; -1 (logged) when it
 * cannot be, or is no regular file. */
static int open_loaded(struct spool *spool, uint64_t id, const char *name, struct stat *info)
{
    int fd = open_segment(spool, id, O_RDWR | O_NONBLOCK);
    if (fd < 0 || fstat(fd, info) != 0 || !S_ISREG(info->st_mode)) {
        log_message(LOG_WARNING, "spool %s: cannot use %s: %s; left alone", spool->directory, name,
                    fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    give_file(spool, fd, name);
    return fd;
}

/* The whole records from start: how many, and where the last one ends. */
static uint64_t count_records(struct spool *spool, int fd, uint64_t start, uint64_t *end)
{
    uint64_t offset = start, records = 0, length;
    struct spool_record record;
    while (spool_read_record(fd, offset, &spool->read_buffer, &record, &length) == 1) {
        offset += length;
        records++;
    }
    *end = offset;
    return records;
}

/* Checks a segment left by an earlier run and counts its records from the stored start.
 * Whatever follows the last whole record (a crash while writing, damage on disk) is not
 * trusted: the segment is damaged, its whole records are sent, and then it is set aside. */
static int load_segment(struct spool *spool, uint64_t id)
{
    char name[SPOOL_SEGMENT_NAME_MAX];
    spool_segment_name(id, name, sizeof(name));
    struct stat info;
    int fd = open_loaded(spool, id, name, &info);
    if (fd < 0)
        return 0;
    uint8_t header[SPOOL_SEGMENT_HEADER_BYTES];
    uint64_t start = 0, end = 0, records = 0;
    size_t header_length =
        spool_read_exact(fd, header, sizeof(header), 0) == 1 ? sizeof(header) : 0;
    enum spool_header kind =
        spool_check_header(header, header_length, (uint64_t)info.st_size, &start);
    if (kind == SPOOL_HEADER_OTHER_VERSION) {
        log_message(LOG_WARNING, "spool %s: %s was written by another version; left alone",
                    spool->directory, name);
        close(fd);
        return 0;
    }
    if (kind == SPOOL_HEADER_OK)
        records = count_records(spool, fd, start, &end);
    bool damaged = kind == SPOOL_HEADER_DAMAGED || (uint64_t)info.st_size > end;
    if (damaged) {
        spool->damaged++;
        log_message(LOG_ERROR,
                    "spool %s: %s is damaged at byte %" PRIu64 " of %" PRIu64 "; %" PRIu64
                    " whole events before that are sent, the rest of the file is kept",
                    spool->directory, name, kind == SPOOL_HEADER_OK ? end : 0,
                    (uint64_t)info.st_size, records);
    }
    if (damaged && records == 0) {
        close(fd);
        set_aside(spool, name);
        return 0;
    }
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
    segment->end = segment->synced_end = end;
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
        enum spool_name kind = spool_parse_name(entry->d_name, &id);
        if (kind != SPOOL_NAME_OTHER)
            note_id(spool, id);
        if (kind == SPOOL_NAME_SEGMENT)
            status = load_segment(spool, id);
    }
    closedir(directory);
    /* Segments whose every record went out in an earlier run. */
    for (size_t i = spool->count; status == 0 && i-- > 0;) {
        if (segment_done(&spool->segments[i]))
            remove_segment(spool, i);
    }
    return status;
}

/* The directory, its owner, and the lock that keeps a second sensor out. */
static int open_directory(struct spool *spool, const char *directory, char *error,
                          size_t error_size)
{
    if (mkdir(directory, 0700) != 0 && errno != EEXIST) {
        snprintf(error, error_size, "spool %s: cannot create: %s", directory, strerror(errno));
        return -1;
    }
    struct stat info;
    spool->directory_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (spool->directory_fd < 0 || fstat(spool->directory_fd, &info) != 0) {
        snprintf(error, error_size, "spool %s: cannot open: %s", directory, strerror(errno));
        return -1;
    }
    spool->owner = info.st_uid;
    spool->group = info.st_gid;
    /* Two sensors in one spool would send each other's events and delete them. */
    spool->lock_fd =
        openat(spool->directory_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (spool->lock_fd < 0) {
        snprintf(error, error_size, "spool %s: cannot create %s: %s", directory, LOCK_NAME,
                 strerror(errno));
        return -1;
    }
    if (flock(spool->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(error, error_size, "spool %s: %s", directory,
                 errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
        return -1;
    }
    give_file(spool, spool->lock_fd, LOCK_NAME);
    return 0;
}

static void free_spool(struct spool *spool)
{
    for (size_t i = 0; i < spool->count; i++)
        close(spool->segments[i].fd);
    free(spool->segments);
    free(spool->read_buffer.bytes);
    free(spool->write_buffer.bytes);
    if (spool->lock_fd >= 0)
        close(spool->lock_fd);
    if (spool->directory_fd >= 0)
        close(spool->directory_fd);
    free(spool->directory);
    free(spool);
}

struct spool *spool_open(const char *directory, uint64_t segment_bytes, char *error,
                         size_t error_size)
{
    struct spool *spool = calloc(1, sizeof(*spool));
    if (spool == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    spool->directory_fd = spool->lock_fd = -1;
    spool->segment_bytes = segment_bytes ? segment_bytes : SPOOL_DEFAULT_SEGMENT_BYTES;
    spool->directory = strdup(directory);
    if (spool->directory == NULL) {
        snprintf(error, error_size, "out of memory");
        free_spool(spool);
        return NULL;
    }
    if (open_directory(spool, directory, error, error_size) != 0) {
        free_spool(spool);
        return NULL;
    }
    if (load_segments(spool) != 0) {
        snprintf(error, error_size, "spool %s: cannot read: %s", directory, strerror(errno));
        free_spool(spool);
        return NULL;
    }
    if (spool->pending > 0)
        log_message(LOG_INFO, "spool %s: %" PRIu64 " events of an earlier run go out first",
                    directory, spool->pending);
    return spool;
}

void spool_close(struct spool *spool)
{
    if (spool == NULL)
        return;
    spool_sync(spool);
    for (size_t i = spool->count; i-- > 0;) {
        struct segment *segment = &spool->segments[i];
        if (segment_done(segment))
            remove_segment(spool, i);
        else if (segment->taken > 0 && segment->settled == segment->taken)
            write_start(spool, segment);
    }
    free_spool(spool);
}

/* A new segment file holding only its header, or -1 with errno. */
static int create_segment(struct spool *spool, uint64_t id)
{
    int fd = open_segment(spool, id, O_RDWR | O_CREAT | O_EXCL);
    if (fd < 0)
        return -1;
    uint8_t header[SPOOL_SEGMENT_HEADER_BYTES];
    size_t written;
    spool_encode_header(header, SPOOL_SEGMENT_HEADER_BYTES);
    char name[SPOOL_SEGMENT_NAME_MAX];
    spool_segment_name(id, name, sizeof(name));
    if (spool_write_exact(fd, header, sizeof(header), 0, &written) != 0) {
        int saved = errno;
        close(fd);
        unlinkat(spool->directory_fd, name, 0);
        errno = saved;
        return -1;
    }
    give_file(spool, fd, name);
    return fd;
}

/* Adds a segment at index with a new, empty file; NULL with errno. */
static struct segment *start_segment(struct spool *spool, size_t index, uint64_t id)
{
    int fd = create_segment(spool, id);
    if (fd < 0)
        return NULL;
    struct segment *segment = add_segment(spool, index);
    if (segment == NULL) {
        char name[SPOOL_SEGMENT_NAME_MAX];
        spool_segment_name(id, name, sizeof(name));
        close(fd);
        unlinkat(spool->directory_fd, name, 0);
        errno = ENOMEM;
        return NULL;
    }
    note_id(spool, id);
    segment->id = id;
    segment->fd = fd;
    segment->end = segment->synced_end = segment->read_offset = SPOOL_SEGMENT_HEADER_BYTES;
    return segment;
}

static bool record_fits(const struct spool *spool, const struct spool_record *record)
{
    if (record->key_length <= SPOOL_KEY_MAX && record->type_length <= SPOOL_TYPE_MAX &&
        record->value_length <= SPOOL_VALUE_MAX)
        return true;
    log_message(LOG_ERROR, "spool %s: a %zu-byte event is too large to spool", spool->directory,
                record->value_length);
    errno = EMSGSIZE;
    return false;
}

/* Writes the record in the write buffer at the segment's end. On failure the part that
 * reached the file is cut off again: it would end the segment's trusted records. */
static int write_record(struct spool *spool, struct segment *segment, size_t size)
{
    size_t written = 0;
    if (spool_write_exact(segment->fd, spool->write_buffer.bytes, size, segment->end, &written) ==
        0)
        return 0;
    int saved = errno;
    if (written > 0 && ftruncate(segment->fd, (off_t)segment->end) != 0) {
        log_message(LOG_ERROR,
                    "spool %s: cannot cut segment %016" PRIx64
                    " back to its last whole record (%s); it is set aside once sent",
                    spool->directory, segment->id, strerror(errno));
        mark_damaged(spool, segment);
        if (writer(spool) == segment)
            spool->writing = false;
    }
    errno = saved;
    return -1;
}

/* The record in the write buffer, which grows to the largest record; -1 with errno. */
static int encode(struct spool *spool, const struct spool_record *record, size_t *size)
{
    *size = (size_t)spool_record_bytes(record);
    if (*size > spool->write_buffer.size) {
        uint8_t *grown = realloc(spool->write_buffer.bytes, *size);
        if (grown == NULL) {
            errno = ENOMEM;
            return -1;
        }
        spool->write_buffer.bytes = grown;
        spool->write_buffer.size = *size;
    }
    spool_encode_record(record, spool->write_buffer.bytes);
    return 0;
}

/* A disk that refuses one append usually refuses the next thousand: the first refusal is
 * logged and then the recovery; the caller counts every event. */
static void note_refused(struct spool *spool, int error)
{
    if (spool->refused++ == 0)
        log_message(LOG_ERROR,
                    "spool %s: cannot write: %s; events that do not fit are lost "
                    "(and counted) until it can",
                    spool->directory, strerror(error));
    errno = error;
}

static bool sync_due(const struct spool *spool, const struct segment *segment)
{
    return segment->unsynced > 0 && (segment->end - segment->synced_end >= SPOOL_SYNC_BYTES ||
                                     monotonic_seconds() - spool->synced_at >= SPOOL_SYNC_SECONDS);
}

/* The segment appends go to, started when there is none or the last one is full. */
static struct segment *segment_for_append(struct spool *spool)
{
    struct segment *last = writer(spool);
    if (last != NULL && last->end >= spool->segment_bytes) {
        spool_sync(spool); /* a full segment is durable before the next one starts */
        spool->writing = false;
        last = NULL;
    }
    if (last == NULL) {
        uint64_t id = spool->ids_used ? spool->highest_id + 1 : FIRST_SEGMENT_ID;
        last = start_segment(spool, spool->count, id);
        if (last == NULL)
            return NULL;
        spool->writing = true;
        spool->synced_at = monotonic_seconds();
    }
    return last;
}

int spool_append(struct spool *spool, const struct spool_record *record)
{
    if (!record_fits(spool, record))
        return -1;
    size_t size;
    struct segment *last = segment_for_append(spool);
    if (last == NULL || encode(spool, record, &size) != 0 || write_record(spool, last, size) != 0) {
        note_refused(spool, errno);
        return -1;
    }
    if (spool->refused > 0) {
        log_message(LOG_WARNING, "spool %s: writing again, after %" PRIu64 " events were lost",
                    spool->directory, spool->refused);
        spool->refused = 0;
    }
    last->end += size;
    last->unread++;
    last->unsynced++;
    spool->pending++;
    if (sync_due(spool, last))
        spool_sync(spool);
    return 0;
}

int spool_sync(struct spool *spool)
{
    struct segment *segment = writer(spool);
    if (segment == NULL || segment->unsynced == 0)
        return 0;
    if (fsync(segment->fd) == 0) {
        segment->synced_end = segment->end;
        segment->unsynced = 0;
        spool->synced_at = monotonic_seconds();
        return 0;
    }
    /* After a failed sync the kernel may have dropped what it could not write: every
     * record since the last sync is in doubt. Those already taken are on their way; the
     * others are cut off and counted, and appends go on in a new segment. */
    int saved = errno;
    uint64_t keep =
        segment->read_offset > segment->synced_end ? segment->read_offset : segment->synced_end;
    uint64_t cut = segment->unread < segment->unsynced ? segment->unread : segment->unsynced;
    log_message(LOG_ERROR,
                "spool %s: cannot sync segment %016" PRIx64 " (%s): the %" PRIu64
                " events written since the last sync and not yet sent are lost",
                spool->directory, segment->id, strerror(saved), cut);
    if (ftruncate(segment->fd, (off_t)keep) != 0)
        mark_damaged(spool, segment);
    segment->end = segment->synced_end = keep;
    segment->unread -= cut;
    segment->unsynced = 0;
    spool->pending -= cut;
    spool->lost += cut;
    spool->peeked = false;
    spool->writing = false;
    errno = saved;
    return -1;
}

void spool_idle(struct spool *spool)
{
    struct segment *segment = writer(spool);
    if (segment != NULL && sync_due(spool, segment))
        spool_sync(spool);
}

uint64_t spool_pending(const struct spool *spool)
{
    return spool->pending;
}

uint64_t spool_lost(const struct spool *spool)
{
    return spool->lost;
}

uint64_t spool_damaged(const struct spool *spool)
{
    return spool->damaged;
}

static struct segment *reader_segment(struct spool *spool)
{
    for (size_t i = 0; i < spool->count; i++) {
        if (spool->segments[i].unread > 0)
            return &spool->segments[i];
    }
    return NULL;
}

/* The reader cannot go on in this segment: what it still held is lost, and the segment,
 * never appended to again, is set aside once its taken records are settled. */
static void unreadable(struct spool *spool, struct segment *segment)
{
    log_message(LOG_ERROR,
                "spool %s: segment %016" PRIx64 " cannot be read at byte %" PRIu64 "; its %" PRIu64
                " remaining events are lost",
                spool->directory, segment->id, segment->read_offset, segment->unread);
    spool->pending -= segment->unread;
    spool->lost += segment->unread;
    segment->unread = 0;
    mark_damaged(spool, segment);
    if (writer(spool) == segment)
        spool->writing = false;
    if (segment_done(segment))
        remove_segment(spool, (size_t)(segment - spool->segments));
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
        uint64_t length;
        /* A record reaching past the known end means the file changed under the spool. */
        if (spool_read_record(segment->fd, segment->read_offset, &spool->read_buffer, record,
                              &length) == 1 &&
            segment->read_offset + length <= segment->end) {
            spool->peeked = true;
            spool->peeked_record = *record;
            spool->peeked_length = length;
            return 1;
        }
        unreadable(spool, segment);
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

/* Writes records into segment until one does not fit or the disk refuses: how many. */
static size_t write_records(struct spool *spool, struct segment *segment,
                            const struct spool_record *records, size_t count)
{
    size_t kept = 0, size;
    while (kept < count && record_fits(spool, &records[kept]) &&
           encode(spool, &records[kept], &size) == 0 && write_record(spool, segment, size) == 0) {
        segment->end += size;
        kept++;
    }
    return kept;
}

size_t spool_prepend(struct spool *spool, const struct spool_record *records, size_t count)
{
    if (count == 0)
        return 0;
    spool->peeked = false; /* the oldest record is about to change */
    uint64_t id = spool->ids_used ? spool->lowest_id - 1 : FIRST_SEGMENT_ID;
    struct segment *segment = start_segment(spool, 0, id);
    size_t kept = segment != NULL ? write_records(spool, segment, records, count) : 0;
    if (kept < count)
        log_message(LOG_ERROR,
                    "spool %s: cannot write: %s; %zu of the %zu events still unsent kept",
                    spool->directory, strerror(errno), kept, count);
    if (segment == NULL)
        return 0;
    if (kept > 0 && fsync(segment->fd) != 0) {
        log_message(LOG_ERROR,
                    "spool %s: cannot sync segment %016" PRIx64 " (%s): its %zu events are lost",
                    spool->directory, id, strerror(errno), kept);
        kept = 0;
    }
    if (kept == 0) {
        remove_segment(spool, 0);
        return 0;
    }
    segment->synced_end = segment->end;
    segment->unread = kept;
    spool->pending += kept;
    return kept;
}

const char *spool_directory(const struct spool *spool)
{
    return spool->directory;
}
