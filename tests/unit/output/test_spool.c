#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "output/spool.h"

struct sample {
    char key[32];
    char value[96];
};

static struct sample sample_of(int n)
{
    struct sample sample;
    snprintf(sample.key, sizeof(sample.key), "198.51.100.%d", n % 256);
    snprintf(sample.value, sizeof(sample.value), "{\"type\":\"attempt\",\"n\":%d}", n);
    return sample;
}

static struct spool_record record_of(const struct sample *sample)
{
    return (struct spool_record){
        .key = sample->key,
        .key_length = strlen(sample->key),
        .type = "attempt",
        .type_length = 7,
        .value = sample->value,
        .value_length = strlen(sample->value),
    };
}

static void append(struct spool *spool, int n)
{
    struct sample sample = sample_of(n);
    struct spool_record record = record_of(&sample);
    cr_assert_eq(spool_append(spool, &record), 0, "appending record %d", n);
}

/* Peeks, checks that the next record is number n, takes it under ticket. */
static void expect_next(struct spool *spool, int n, uint64_t ticket)
{
    struct spool_record record;
    struct sample sample = sample_of(n);
    cr_assert_eq(spool_peek(spool, &record), 1, "record %d should be there", n);
    cr_assert_eq(record.key_length, strlen(sample.key));
    cr_assert_eq(memcmp(record.key, sample.key, record.key_length), 0);
    cr_assert_eq(record.type_length, 7);
    cr_assert_eq(memcmp(record.type, "attempt", 7), 0);
    cr_assert_eq(record.value_length, strlen(sample.value), "record %d: %.*s", n,
                 (int)record.value_length, record.value);
    cr_assert_eq(memcmp(record.value, sample.value, record.value_length), 0, "expected %s",
                 sample.value);
    spool_take(spool, ticket);
}

static char *make_directory(void)
{
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : P_tmpdir;
    char *path = malloc(strlen(base) + 32);
    sprintf(path, "%s/test-spool-XXXXXX", base);
    cr_assert_not_null(mkdtemp(path));
    return path;
}

static void remove_directory(char *path)
{
    DIR *directory = opendir(path);
    struct dirent *entry;
    char file[1024];
    while (directory != NULL && (entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, entry->d_name);
        unlink(file);
    }
    if (directory != NULL)
        closedir(directory);
    rmdir(path);
    free(path);
}

/* Names of the segment files, sorted; returns how many. */
static int segments(const char *path, char names[][64], int max)
{
    DIR *directory = opendir(path);
    cr_assert_not_null(directory);
    struct dirent *entry;
    int count = 0;
    while ((entry = readdir(directory)) != NULL) {
        size_t length = strlen(entry->d_name);
        if (length > 4 && strcmp(entry->d_name + length - 4, ".seg") == 0 && count < max)
            snprintf(names[count++], 64, "%.63s", entry->d_name); /* segment names are 20 */
    }
    closedir(directory);
    qsort(names, (size_t)count, 64, (int (*)(const void *, const void *))strcmp);
    return count;
}

static int segment_count(const char *path)
{
    char names[64][64];
    return segments(path, names, 64);
}

static struct spool *open_spool(const char *path, uint64_t segment_bytes)
{
    char error[256] = "";
    struct spool *spool = spool_open(path, segment_bytes, error, sizeof(error));
    cr_assert_not_null(spool, "%s", error);
    return spool;
}

/* Damage is expected here: its warnings would only clutter the test output. */
static void quiet(void)
{
    log_set_level(LOG_ERROR);
}

TestSuite(spool, .init = quiet);

Test(spool, records_come_out_in_order_and_segments_go_when_settled)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 0);
    struct spool_record record;
    cr_assert_eq(spool_peek(spool, &record), 0);
    for (int i = 0; i < 100; i++)
        append(spool, i);
    cr_assert_eq(spool_pending(spool), 100);
    for (int i = 0; i < 100; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    cr_assert_eq(spool_pending(spool), 0);
    cr_assert_eq(spool_peek(spool, &record), 0);
    cr_assert_eq(segment_count(path), 1, "taken is not delivered: the segment stays");
    for (int i = 0; i < 100; i++)
        spool_settle(spool, (uint64_t)i + 1);
    cr_assert_eq(segment_count(path), 0, "every record settled: the segment goes");
    spool_close(spool);
    cr_assert_eq(segment_count(path), 0);
    remove_directory(path);
}

