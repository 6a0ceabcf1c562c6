#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    cr_assert_eq(spool_prepend(spool, records, 4), 0);
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
    for (int i = 0; i < 9; i++)
        spool_settle(spool, (uint64_t)i + 1);
    cr_assert_eq(segment_count(path), 1, "a damaged segment is kept for a look");
    append(spool, 10); /* new segments keep clear of it */
    expect_next(spool, 10, 10);
    spool_close(spool);

    spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 1, "only record 10, still unsettled, comes again");
    expect_next(spool, 10, 1);
    spool_close(spool);
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

Test(spool, a_foreign_file_is_left_alone)
{
    char *path = make_directory();
    char file[1024];
    snprintf(file, sizeof(file), "%s/8000000000000000.seg", path);
    FILE *stream = fopen(file, "w");
    fputs("not a segment", stream);
    fclose(stream);
    struct spool *spool = open_spool(path, 0);
    cr_assert_eq(spool_pending(spool), 0);
    append(spool, 1);
    expect_next(spool, 1, 1);
    spool_settle(spool, 1);
    spool_close(spool);
    cr_assert_eq(access(file, F_OK), 0);
    cr_assert_eq(segment_count(path), 1);
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
