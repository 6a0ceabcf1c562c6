#include "output/spool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_MAGIC "OP25BSPL"
#define SEGMENT_VERSION 1
#define SEGMENT_SUFFIX ".seg"
#define ID_DIGITS 16
/* NAME.damaged, then NAME.1.damaged ... before giving up: each is a damaged segment kept. */
#define SET_ASIDE_TRIES 100

static void put_u32(uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

void spool_put_u64(uint8_t *out, uint64_t value)
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

void spool_segment_name(uint64_t id, char *name, size_t size)
{
    snprintf(name, size, "%016" PRIx64 SEGMENT_SUFFIX, id);
}

enum spool_name spool_parse_name(const char *name, uint64_t *id)
{
    uint64_t value = 0;
    /* A name shorter than the digits stops at its '\0', which is no digit. */
    for (int i = 0; i < ID_DIGITS; i++) {
        char c = name[i];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return SPOOL_NAME_OTHER;
        value = value << 4 | (uint64_t)digit;
    }
    const char *rest = name + ID_DIGITS;
    if (strncmp(rest, SEGMENT_SUFFIX, strlen(SEGMENT_SUFFIX)) != 0)
        return SPOOL_NAME_OTHER;
    rest += strlen(SEGMENT_SUFFIX);
    size_t rest_length = strlen(rest), damaged = strlen(SPOOL_DAMAGED_SUFFIX);
    *id = value;
    if (rest_length == 0)
        return SPOOL_NAME_SEGMENT;
    if (rest[0] == '.' && rest_length >= damaged &&
        strcmp(rest + rest_length - damaged, SPOOL_DAMAGED_SUFFIX) == 0)
        return SPOOL_NAME_SET_ASIDE;
    return SPOOL_NAME_OTHER;
}

void spool_encode_header(uint8_t header[SPOOL_SEGMENT_HEADER_BYTES], uint64_t start)
{
    memset(header, 0, SPOOL_SEGMENT_HEADER_BYTES);
    memcpy(header, SEGMENT_MAGIC, 8);
    put_u32(header + 8, SEGMENT_VERSION);
    spool_put_u64(header + SPOOL_START_OFFSET, start);
}

enum spool_header spool_check_header(const uint8_t *header, size_t length, uint64_t file_size,
                                     uint64_t *start)
{
    if (length < SPOOL_SEGMENT_HEADER_BYTES || memcmp(header, SEGMENT_MAGIC, 8) != 0)
        return SPOOL_HEADER_DAMAGED;
    if (get_u32(header + 8) != SEGMENT_VERSION)
        return SPOOL_HEADER_OTHER_VERSION;
    *start = get_u64(header + SPOOL_START_OFFSET);
    if (*start < SPOOL_SEGMENT_HEADER_BYTES || *start > file_size)
        return SPOOL_HEADER_DAMAGED;
    return SPOOL_HEADER_OK;
}

uint64_t spool_record_bytes(const struct spool_record *record)
{
    return SPOOL_RECORD_HEADER_BYTES + record->key_length + record->type_length +
           record->value_length;
}

/* memcpy may not be handed NULL, even for no bytes (C11 7.1.4). */
static uint8_t *put_bytes(uint8_t *out, const char *bytes, size_t length)
{
    if (length > 0)
        memcpy(out, bytes, length);
    return out + length;
}

void spool_encode_record(const struct spool_record *record, uint8_t *out)
{
    put_u32(out, (uint32_t)record->key_length);
    put_u32(out + 4, (uint32_t)record->type_length);
    put_u32(out + 8, (uint32_t)record->value_length);
    uint8_t *payload = out + SPOOL_RECORD_HEADER_BYTES;
    uint8_t *end = put_bytes(payload, record->key, record->key_length);
    end = put_bytes(end, record->type, record->type_length);
    end = put_bytes(end, record->value, record->value_length);
    put_u32(out + 12, record_checksum(out, payload, (size_t)(end - payload)));
}

int spool_read_exact(int fd, void *buffer, size_t size, uint64_t offset)
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

int spool_write_exact(int fd, const void *buffer, size_t size, uint64_t offset, size_t *written)
{
    size_t done = 0;
    while (done < size) {
        ssize_t put =
            pwrite(fd, (const uint8_t *)buffer + done, size - done, (off_t)(offset + done));
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            if (put == 0)
                errno = ENOSPC; /* no progress and no reason: as good as a full disk */
            *written = done;
            return -1;
        }
        done += (size_t)put;
    }
    *written = done;
    return 0;
}