Test(spool, full_segments_roll_over_and_each_goes_when_its_records_are_settled)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 256);
    for (int i = 0; i < 40; i++)
        append(spool, i);
    int written = segment_count(path);
    cr_assert_gt(written, 3, "256-byte segments hold a few records each, got %d", written);
    for (int i = 0; i < 40; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    /* Delivery reports come in any order: settle all but the first record. */
    for (int i = 39; i >= 1; i--)
        spool_settle(spool, (uint64_t)i + 1);
    cr_assert_eq(segment_count(path), 1, "only the segment of the unsettled record stays");
    spool_settle(spool, 1);
    cr_assert_eq(segment_count(path), 0);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, the_reader_catches_up_with_the_writer)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    uint64_t ticket = 1;
    int next = 0;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < round; i++)
            append(spool, next + i);
        for (int i = 0; i < round; i++) {
            expect_next(spool, next + i, ticket);
            spool_settle(spool, ticket++);
        }
        next += round;
        cr_assert_eq(spool_pending(spool), 0);
    }
    cr_assert_eq(segment_count(path), 0);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, an_earlier_run_is_replayed_first)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 300);
    for (int i = 0; i < 20; i++)
        append(spool, i);
    spool_close(spool);
    cr_assert_gt(segment_count(path), 1);

    spool = open_spool(path, 300);
    cr_assert_eq(spool_pending(spool), 20);
    append(spool, 20); /* a new event queues behind the old ones */
    for (int i = 0; i <= 20; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    for (int i = 0; i <= 20; i++)
        spool_settle(spool, (uint64_t)i + 1);
    spool_close(spool);
    cr_assert_eq(segment_count(path), 0);
    remove_directory(path);
}

Test(spool, settled_records_are_not_sent_again)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 0; i < 20; i++)
        append(spool, i);
    for (int i = 0; i < 5; i++) {
        expect_next(spool, i, (uint64_t)i + 1);
        spool_settle(spool, (uint64_t)i + 1);
    }
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 15);
    expect_next(spool, 5, 1);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, unsettled_records_are_sent_again)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 0; i < 10; i++)
        append(spool, i);
    for (int i = 0; i < 3; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    spool_settle(spool, 1);
    spool_settle(spool, 3); /* the second record's delivery is still open */
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 10, "at least once: the whole segment again");
    expect_next(spool, 0, 1);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, prepended_records_come_before_the_rest_also_after_a_restart)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 2; i < 6; i++)
        append(spool, i);
    /* Records 2 and 3 were taken and not delivered; at shutdown they go in front, with
     * 0 and 1 that never made it to the spool, and are settled where they came from. */
    expect_next(spool, 2, 10);
    expect_next(spool, 3, 11);
    struct sample samples[4] = {sample_of(0), sample_of(1), sample_of(2), sample_of(3)};
    struct spool_record records[4];
    for (int i = 0; i < 4; i++)
        records[i] = record_of(&samples[i]);
    struct spool_record ahead;
    cr_assert_eq(spool_peek(spool, &ahead), 1); /* record 4, looked at and left */
    cr_assert_eq(spool_prepend(spool, records, 4), 4);
    spool_settle(spool, 10);
    spool_settle(spool, 11);
    cr_assert_eq(spool_pending(spool), 6);
    cr_assert_eq(spool_peek(spool, &ahead), 1);
    cr_assert_eq(memcmp(ahead.value, samples[0].value, ahead.value_length), 0,
                 "the prepended records come first");
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 6);
    for (int i = 0; i < 6; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, a_torn_last_record_is_left_out)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 0; i < 10; i++)
        append(spool, i);
    spool_close(spool);
    char names[4][64], file[1024];
    cr_assert_eq(segments(path, names, 4), 1);
    snprintf(file, sizeof(file), "%s/%s", path, names[0]);
    FILE *stream = fopen(file, "rb+");
    cr_assert_not_null(stream);
    fseek(stream, 0, SEEK_END);
    long size = ftell(stream);
    fclose(stream);
    cr_assert_eq(truncate(file, size - 5), 0);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 9);
    for (int i = 0; i < 9; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    struct spool_record record;
    cr_assert_eq(spool_peek(spool, &record), 0);
    cr_assert_eq(spool_damaged(spool), 1);
    for (int i = 0; i < 9; i++)
        spool_settle(spool, (uint64_t)i + 1);
    cr_assert_eq(segment_count(path), 0, "once its records went, a damaged segment goes aside");
    snprintf(file, sizeof(file), "%s/%s.damaged", path, names[0]);
    cr_assert_eq(access(file, F_OK), 0, "and is kept for a look as %s", file);
    append(spool, 10); /* new segments keep clear of it */
    expect_next(spool, 10, 10);
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 1, "only record 10, still unsettled, comes again");
    cr_assert_eq(spool_damaged(spool), 0, "a segment set aside is not read again");
    expect_next(spool, 10, 1);
    spool_close(spool);
    cr_assert_eq(access(file, F_OK), 0);
    remove_directory(path);
}

