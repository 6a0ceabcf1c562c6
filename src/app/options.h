/* The command line: what the user asked for, checked and nothing more. What a process
 * becomes at run time (a worker, its descriptors, shared memory) is run.h's struct
 * run_role, not here. */
#ifndef OP25B_APP_OPTIONS_H
#define OP25B_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define INPUTS_MAX 64           /* -r files, or -i interfaces */
#define KAFKA_PROPERTIES_MAX 64 /* -X KEY=VALUE */
#define REPORTS_MAX 8           /* --report files */
#define WORKERS_MAX 64          /* --workers N: processes of one live capture */
#define FLOWS_MAX 100000000UL   /* --flows N */
/* queue.buffering.max.kbytes stops at INT32_MAX KiB. */
#define KAFKA_QUEUE_MB_MAX 2097151UL

enum exit_status { EXIT_DONE = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct options {
    const char *policy_path;
    const char *files[INPUTS_MAX];
    size_t file_count;
    const char *interfaces[INPUTS_MAX];
    size_t interface_count;
    const char *filter;
    const char *output;
    const char *kafka_brokers;
    const char *kafka_topic;
    const char *kafka_properties[KAFKA_PROPERTIES_MAX];
    size_t kafka_property_count;
    uint64_t kafka_timeout_milliseconds;
    unsigned kafka_queue_megabytes;
    const char *spool;
    unsigned long flows;
    bool check;
    bool no_prefilter;    /* --no-prefilter: live capture without the policy's prefilter */
    bool prefilter_files; /* --prefilter: files read through it too */
    const char *reports[REPORTS_MAX]; /* --report files, written when the input ends */
    size_t report_count;
    const char *metrics_address;
    const char *user; /* -u: run as this user once the capture and outputs are open */
    uid_t user_uid;   /* -u's user, looked up when the option is read */
    gid_t user_gid;
    unsigned workers; /* --workers: live capture spread over this many processes */
    int verbosity;    /* -1 quiet, 0 default, 1.. verbose */
};

/* Fills *options from argv. 0: go on; -1: bad usage, said on stderr (exit status 2).
 * --help and --version print and exit here. */
int options_parse(int argc, char **argv, struct options *options);
/* The hint after bad usage. */
void options_usage_hint(void);

#endif
