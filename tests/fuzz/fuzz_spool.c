/* libFuzzer target for the spool's reader (src/output/spool.c, spool_file.c) on damaged
 * segments: the input is what an earlier run, a crash or a failing disk left in a spool.
 *
 * Input: a flags byte, then up to four segment files, each but the last as a little-endian
 * u16 length and its bytes, the last taking the rest; they are written as
 * 8000000000000000.seg, 8000000000000001.seg ... into an empty directory, and the spool
 * opened on it. Flags: bits 0-1 the number of files less one; bit 2 appends three records
 * after reading and opens the spool again; bit 3 settles in reverse order; bit 4 leaves
 * the first record taken unsettled at close.
 *
 * The harness reads each file with a parser of its own (the layout in spool_file.h) and
 * checks that the spool hands out exactly the whole records from each stored start, in
 * order and byte for byte, and nothing past the first damaged one; that each damaged file
 * is counted, named in an error and set aside as NAME.damaged once its records are
 * settled, unchanged but for the start field (never appended to, never deleted); that a
 * file of another version is left as it is; that records taken and unsettled come again
 * on the next open; and (ASan) that nothing leaks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "output/spool.h"
#include "output/spool_file.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void __wrap_log_message(enum log_level level, const char *format, ...);

#define MAX_FILES 4
#define MAX_RECORDS 4096
#define FIRST_ID 0x8000000000000000ull
#define START_OFFSET 16

struct file {
    const uint8_t *bytes;
    size_t size;
    char name[SPOOL_SEGMENT_NAME_MAX];
    bool other_version; /* left alone by the spool */
    bool damaged;
    size_t first_record; /* index in records[] */
    size_t record_count;
};

struct expected_record {
    size_t file;
    size_t offset; /* of the key, in the file */
    uint32_t lengths[3];
};

static char directory[256];
static struct file files[MAX_FILES];
static size_t file_count;
static struct expected_record records[MAX_RECORDS];
static size_t record_count;
/* The spool's error messages of the current run (log_message is wrapped: fuzz.mk). */
static char errors[8192];
static size_t errors_length;

void __wrap_log_message(enum log_level level, const char *format, ...)
{
    if (level != LOG_ERROR)
        return;
    va_list arguments;
    va_start(arguments, format);
    int length =
        vsnprintf(errors + errors_length, sizeof(errors) - errors_length, format, arguments);
    va_end(arguments);
    if (length > 0 && errors_length + (size_t)length + 1 < sizeof(errors)) {
        errors_length += (size_t)length;
        errors[errors_length++] = '\n';
        errors[errors_length] = '\0';
    }
}

FUZZ_CHECKER static uint32_t get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

FUZZ_CHECKER static uint32_t fnv1a(uint32_t hash, const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    return hash;
}

/* The harness's own reading of a segment: what the spool must find in it. */
FUZZ_CHECKER static void parse_file(struct file *file, size_t index)
{
    const uint8_t *data = file->bytes;
    file->first_record = record_count;
    if (file->size < SPOOL_SEGMENT_HEADER_BYTES || memcmp(data, "OP25BSPL", 8) != 0) {
        file->damaged = true;
        return;
    }
    if (get_u32(data + 8) != 1) {
        file->other_version = true;
        return;
    }
    uint64_t start = get_u32(data + START_OFFSET) | (uint64_t)get_u32(data + 20) << 32;
    if (start < SPOOL_SEGMENT_HEADER_BYTES || start > file->size) {
        file->damaged = true;
        return;
    }
    size_t at = (size_t)start;
    while (file->size - at >= SPOOL_RECORD_HEADER_BYTES && record_count < MAX_RECORDS) {
        uint32_t key = get_u32(data + at), type = get_u32(data + at + 4);
        uint32_t value = get_u32(data + at + 8);
        if (key > SPOOL_KEY_MAX || type > SPOOL_TYPE_MAX || value > SPOOL_VALUE_MAX)
            break;
        size_t payload = (size_t)key + type + value;
        if (payload > file->size - at - SPOOL_RECORD_HEADER_BYTES)
            break;
        const uint8_t *bytes = data + at + SPOOL_RECORD_HEADER_BYTES;
        if (fnv1a(fnv1a(2166136261u, data + at, 12), bytes, payload) != get_u32(data + at + 12))
            break;
        records[record_count++] =
            (struct expected_record){index, at + SPOOL_RECORD_HEADER_BYTES, {key, type, value}};
        at += SPOOL_RECORD_HEADER_BYTES + payload;
    }
    file->record_count = record_count - file->first_record;
    file->damaged = at != file->size;
}