Test(spool, a_damaged_record_ends_what_is_trusted)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 0; i < 10; i++)
        append(spool, i);
    spool_close(spool);
    char names[4][64], file[1024];
    cr_assert_eq(segments(path, names, 4), 1);
    snprintf(file, sizeof(file), "%s/%s", path, names[0]);
    FILE *stream = fopen(file, "rb+");
    cr_assert_not_null(stream);
    char content[4096];
    size_t size = fread(content, 1, sizeof(content), stream);
    struct sample sample = sample_of(5);
    char *value = memmem(content, size, sample.value, strlen(sample.value));
    cr_assert_not_null(value);
    value[3] ^= 0x20;
    fseek(stream, 0, SEEK_SET);
    fwrite(content, 1, size, stream);
    fclose(stream);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 5, "records 0 to 4 are whole");
    for (int i = 0; i < 5; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, a_segment_without_its_header_is_set_aside)
{
    char *path = make_directory();
    char file[1024];
    snprintf(file, sizeof(file), "%s/8000000000000000.seg", path);
    FILE *stream = fopen(file, "w");
    fputs("not a segment", stream);
    fclose(stream);
    struct spool *spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 0);
    cr_assert_eq(spool_damaged(spool), 1, "a file named as a segment is one, damaged");
    cr_assert_eq(access(file, F_OK), -1);
    append(spool, 1);
    expect_next(spool, 1, 1);
    spool_settle(spool, 1);
    spool_close(spool);
    snprintf(file, sizeof(file), "%s/8000000000000000.seg.damaged", path);
    stream = fopen(file, "r");
    cr_assert_not_null(stream, "set aside whole, as %s", file);
    char content[32] = "";
    cr_assert_not_null(fgets(content, sizeof(content), stream));
    fclose(stream);
    cr_assert_str_eq(content, "not a segment");
    cr_assert_eq(segment_count(path), 0);
    remove_directory(path);
}

Test(spool, one_spool_one_user)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    char error[256] = "";
    cr_assert_null(spool_open(path, 0, error, sizeof(error)));
    cr_assert_not_null(strstr(error, "in use"), "%s", error);
    spool_close(spool);
    struct spool *again = open_spool(path, 0);
    spool_close(again);
    remove_directory(path);
}