static int grow(struct spool_buffer *buffer, size_t size)
{
    if (size <= buffer->size)
        return 0;
    uint8_t *grown = realloc(buffer->bytes, size);
    if (grown == NULL)
        return -1;
    buffer->bytes = grown;
    buffer->size = size;
    return 0;
}

int spool_read_record(int fd, uint64_t offset, struct spool_buffer *buffer,
                      struct spool_record *record, uint64_t *length)
{
    uint8_t header[SPOOL_RECORD_HEADER_BYTES];
    int status = spool_read_exact(fd, header, sizeof(header), offset);
    if (status <= 0)
        return status;
    uint32_t key_length = get_u32(header), type_length = get_u32(header + 4);
    uint32_t value_length = get_u32(header + 8);
    /* Larger fields mark a damaged file rather than an event. */
    if (key_length > SPOOL_KEY_MAX || type_length > SPOOL_TYPE_MAX ||
        value_length > SPOOL_VALUE_MAX)
        return -1;
    size_t payload = (size_t)key_length + type_length + value_length;
    if (grow(buffer, payload + 1) != 0 ||
        spool_read_exact(fd, buffer->bytes, payload, offset + SPOOL_RECORD_HEADER_BYTES) != 1 ||
        record_checksum(header, buffer->bytes, payload) != get_u32(header + 12))
        return -1;
    const char *bytes = (const char *)buffer->bytes;
    record->key = bytes;
    record->key_length = key_length;
    record->type = bytes + key_length;
    record->type_length = type_length;
    record->value = bytes + key_length + type_length;
    record->value_length = value_length;
    *length = SPOOL_RECORD_HEADER_BYTES + payload;
    return 1;
}

int spool_set_aside(int directory_fd, const char *name, char *aside, size_t aside_size)
{
    for (int n = 0; n < SET_ASIDE_TRIES; n++) {
        if (n == 0)
            snprintf(aside, aside_size, "%s%s", name, SPOOL_DAMAGED_SUFFIX);
        else
            snprintf(aside, aside_size, "%s.%d%s", name, n, SPOOL_DAMAGED_SUFFIX);
        /* RENAME_NOREPLACE: an earlier damaged segment of that name is kept, not replaced. */
        if (renameat2(directory_fd, name, directory_fd, aside, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* ---- The directory for a user the program becomes (-u) ---- */

static void user_text(uid_t uid, char *text, size_t size)
{
    struct passwd *account = getpwuid(uid);
    if (account != NULL)
        snprintf(text, size, "%s", account->pw_name);
    else
        snprintf(text, size, "%lu", (unsigned long)uid);
}

/* By the mode bits, as the kernel would judge that user (its primary group only). */
static bool writable_by(const struct stat *info, uid_t uid, gid_t gid)
{
    mode_t need;
    if (uid == 0)
        return true;
    if (info->st_uid == uid)
        need = S_IWUSR | S_IXUSR;
    else if (info->st_gid == gid)
        need = S_IWGRP | S_IXGRP;
    else
        need = S_IWOTH | S_IXOTH;
    return (info->st_mode & need) == need;
}

int spool_prepare_directory(const char *directory, uid_t uid, gid_t gid, char *error,
                            size_t error_size)
{
    bool created = mkdir(directory, 0700) == 0;
    if (!created && errno != EEXIST) {
        snprintf(error, error_size, "spool %s: cannot create: %s", directory, strerror(errno));
        return -1;
    }
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) {
        snprintf(error, error_size, "spool %s: %s", directory, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char user[64];
    user_text(uid, user, sizeof(user));
    int status = 0;
    /* mkdir's mode went through the umask; the spool's is exactly 0700. */
    if (created && (fchmod(fd, 0700) != 0 ||
                    ((info.st_uid != uid || info.st_gid != gid) && fchown(fd, uid, gid) != 0))) {
        snprintf(error, error_size, "spool %s: cannot give it to user %s: %s", directory, user,
                 strerror(errno));
        status = -1;
    } else if (!created && !writable_by(&info, uid, gid)) {
        /* An existing directory is never given away: a mistyped path could be /var. */
        char owner[64];
        user_text(info.st_uid, owner, sizeof(owner));
        snprintf(error, error_size,
                 "spool %s: user %s cannot write there (owner %s, mode %04o); "
                 "give the directory to %s or name another",
                 directory, user, owner, (unsigned)(info.st_mode & 07777), user);
        status = -1;
    }
    close(fd);
    return status;
}