FUZZ_CHECKER static void clear_directory(void)
{
    DIR *listing = opendir(directory);
    if (listing == NULL)
        FUZZ_FAIL("cannot list %s: %s", directory, strerror(errno));
    struct dirent *entry;
    while ((entry = readdir(listing)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
        unlink(path);
    }
    closedir(listing);
}

FUZZ_CHECKER static bool exists(const char *name, off_t *size)
{
    char path[512];
    struct stat info;
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    if (stat(path, &info) != 0)
        return false;
    if (size != NULL)
        *size = info.st_size;
    return true;
}

FUZZ_CHECKER static void write_files(void)
{
    for (size_t i = 0; i < file_count; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", directory, files[i].name);
        FILE *stream = fopen(path, "wb");
        if (stream == NULL || (files[i].size > 0 &&
                               fwrite(files[i].bytes, 1, files[i].size, stream) != files[i].size))
            FUZZ_FAIL("cannot write %s", path);
        fclose(stream);
    }
}

/* Splits the input into files; returns the flags byte. */
FUZZ_CHECKER static uint8_t split_input(const uint8_t *data, size_t size)
{
    uint8_t flags = data[0];
    size_t wanted = (size_t)(flags & 3) + 1, at = 1;
    file_count = 0;
    record_count = 0;
    while (file_count < wanted) {
        struct file *file = &files[file_count];
        memset(file, 0, sizeof(*file));
        size_t length = size - at;
        if (file_count + 1 < wanted && size - at >= 2) {
            length = (size_t)data[at] | (size_t)data[at + 1] << 8;
            at += 2;
            if (length > size - at)
                length = size - at;
        }
        file->bytes = data + at;
        file->size = length;
        spool_segment_name(FIRST_ID + file_count, file->name, sizeof(file->name));
        parse_file(file, file_count);
        file_count++;
        at += length;
    }
    return flags;
}

FUZZ_CHECKER static struct spool *open_spool(void)
{
    char error[256] = "";
    errors_length = 0;
    errors[0] = '\0';
    struct spool *spool = spool_open(directory, 4096, error, sizeof(error));
    if (spool == NULL)
        FUZZ_FAIL("the spool does not open: %s", error);
    return spool;
}

FUZZ_CHECKER static void check_record(const struct spool_record *got, size_t index)
{
    const struct expected_record *want = &records[index];
    const uint8_t *bytes = files[want->file].bytes + want->offset;
    if (got->key_length != want->lengths[0] || got->type_length != want->lengths[1] ||
        got->value_length != want->lengths[2])
        FUZZ_FAIL("record %zu: lengths %zu %zu %zu, want %u %u %u", index, got->key_length,
                  got->type_length, got->value_length, want->lengths[0], want->lengths[1],
                  want->lengths[2]);
    if ((got->key_length > 0 && memcmp(got->key, bytes, got->key_length) != 0) ||
        memcmp(got->type, bytes + got->key_length, got->type_length) != 0 ||
        memcmp(got->value, bytes + got->key_length + got->type_length, got->value_length) != 0)
        FUZZ_FAIL("record %zu: bytes differ from the file's", index);
}

/* Takes every record; returns how many, the first compare of them checked against
 * records[first...]. */
FUZZ_CHECKER static size_t take_all(struct spool *spool, size_t first, size_t compare, size_t limit)
{
    struct spool_record record;
    size_t taken = 0;
    while (spool_peek(spool, &record) == 1) {
        if (taken >= limit)
            FUZZ_FAIL("more records than the %zu whole ones", limit);
        if (taken < compare)
            check_record(&record, first + taken);
        spool_take(spool, taken + 1);
        taken++;
    }
    return taken;
}

FUZZ_CHECKER static void check_opened(struct spool *spool)
{
    size_t damaged = 0;
    for (size_t i = 0; i < file_count; i++) {
        const struct file *file = &files[i];
        damaged += file->damaged;
        if (file->damaged && strstr(errors, file->name) == NULL)
            FUZZ_FAIL("damaged %s is not named in an error:\n%s", file->name, errors);
        /* With no whole record to send it goes aside at once. */
        if (file->damaged && file->record_count == 0 && exists(file->name, NULL))
            FUZZ_FAIL("damaged %s, with nothing to send, is still a segment", file->name);
        if (file->other_version && !exists(file->name, NULL))
            FUZZ_FAIL("%s, of another version, was not left alone", file->name);
    }
    if (spool_damaged(spool) != damaged)
        FUZZ_FAIL("%llu damaged segments counted, %zu damaged",
                  (unsigned long long)spool_damaged(spool), damaged);
    if (spool_pending(spool) != record_count)
        FUZZ_FAIL("%llu records pending, %zu whole ones", (unsigned long long)spool_pending(spool),
                  record_count);
}

/* Once settled, a damaged file is set aside whole (but its start field) and the others
 * are gone; the file of the unsettled record stays a segment. */
FUZZ_CHECKER static void check_settled(size_t unsettled_file)
{
    for (size_t i = 0; i < file_count; i++) {
        const struct file *file = &files[i];
        char aside[SPOOL_SEGMENT_NAME_MAX + 16];
        snprintf(aside, sizeof(aside), "%s%s", file->name, SPOOL_DAMAGED_SUFFIX);
        off_t size = 0;
        if (i == unsettled_file || file->other_version) {
            if (!exists(file->name, NULL))
                FUZZ_FAIL("%s went before all its records were settled", file->name);
            continue;
        }
        if (exists(file->name, NULL))
            FUZZ_FAIL("%s stays though all its records were settled", file->name);
        if (file->damaged != exists(aside, &size))
            FUZZ_FAIL("%s is %sset aside", file->name, file->damaged ? "not " : "wrongly ");
        if (file->damaged && (size_t)size != file->size)
            FUZZ_FAIL("%s was %zu bytes, set aside %lld", file->name, file->size, (long long)size);
    }
}

FUZZ_CHECKER static void append_three(struct spool *spool)
{
    for (int i = 0; i < 3; i++) {
        char value[32];
        int length = snprintf(value, sizeof(value), "{\"n\":%d}", i);
        struct spool_record record = {
            .type = "attempt", .type_length = 7, .value = value, .value_length = (size_t)length};
        if (spool_append(spool, &record) != 0)
            FUZZ_FAIL("appending after the damaged segments failed: %s", strerror(errno));
    }
}

FUZZ_CHECKER static size_t file_of_record(size_t index)
{
    return index < record_count ? records[index].file : MAX_FILES;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    clear_directory();
    uint8_t flags = split_input(data, size);
    write_files();
    struct spool *spool = open_spool();
    check_opened(spool);
    size_t taken = take_all(spool, 0, record_count, record_count);
    if (taken != record_count || spool_lost(spool) != 0)
        FUZZ_FAIL("%zu records read of %zu whole ones, %llu lost", taken, record_count,
                  (unsigned long long)spool_lost(spool));
    bool keep_first = (flags & 16) != 0 && taken > 0;
    for (size_t i = 0; i < taken; i++) {
        uint64_t ticket = (flags & 8) ? taken - i : i + 1;
        if (!(keep_first && ticket == 1))
            spool_settle(spool, ticket);
    }
    size_t unsettled_file = keep_first ? file_of_record(0) : MAX_FILES;
    check_settled(unsettled_file);
    if (flags & 4)
        append_three(spool);
    spool_close(spool);
    if (!(flags & 4) && !keep_first)
        return 0;
    /* The next start: the unsettled record's file again (from its stored start), then what
     * was appended. */
    spool = open_spool();
    size_t again = unsettled_file < MAX_FILES ? files[unsettled_file].record_count : 0;
    uint64_t damaged = unsettled_file < MAX_FILES && files[unsettled_file].damaged ? 1 : 0;
    size_t expected = again + ((flags & 4) ? 3 : 0);
    if (spool_pending(spool) != expected || spool_damaged(spool) != damaged)
        FUZZ_FAIL("reopened: %llu pending, %llu damaged; want %zu and %llu",
                  (unsigned long long)spool_pending(spool),
                  (unsigned long long)spool_damaged(spool), expected, (unsigned long long)damaged);
    size_t first = again > 0 ? files[unsettled_file].first_record : record_count;
    if (take_all(spool, first, again, expected) != expected)
        FUZZ_FAIL("reopened: fewer records than %zu", expected);
    spool_close(spool);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : P_tmpdir;
    snprintf(directory, sizeof(directory), "%s/fuzz-spool-XXXXXX", base);
    if (mkdtemp(directory) == NULL)
        FUZZ_FAIL("cannot make a directory in %s: %s", base, strerror(errno));
    return 0;
}