Test(spool, records_without_a_key_and_oversized_ones)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    struct spool_record record = {
        .type = "coverage", .type_length = 8, .value = "{}", .value_length = 2};
    cr_assert_eq(spool_append(spool, &record), 0);
    char *large = calloc(1, SPOOL_VALUE_MAX + 1);
    struct spool_record oversized = {
        .type = "attempt", .type_length = 7, .value = large, .value_length = SPOOL_VALUE_MAX + 1};
    cr_assert_eq(spool_append(spool, &oversized), -1);
    free(large);
    cr_assert_eq(spool_pending(spool), 1);
    struct spool_record out;
    cr_assert_eq(spool_peek(spool, &out), 1);
    cr_assert_eq(out.key_length, 0);
    cr_assert_eq(out.value_length, 2);
    cr_assert_eq(memcmp(out.value, "{}", 2), 0);
    spool_close(spool);
    remove_directory(path);
}

/* ---- Disks that refuse: real ones, a small tmpfs and a file size limit ---- */

/* Mounts a tmpfs of size bytes on path in this test's own mount namespace (Criterion runs
 * each test in a process of its own), or skips the test where that is not permitted. */
static void mount_small_tmpfs(const char *path, const char *size)
{
    char options[64];
    snprintf(options, sizeof(options), "size=%s,mode=0700", size);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", path, "tmpfs", 0, options) != 0)
        cr_skip_test("cannot mount a tmpfs here (%s): run the unit tests as root for the "
                     "full-disk cases",
                     strerror(errno));
}

static void resize_tmpfs(const char *path, const char *size)
{
    char options[64];
    snprintf(options, sizeof(options), "size=%s", size);
    cr_assert_eq(mount("tmpfs", path, "tmpfs", MS_REMOUNT, options), 0, "%s", strerror(errno));
}

static long file_size(const char *path, const char *name)
{
    char file[1024];
    struct stat info;
    snprintf(file, sizeof(file), "%s/%s", path, name);
    cr_assert_eq(stat(file, &info), 0, "%s: %s", file, strerror(errno));
    return (long)info.st_size;
}

/* Segment bytes of records 0..count-1 as sample_of makes them. */
static long records_size(int first, int count)
{
    long size = 24;
    for (int n = first; n < first + count; n++) {
        struct sample sample = sample_of(n);
        size += 16 + (long)strlen(sample.key) + 7 + (long)strlen(sample.value);
    }
    return size;
}

Test(spool, a_full_disk_keeps_whole_records_and_counts_the_rest)
{
    char *path = make_directory();
    mount_small_tmpfs(path, "16k");
    struct spool *spool = open_spool(path, 0);
    int kept = 0, refused = 0;
    for (int n = 0; n < 1000; n++) {
        struct sample sample = sample_of(n);
        struct spool_record record = record_of(&sample);
        if (spool_append(spool, &record) == 0) {
            cr_assert_eq(refused, 0, "record %d was written after an earlier one was refused", n);
            kept++;
        } else {
            cr_assert_eq(errno, ENOSPC, "%s", strerror(errno));
            refused++;
        }
    }
    cr_assert_gt(kept, 50, "16 KiB hold more than 50 records, %d were kept", kept);
    cr_assert_gt(refused, 0, "the disk never filled up");
    cr_assert_eq(spool_pending(spool), (uint64_t)kept);
    cr_assert_eq(spool_sync(spool), 0);
    char names[4][64];
    cr_assert_eq(segments(path, names, 4), 1);
    cr_assert_eq(file_size(path, names[0]), records_size(0, kept),
                 "the segment ends at its last whole record");
    spool_close(spool);

    /* The next start finds every kept record whole, and nothing damaged. */
    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 0);
    cr_assert_eq(spool_pending(spool), (uint64_t)kept);
    for (int n = 0; n < kept; n++)
        expect_next(spool, n, (uint64_t)n + 1);
    for (int n = 0; n < kept; n++)
        spool_settle(spool, (uint64_t)n + 1);
    spool_close(spool);
    cr_assert_eq(umount(path), 0);
    remove_directory(path);
}

