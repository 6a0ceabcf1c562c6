#include "app/output_paths.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/privileges.h"
#include "app/report_files.h"
#include "report/report.h"
#include "util/log.h"

/* A file an option names: its device and inode when it exists, so that a hard link, a
 * symbolic link or another spelling of one file is that file; else its path, with the
 * directory part resolved, as the file it will become. */
struct place {
    const char *option; /* "-r", "-o", "--report" or "--spool" */
    const char *path;   /* as given; NULL for standard input or output */
    bool temporary;     /* a report's temporary file: path + REPORT_TEMPORARY_SUFFIX */
    bool exists;
    dev_t device;
    ino_t inode;
    char resolved[PATH_MAX];
};

/* The inputs, then -o (or standard output), --spool, and each report with its temporary. */
#define PLACES_MAX (INPUTS_MAX + 2 + 2 * REPORTS_MAX)

static void locate(struct place *place, const char *option, const char *path, bool temporary)
{
    *place = (struct place){.option = option, .path = path, .temporary = temporary};
    char name[PATH_MAX];
    snprintf(name, sizeof(name), "%s%s", path, temporary ? REPORT_TEMPORARY_SUFFIX : "");
    struct stat status;
    if (stat(name, &status) == 0) {
        place->exists = true;
        place->device = status.st_dev;
        place->inode = status.st_ino;
        return;
    }
    const char *slash = strrchr(name, '/');
    char directory[PATH_MAX];
    snprintf(directory, sizeof(directory), "%.*s", slash == NULL ? 1 : (int)(slash - name + 1),
             slash == NULL ? "." : name);
    char real[PATH_MAX];
    if (realpath(directory, real) == NULL ||
        snprintf(place->resolved, sizeof(place->resolved), "%s/%s", real,
                 slash == NULL ? name : slash + 1) >= (int)sizeof(place->resolved))
        snprintf(place->resolved, sizeof(place->resolved), "%s", name);
}

/* Standard input or output counts only when it is a regular file (`-r - < x.pcap`,
 * `>> x.pcap`): a pipe or a terminal is no file an option could name. */
static bool locate_standard(struct place *place, const char *option, int fd)
{
    struct stat status;
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode))
        return false;
    *place = (struct place){
        .option = option, .exists = true, .device = status.st_dev, .inode = status.st_ino};
    return true;
}

static bool same_file(const struct place *a, const struct place *b)
{
    if (a->exists != b->exists)
        return false;
    return a->exists ? a->device == b->device && a->inode == b->inode
                     : strcmp(a->resolved, b->resolved) == 0;
}

static void describe(const struct place *place, char *text, size_t size)
{
    if (place->path == NULL)
        snprintf(text, size, "%s",
                 strcmp(place->option, "-r") == 0 ? "-r - (standard input)" : "standard output");
    else if (place->temporary)
        snprintf(text, size, "%s %s (written through %s" REPORT_TEMPORARY_SUFFIX ")", place->option,
                 place->path, place->path);
    else
        snprintf(text, size, "%s %s", place->option, place->path);
}

/* places[0..inputs) are the inputs; returns the number of places. */
static size_t gather(const struct options *options, struct place *places, size_t *inputs)
{
    size_t count = 0;
    for (size_t i = 0; i < options->file_count; i++) {
        if (strcmp(options->files[i], "-") != 0)
            locate(&places[count++], "-r", options->files[i], false);
        else if (locate_standard(&places[count], "-r", STDIN_FILENO))
            count++;
    }
    *inputs = count;
    const char *output = options->output;
    if (output != NULL && strcmp(output, "-") != 0)
        locate(&places[count++], "-o", output, false);
    else if ((output != NULL || options->kafka_brokers == NULL) &&
             locate_standard(&places[count], "-o", STDOUT_FILENO))
        count++;
    if (options->spool != NULL)
        locate(&places[count++], "--spool", options->spool, false);
    for (size_t i = 0; i < options->report_count; i++) {
        locate(&places[count++], "--report", options->reports[i], false);
        locate(&places[count++], "--report", options->reports[i], true);
    }
    return count;
}

/* The first output that is an input, or two outputs that are one file: said, and -1. */
static int find_overlap(const struct place *places, size_t inputs, size_t count)
{
    char first[PATH_MAX + 64], second[PATH_MAX + 64];
    for (size_t output = inputs; output < count; output++) {
        for (size_t other = 0; other < output; other++) {
            if (!same_file(&places[output], &places[other]))
                continue;
            describe(&places[output], first, sizeof(first));
            describe(&places[other], second, sizeof(second));
            if (other < inputs)
                log_message(LOG_FAILURE,
                            "%s and %s are the same file: an output never overwrites an input",
                            first, second);
            else
                log_message(LOG_FAILURE,
                            "%s and %s are the same file: each output needs one of its own", second,
                            first);
            return -1;
        }
    }
    return 0;
}

static int probe_reports(void *context, char *error, size_t error_size)
{
    const struct options *options = context;
    for (size_t i = 0; i < options->report_count; i++) {
        char reason[PATH_MAX + 128];
        if (report_file_probe(options->reports[i], reason, sizeof(reason)) != 0) {
            snprintf(error, error_size, "--report %s: cannot be written%s%s: %s",
                     options->reports[i], options->user != NULL ? " by user " : "",
                     options->user != NULL ? options->user : "", reason);
            return -1;
        }
    }
    return 0;
}

int output_paths_check(const struct options *options)
{
    struct place *places = calloc(PLACES_MAX, sizeof(*places));
    if (places == NULL) {
        log_message(LOG_FAILURE, "out of memory");
        return EXIT_RUNTIME;
    }
    size_t inputs;
    size_t count = gather(options, places, &inputs);
    int overlap = find_overlap(places, inputs, count);
    free(places);
    if (overlap != 0)
        return EXIT_USAGE;
    /* The reports are written at the end, after -u: tried now, as that user. */
    char error[2 * PATH_MAX];
    if (options->report_count > 0 &&
        run_as_user(options->user, probe_reports, (void *)options, error, sizeof(error)) != 0) {
        log_message(LOG_FAILURE, "%s", error);
        return EXIT_USAGE;
    }
    return EXIT_DONE;
}