Test(spool, appends_go_on_once_the_disk_has_room_again)
{
    char *path = make_directory();
    mount_small_tmpfs(path, "8k");
    struct spool *spool = open_spool(path, 0);
    int n = 0, kept = 0;
    struct sample sample;
    struct spool_record record;
    for (; n < 500; n++) {
        sample = sample_of(n);
        record = record_of(&sample);
        if (spool_append(spool, &record) != 0)
            break;
        kept++;
    }
    cr_assert_lt(n, 500, "the disk never filled up");
    resize_tmpfs(path, "1m");
    int resumed = n + 1; /* record n was refused: it is lost, and counted by the caller */
    for (int m = resumed; m < resumed + 100; m++)
        append(spool, m);
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 0);
    cr_assert_eq(spool_pending(spool), (uint64_t)kept + 100);
    uint64_t ticket = 1;
    for (int m = 0; m < kept; m++)
        expect_next(spool, m, ticket++);
    for (int m = resumed; m < resumed + 100; m++)
        expect_next(spool, m, ticket++);
    spool_close(spool);
    cr_assert_eq(umount(path), 0);
    remove_directory(path);
}

Test(spool, a_short_write_is_cut_back_to_the_last_whole_record)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    append(spool, 0);
    append(spool, 1);
    /* The kernel writes up to the limit, then refuses with EFBIG (SIGXFSZ ignored): record
     * 2 reaches the file only in part. */
    long limit = records_size(0, 2) + 10;
    struct rlimit old, small = {.rlim_cur = (rlim_t)limit, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    struct sample sample = sample_of(2);
    struct spool_record record = record_of(&sample);
    cr_assert_eq(spool_append(spool, &record), -1);
    cr_assert_eq(errno, EFBIG, "%s", strerror(errno));
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    char names[4][64];
    cr_assert_eq(segments(path, names, 4), 1);
    cr_assert_eq(file_size(path, names[0]), records_size(0, 2), "the torn record is cut off");
    append(spool, 3); /* the same segment goes on */
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 0);
    cr_assert_eq(spool_pending(spool), 3);
    expect_next(spool, 0, 1);
    expect_next(spool, 1, 2);
    expect_next(spool, 3, 3);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, a_prepend_on_a_full_disk_keeps_what_fits_from_the_oldest)
{
    char *path = make_directory();
    mount_small_tmpfs(path, "8k");
    struct spool *spool = open_spool(path, 0);
    enum { COUNT = 200 };
    struct sample samples[COUNT];
    struct spool_record records[COUNT];
    for (int i = 0; i < COUNT; i++) {
        samples[i] = sample_of(i);
        records[i] = record_of(&samples[i]);
    }
    size_t kept = spool_prepend(spool, records, COUNT);
    cr_assert_gt(kept, 10);
    cr_assert_lt(kept, COUNT, "8 KiB cannot hold %d records", COUNT);
    cr_assert_eq(spool_pending(spool), kept);
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 0);
    cr_assert_eq(spool_pending(spool), kept);
    for (size_t i = 0; i < kept; i++)
        expect_next(spool, (int)i, i + 1);
    spool_close(spool);
    cr_assert_eq(umount(path), 0);
    remove_directory(path);
}

/* ---- Damage ---- */

static void write_file(const char *path, const char *name, const void *bytes, size_t length)
{
    char file[1024];
    snprintf(file, sizeof(file), "%s/%s", path, name);
    FILE *stream = fopen(file, "w");
    cr_assert_not_null(stream);
    cr_assert_eq(fwrite(bytes, 1, length, stream), length);
    fclose(stream);
}

Test(spool, zeroed_and_empty_segments_are_set_aside)
{
    char *path = make_directory();
    static const uint8_t zeros[4096];
    write_file(path, "8000000000000000.seg", zeros, sizeof(zeros));
    write_file(path, "8000000000000001.seg", zeros, 0);
    struct spool *spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 0);
    cr_assert_eq(spool_damaged(spool), 2);
    cr_assert_eq(segment_count(path), 0);
    cr_assert_eq(file_size(path, "8000000000000000.seg.damaged"), 4096, "kept as it was");
    cr_assert_eq(file_size(path, "8000000000000001.seg.damaged"), 0);
    append(spool, 1); /* its id is past both */
    spool_close(spool);
    char names[4][64];
    cr_assert_eq(segments(path, names, 4), 1);
    cr_assert_str_eq(names[0], "8000000000000002.seg");
    remove_directory(path);
}

Test(spool, zero_padding_after_whole_records_is_damage)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 0; i < 5; i++)
        append(spool, i);
    spool_close(spool);
    char names[4][64], file[1024];
    cr_assert_eq(segments(path, names, 4), 1);
    snprintf(file, sizeof(file), "%s/%s", path, names[0]);
    cr_assert_eq(truncate(file, records_size(0, 5) + 300), 0); /* what stdio's flush left */

    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 1);
    cr_assert_eq(spool_pending(spool), 5, "the whole records still go");
    for (int i = 0; i < 3; i++) {
        expect_next(spool, i, (uint64_t)i + 1);
        spool_settle(spool, (uint64_t)i + 1);
    }
    spool_close(spool); /* two unsent: the segment stays and is checked again */

    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 1, "still damaged, still said");
    cr_assert_eq(spool_pending(spool), 2);
    expect_next(spool, 3, 1);
    expect_next(spool, 4, 2);
    spool_settle(spool, 1);
    spool_settle(spool, 2);
    cr_assert_eq(segment_count(path), 0);
    spool_close(spool);
    cr_assert_eq(file_size(path, "8000000000000000.seg.damaged"), records_size(0, 5) + 300);
    spool = open_spool(path, 0);
    cr_assert_eq(spool_damaged(spool), 0);
    cr_assert_eq(spool_pending(spool), 0);
    spool_close(spool);
    remove_directory(path);
}

Test(spool, damage_found_while_reading_counts_what_is_lost_and_is_never_appended_to)
{
    char *path = make_directory();
    struct spool *spool = open_spool(path, 0);
    for (int i = 0; i < 10; i++)
        append(spool, i);
    expect_next(spool, 0, 1);
    /* The file changes under the spool: record 4's value is flipped. */
    char names[4][64], file[1024];
    cr_assert_eq(segments(path, names, 4), 1);
    snprintf(file, sizeof(file), "%s/%s", path, names[0]);
    int fd = open(file, O_RDWR);
    cr_assert_geq(fd, 0);
    char byte = 'X';
    cr_assert_eq(pwrite(fd, &byte, 1, records_size(0, 4) + 30), 1);
    close(fd);
    for (int i = 1; i < 4; i++)
        expect_next(spool, i, (uint64_t)i + 1);
    struct spool_record record;
    cr_assert_eq(spool_peek(spool, &record), 0);
    cr_assert_eq(spool_lost(spool), 6, "records 4 to 9");
    cr_assert_eq(spool_damaged(spool), 1);
    cr_assert_eq(spool_pending(spool), 0);
    append(spool, 10); /* a new segment, not the damaged one */
    cr_assert_eq(file_size(path, names[0]), records_size(0, 10));
    expect_next(spool, 10, 5);
    for (uint64_t ticket = 1; ticket <= 5; ticket++)
        spool_settle(spool, ticket);
    spool_close(spool);
    cr_assert_eq(segment_count(path), 0);
    snprintf(file, sizeof(file), "%s.damaged", names[0]);
    cr_assert_eq(file_size(path, file), records_size(0, 10));
    remove_directory(path);
}

/* ---- A spool for the user the program becomes (-u) ---- */

static void nobody(uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0)
        cr_skip_test("not root: the spool directory for -u cannot be tested");
    struct passwd *account = getpwnam("nobody");
    if (account == NULL)
        cr_skip_test("no user nobody on this machine");
    *uid = account->pw_uid;
    *gid = account->pw_gid;
}

static void owned_by(const char *path, const char *name, uid_t uid, gid_t gid)
{
    char file[1024];
    struct stat info;
    snprintf(file, sizeof(file), "%s/%s", path, name);
    cr_assert_eq(stat(file, &info), 0, "%s: %s", file, strerror(errno));
    cr_assert_eq(info.st_uid, uid, "%s belongs to %u, not %u", file, (unsigned)info.st_uid,
                 (unsigned)uid);
    cr_assert_eq(info.st_gid, gid, "%s", file);
}

/* In a child: what the program does with -u: opens the spool as root, drops root, and
 * spools count records from first. Exit status 0 when all went in. */
static void spool_as(const char *directory, uid_t uid, gid_t gid, bool open_first, int first,
                     int count)
{
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        char error[256];
        struct spool *spool = open_first ? spool_open(directory, 0, error, sizeof(error)) : NULL;
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(3);
        if (!open_first)
            spool = spool_open(directory, 0, error, sizeof(error));
        if (spool == NULL)
            _exit(4);
        for (int n = first; n < first + count; n++) {
            struct sample sample = sample_of(n);
            struct spool_record record = record_of(&sample);
            if (spool_append(spool, &record) != 0)
                _exit(5);
        }
        spool_close(spool);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child as %u exits %d",
              (unsigned)uid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

Test(spool, a_directory_prepared_for_the_user_outlives_the_privilege_drop)
{
    uid_t uid;
    gid_t gid;
    nobody(&uid, &gid);
    char *base = make_directory();
    cr_assert_eq(chmod(base, 0755), 0);
    char directory[1024], error[256] = "";
    snprintf(directory, sizeof(directory), "%s/spool", base);
    cr_assert_eq(spool_prepare_directory(directory, uid, gid, error, sizeof(error)), 0, "%s",
                 error);
    struct stat info;
    cr_assert_eq(stat(directory, &info), 0);
    cr_assert_eq(info.st_uid, uid);
    cr_assert_eq(info.st_gid, gid);
    cr_assert_eq(info.st_mode & 07777, 0700);
    /* Opened as root, written as nobody; the lock and the segments are nobody's. */
    spool_as(directory, uid, gid, true, 0, 26);
    owned_by(directory, "lock", uid, gid);
    char names[4][64];
    cr_assert_eq(segments(directory, names, 4), 1);
    owned_by(directory, names[0], uid, gid);
    /* A later run started as nobody, without root, uses the same spool. */
    spool_as(directory, uid, gid, false, 26, 4);
    /* And root finds all 30 records; a prepared directory is accepted again. */
    cr_assert_eq(spool_prepare_directory(directory, uid, gid, error, sizeof(error)), 0, "%s",
                 error);
    struct spool *spool = open_spool(directory, 0);
    cr_assert_eq(spool_pending(spool), 30);
    for (int n = 0; n < 30; n++)
        expect_next(spool, n, (uint64_t)n + 1);
    spool_close(spool);
    char lock[1100];
    snprintf(lock, sizeof(lock), "%s/lock", directory);
    unlink(lock);
    remove_directory(strdup(directory));
    remove_directory(base);
}

Test(spool, an_existing_directory_the_user_cannot_write_is_refused_and_left_as_it_is)
{
    uid_t uid;
    gid_t gid;
    nobody(&uid, &gid);
    char *path = make_directory(); /* root's, mode 0700 */
    char error[256] = "";
    cr_assert_eq(spool_prepare_directory(path, uid, gid, error, sizeof(error)), -1);
    cr_assert_not_null(strstr(error, path), "%s", error);
    cr_assert_not_null(strstr(error, "nobody cannot write"), "%s", error);
    struct stat info;
    cr_assert_eq(stat(path, &info), 0);
    cr_assert_eq(info.st_uid, 0, "an existing directory is never given away");
    /* Writable through its group is enough. */
    cr_assert_eq(chown(path, 0, gid), 0);
    cr_assert_eq(chmod(path, 0770), 0);
    cr_assert_eq(spool_prepare_directory(path, uid, gid, error, sizeof(error)), 0, "%s", error);
    /* A missing parent is an error that names the directory. */
    char missing[1024];
    snprintf(missing, sizeof(missing), "%s/no/such", path);
    cr_assert_eq(spool_prepare_directory(missing, uid, gid, error, sizeof(error)), -1);
    cr_assert_not_null(strstr(error, missing), "%s", error);
    remove_directory(path);
}
