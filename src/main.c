/* Command line and wiring only: the options are the README's "Running it". */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "detect/detect_bot.h"
#include "record/coverage.h"
#include "output/event.h"
#include "util/log.h"
#include "output/metrics.h"
#include "policy/policy.h"
#include "capture/prefilter.h"
#include "app/progress.h"
#include "app/version.h"
#include "report/report.h"
#include "sensor.h"
#include "output/sink.h"
#include "workers/worker_share.h"

enum { EXIT_DONE = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };
enum { MAX_INPUTS = 64, MAX_KAFKA_PROPERTIES = 64 };
/* queue.buffering.max.kbytes stops at INT32_MAX KiB. */
#define MAX_KAFKA_QUEUE_MB 2097151UL
enum { MAX_REPORTS = 8 };

struct options {
    const char *policy_path;
    const char *files[MAX_INPUTS];
    size_t file_count;
    const char *interfaces[MAX_INPUTS];
    size_t interface_count;
    const char *filter;
    const char *output;
    const char *kafka_brokers;
    const char *kafka_topic;
    const char *kafka_properties[MAX_KAFKA_PROPERTIES];
    size_t kafka_property_count;
    uint64_t kafka_timeout_milliseconds;
    unsigned kafka_queue_megabytes;
    const char *spool;
    const char *kafka_only_option; /* the first Kafka option given without -k */
    const char *later_option;      /* the first option whose issue has not landed yet */
    unsigned long flows;
    bool check;
    bool no_prefilter;    /* --no-prefilter: live capture without the policy's prefilter */
    bool prefilter_files; /* --prefilter: files read through it too */
    const char *reports[MAX_REPORTS]; /* --report files, written when the input ends */
    size_t report_count;
    const char *metrics_address;
    struct metrics *shared_metrics; /* --workers with --metrics: the parent's, one slot each */
    const char *user; /* -u: run as this user once the capture and outputs are open */
    unsigned workers;      /* --workers: live capture spread over this many processes */
    int worker;            /* this process's worker index, -1 without --workers */
    uint16_t fanout_group; /* the PACKET_FANOUT group the workers share */
    int report_states[64]; /* --workers with --report: where each worker saves its report */
    int ready_fd;          /* --workers with -u: a worker says here it has dropped root */
    pid_t parent;          /* --workers: the process that started the workers */
    struct worker_share *share; /* --workers: what the workers share; NULL otherwise */
    int verbosity; /* -1 quiet, 0 default, 1.. verbose */
};

/* --workers with --spool: DIR/worker-N is worker N's spool. */
static int worker_spool_path(const char *spool, int worker, char *path, size_t size)
{
    int length = snprintf(path, size, "%s/worker-%d", spool, worker);
    if (length < 0 || (size_t)length >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Segments left in the spool of a worker this run does not start would wait unseen. */
static void warn_unused_spools(const struct options *options)
{
    for (int worker = options->workers > 1 ? (int)options->workers : 0; worker < 64; worker++) {
        char path[PATH_MAX];
        if (worker_spool_path(options->spool, worker, path, sizeof(path)) != 0)
            return;
        DIR *directory = opendir(path);
        if (directory == NULL)
            continue;
        bool held = false;
        for (struct dirent *entry; !held && (entry = readdir(directory)) != NULL;) {
            size_t length = strlen(entry->d_name);
            held = length > 4 && strcmp(entry->d_name + length - 4, ".seg") == 0;
        }
        closedir(directory);
        if (held)
            log_message(LOG_WARNING,
                        "%s holds events of an earlier run's worker %d; they are sent by a run "
                        "with --workers %d or more",
                        path, worker, worker + 1 > 2 ? worker + 1 : 2);
    }
}

/* Each --report file in the format its name asks for; -1 when any could not be written. */
static int write_reports(const struct report *report, const struct options *options)
{
    int status = 0;
    for (size_t i = 0; i < options->report_count; i++) {
        char error[512];
        if (report_write(report, options->reports[i], error, sizeof(error)) != 0) {
            fprintf(stderr, "op25b-watch: %s\n", error);
            status = -1;
        }
    }
    return status;
}

/* A worker whose parent is gone (killed with SIGKILL, say) would capture on unseen: it is
 * told SIGTERM instead, and stops as on any SIGTERM. The kernel forgets this setting when
 * the process changes user, so a worker sets it again after -u. */
static void stop_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* it went before the setting took */
        raise(SIGTERM);
}

static struct capture *running_capture;
/* A signal that came while the capture was still being opened: honoured once it is. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
    if (running_capture != NULL)
        capture_interrupt(running_capture);
}

static void usage(FILE *stream)
{
    fputs("usage: op25b-watch -c SITE.yaml (-r FILE ... | -i IFACE ...) [options]\n"
          "  -c, --config FILE     site policy (YAML)\n"
          "  -r, --read FILE       read pcap or pcapng ('-' is standard input); repeatable\n"
          "  -i, --interface IFACE capture live; repeatable\n"
          "  -f, --filter EXPR     extra BPF filter\n"
          "  -o, --output FILE     NDJSON events ('-' is standard output, the default\n"
          "                        without -k)\n"
          "  -k BROKERS            Kafka bootstrap servers: turns the Kafka sink on\n"
          "  -t TOPIC              Kafka topic (default " SINK_KAFKA_DEFAULT_TOPIC ")\n"
          "  -X KEY=VALUE          librdkafka property (TLS, SASL, compression...); repeatable\n"
          "      --kafka-timeout DURATION\n"
          "                        at the end, wait this long for delivery (default 30s)\n"
          "      --kafka-queue-mb N\n"
          "                        producer memory for waiting events (default 64)\n"
          "      --spool DIR       events beyond that memory wait on disk in DIR\n"
          "      --report FILE     audit report when the input ends (.json, .html or .txt);\n"
          "                        repeatable\n"
          "      --metrics ADDR    Prometheus endpoint, e.g. 127.0.0.1:9325 (a bare port\n"
          "                        binds to loopback)\n"
          "      --flows N         flow-table capacity (overrides limits.flows)\n"
          "      --workers N       live capture spread over N processes (PACKET_FANOUT)\n"
          "      --no-prefilter    live capture without the kernel filter derived from the\n"
          "                        policy (--check prints it)\n"
          "      --prefilter       read files through that filter too\n"
          "      --check           validate the policy, print it and the ACL rule count\n"
          "  -u, --user USER       drop root for USER once capture and outputs are open\n"
          "  -q, --quiet           no summary, errors only\n"
          "  -v, --verbose         more messages on standard error; repeatable\n"
          "      --version         print the version\n"
          "  -h, --help            this help\n"
          "exit status: 0 done, 1 failed at run time, 2 bad usage or bad policy\n",
          stream);
}

static void kafka_only(struct options *options, const char *option)
{
    if (options->kafka_only_option == NULL)
        options->kafka_only_option = option;
}

/* A whole number with unit ms, s, m or h, as durations in the policy; bare means seconds. */
static int parse_milliseconds(const char *text, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t milliseconds;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    errno = 0;
    unsigned long long count = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-' || text[0] == '+')
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (count > UINT64_MAX / units[i].milliseconds)
                return -1;
            *out = count * units[i].milliseconds;
            return 0;
        }
    }
    return -1;
}

static int parse_options(int argc, char **argv, struct options *options)
{
    enum {
        OPTION_REPORT = 256,
        OPTION_METRICS,
        OPTION_CHECK,
        OPTION_VERSION,
        OPTION_FLOWS,
        OPTION_WORKERS,
        OPTION_KAFKA_TIMEOUT,
        OPTION_KAFKA_QUEUE_MB,
        OPTION_SPOOL,
        OPTION_NO_PREFILTER,
        OPTION_PREFILTER,
    };
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'},
        {"read", required_argument, NULL, 'r'},
        {"interface", required_argument, NULL, 'i'},
        {"filter", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"report", required_argument, NULL, OPTION_REPORT},
        {"metrics", required_argument, NULL, OPTION_METRICS},
        {"flows", required_argument, NULL, OPTION_FLOWS},
        {"workers", required_argument, NULL, OPTION_WORKERS},
        {"kafka-timeout", required_argument, NULL, OPTION_KAFKA_TIMEOUT},
        {"kafka-queue-mb", required_argument, NULL, OPTION_KAFKA_QUEUE_MB},
        {"spool", required_argument, NULL, OPTION_SPOOL},
        {"check", no_argument, NULL, OPTION_CHECK},
        {"no-prefilter", no_argument, NULL, OPTION_NO_PREFILTER},
        {"prefilter", no_argument, NULL, OPTION_PREFILTER},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {"help", no_argument, NULL, 'h'},
        {"user", required_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    int option;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":c:r:i:f:o:k:t:X:u:qvh", long_options, NULL)) !=
           -1) {
        switch (option) {
        case 'c':
            options->policy_path = optarg;
            break;
        case 'u':
            options->user = optarg;
            break;
        case 'r':
            if (options->file_count == MAX_INPUTS) {
                fprintf(stderr, "op25b-watch: at most %d capture files\n", MAX_INPUTS);
                return -1;
            }
            options->files[options->file_count++] = optarg;
            break;
        case 'i':
            if (options->interface_count == MAX_INPUTS) {
                fprintf(stderr, "op25b-watch: at most %d interfaces\n", MAX_INPUTS);
                return -1;
            }
            options->interfaces[options->interface_count++] = optarg;
            break;
        case 'f':
            options->filter = optarg;
            break;
        case 'o':
            options->output = optarg;
            break;
        case 'k':
            if (optarg[0] == '\0') {
                fprintf(stderr, "op25b-watch: -k needs a broker list such as host:9092\n");
                return -1;
            }
            options->kafka_brokers = optarg;
            break;
        case 't':
            options->kafka_topic = optarg;
            kafka_only(options, "-t");
            break;
        case 'X':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                fprintf(stderr, "op25b-watch: -X needs KEY=VALUE, not '%s'\n", optarg);
                return -1;
            }
            if (options->kafka_property_count == MAX_KAFKA_PROPERTIES) {
                fprintf(stderr, "op25b-watch: at most %d -X properties\n", MAX_KAFKA_PROPERTIES);
                return -1;
            }
            options->kafka_properties[options->kafka_property_count++] = optarg;
            kafka_only(options, "-X");
            break;
        case OPTION_KAFKA_TIMEOUT:
            if (parse_milliseconds(optarg, &options->kafka_timeout_milliseconds) != 0) {
                fprintf(stderr, "op25b-watch: --kafka-timeout needs a duration such as 30s, "
                                "500ms or 2m (a bare number means seconds)\n");
                return -1;
            }
            kafka_only(options, "--kafka-timeout");
            break;
        case OPTION_KAFKA_QUEUE_MB: {
            char *end;
            errno = 0;
            unsigned long megabytes = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || megabytes == 0 || megabytes > MAX_KAFKA_QUEUE_MB ||
                optarg[0] == '-') {
                fprintf(stderr, "op25b-watch: --kafka-queue-mb needs a number from 1 to %lu\n",
                        MAX_KAFKA_QUEUE_MB);
                return -1;
            }
            options->kafka_queue_megabytes = (unsigned)megabytes;
            kafka_only(options, "--kafka-queue-mb");
            break;
        }
        case OPTION_SPOOL:
            options->spool = optarg;
            kafka_only(options, "--spool");
            break;
        case OPTION_REPORT:
            if (report_format_of(optarg) < 0) {
                fprintf(stderr,
                        "op25b-watch: --report %s: the file must end in .json, .html "
                        "or .txt\n",
                        optarg);
                return -1;
            }
            if (options->report_count == MAX_REPORTS) {
                fprintf(stderr, "op25b-watch: at most %d reports\n", MAX_REPORTS);
                return -1;
            }
            options->reports[options->report_count++] = optarg;
            break;
        case OPTION_METRICS: {
            struct sockaddr_storage address;
            char reason[256];
            if (metrics_parse_address(optarg, &address, reason, sizeof(reason)) != 0) {
                fprintf(stderr, "op25b-watch: %s\n", reason);
                return -1;
            }
            options->metrics_address = optarg;
            break;
        }
        case OPTION_FLOWS: {
            char *end;
            errno = 0;
            unsigned long flows = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || flows == 0 || flows > 100000000UL ||
                optarg[0] == '-') {
                fprintf(stderr, "op25b-watch: --flows needs a number from 1 to 100000000\n");
                return -1;
            }
            options->flows = flows;
            break;
        }
        case OPTION_WORKERS: {
            char *end;
            errno = 0;
            unsigned long workers = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || workers == 0 || workers > 64 || optarg[0] == '-') {
                fprintf(stderr, "op25b-watch: --workers needs a number from 1 to 64\n");
                return -1;
            }
            options->workers = (unsigned)workers;
            break;
        }
        case OPTION_CHECK:
            options->check = true;
            break;
        case OPTION_NO_PREFILTER:
            options->no_prefilter = true;
            break;
        case OPTION_PREFILTER:
            options->prefilter_files = true;
            break;
        case 'q':
            options->verbosity = -1;
            break;
        case 'v':
            if (options->verbosity >= 0)
                options->verbosity++;
            break;
        case OPTION_VERSION:
            version_print(stdout);
            exit(EXIT_DONE);
        case 'h':
            usage(stdout);
            exit(EXIT_DONE);
        case ':':
            fprintf(stderr, "op25b-watch: option %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "op25b-watch: unknown option %s\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "op25b-watch: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (options->policy_path == NULL) {
        fprintf(stderr, "op25b-watch: a site policy is required (-c SITE.yaml)\n");
        return -1;
    }
    if (options->kafka_brokers == NULL && options->kafka_only_option != NULL) {
        fprintf(stderr, "op25b-watch: %s needs the Kafka sink (-k BROKERS)\n",
                options->kafka_only_option);
        return -1;
    }
    if (options->later_option != NULL) {
        fprintf(stderr, "op25b-watch: %s is not yet available in this version\n",
                options->later_option);
        return -1;
    }
    if (options->check)
        return 0;
    if (options->file_count == 0 && options->interface_count == 0) {
        fprintf(stderr, "op25b-watch: give capture files (-r) or interfaces (-i)\n");
        return -1;
    }
    if (options->file_count > 0 && options->interface_count > 0) {
        fprintf(stderr, "op25b-watch: -r and -i cannot be mixed\n");
        return -1;
    }
    return 0;
}

static void print_prefixes(const struct prefix *prefixes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char text[PREFIX_TEXT_MAX];
        prefix_format(&prefixes[i], text, sizeof(text));
        printf("%s%s", i == 0 ? "" : " ", text);
    }
}

static void print_policy(const struct policy *policy)
{
    printf("policy %s: valid\n", policy->path);
    printf("sensor %s, %s\n", policy->sensor_name, sensor_position_name(policy->position));
    printf("own prefixes: ");
    print_prefixes(policy->own_prefixes, policy->own_prefix_count);
    printf("\nresolvers: ");
    print_prefixes(policy->resolvers, policy->resolver_count);
    printf("\npools (%zu):\n", policy->pool_count);
    for (size_t i = 0; i < policy->pool_count; i++) {
        const struct pool *pool = &policy->pools[i];
        printf("  %-16s %-8s ", pool->name, pool_type_name(pool->type));
        if (pool->blocking_point != POLICY_NO_INDEX)
            printf("blocked at %s  ", policy->blocking_points[pool->blocking_point].name);
        else if (pool->type == POOL_DYNAMIC)
            printf("NO BLOCKING POINT  ");
        print_prefixes(pool->prefixes, pool->prefix_count);
        printf("\n");
    }
    printf("msas (%zu):\n", policy->msa_count);
    for (size_t i = 0; i < policy->msa_count; i++) {
        const struct msa *msa = &policy->msas[i];
        printf("  %-16s ports ", msa->name);
        for (size_t p = 0; p < msa->port_count; p++)
            printf("%s%u", p == 0 ? "" : ",", msa->ports[p]);
        printf("  pools ");
        if (msa->pool_count == 0)
            printf("all");
        for (size_t p = 0; p < msa->pool_count; p++)
            printf("%s%s", p == 0 ? "" : ",", policy->pools[msa->pools[p]].name);
        printf("  ");
        print_prefixes(msa->prefixes, msa->prefix_count);
        printf("\n");
    }
    printf("blocking points (%zu):\n", policy->blocking_point_count);
    for (size_t i = 0; i < policy->blocking_point_count; i++) {
        const struct blocking_point *point = &policy->blocking_points[i];
        printf("  %-16s level %d %-11s %-7s reject %s\n", point->name, (int)point->level,
               blocking_level_name(point->level), blocking_state_name(point->state),
               blocking_reject_name(point->reject));
    }
    printf("segments (%zu):\n", policy->segment_count);
    for (size_t i = 0; i < policy->segment_count; i++) {
        const struct segment *segment = &policy->segments[i];
        printf("  %-16s ", segment->name);
        if (segment->match == SEGMENT_VLAN)
            printf("vlan %u", segment->vlan);
        else if (segment->match == SEGMENT_INTERFACE)
            printf("interface %s", segment->interface);
        else
            printf("mac %02x:%02x:%02x:%02x:%02x:%02x", segment->mac[0], segment->mac[1],
                   segment->mac[2], segment->mac[3], segment->mac[4], segment->mac[5]);
        printf("  expects ");
        for (size_t p = 0; p < segment->expects_count; p++)
            printf("%s%s", p == 0 ? "" : ",", policy->pools[segment->expects[p]].name);
        printf("\n");
    }
    printf("ACL rules (draft section 4: dynamic blocks x (MSA blocks + 1)):\n");
    static const int families[2] = {ADDRESS_V4, ADDRESS_V6};
    static const char *const names[2] = {"IPv4", "IPv6"};
    for (int f = 0; f < 2; f++) {
        struct acl_rule_count count;
        policy_acl_rule_count(policy, families[f], &count);
        /* The draft's formula assumes every MSA serves every pool; MSAs limited to some
         * pools need fewer permits, so the exact count is printed beside it. */
        printf("  %s: %zu dynamic blocks x (%zu MSA blocks + 1) = %zu rules", names[f],
               count.dynamic_blocks, count.msa_blocks,
               count.dynamic_blocks * (count.msa_blocks + 1));
        if (count.rules != count.dynamic_blocks * (count.msa_blocks + 1))
            printf(" (%zu with MSAs limited to their pools)", count.rules);
        printf("\n");
    }
    static char prefilter[PREFILTER_TEXT_MAX];
    if (prefilter_expression(policy, true, prefilter, sizeof(prefilter)) > 0)
        printf("kernel prefilter for live capture (off with --no-prefilter; without its "
               "vlan part on links that have none):\n  %s\n",
               prefilter);
    else
        printf("kernel prefilter for live capture: none, the policy's prefixes make it "
               "too long\n");
}

static void print_summary(const struct policy *policy, const struct sensor *sensor,
                          const struct bot_ranking *suspects, double seconds)
{
    const struct sensor_counters *counters = sensor_counters(sensor);
    const struct coverage *coverage = sensor_coverage(sensor);
    uint64_t by_verdict[VERDICT_COUNT] = {0};
    for (size_t p = 0; p < policy->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts =
                coverage_get(coverage, (int)p, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
            for (int v = 0; v < VERDICT_COUNT; v++)
                by_verdict[v] += counts->by_verdict[v];
        }
    }
    uint64_t attempts = 0;
    for (int v = 0; v < VERDICT_COUNT; v++)
        attempts += by_verdict[v];
    fprintf(stderr,
            "op25b-watch: %llu packets, %llu bytes in %.2f s; %llu attempts: %llu allowed, "
            "%llu blocked, %llu leaked, %llu would_block, %llu unknown\n",
            (unsigned long long)counters->packets, (unsigned long long)counters->bytes, seconds,
            (unsigned long long)attempts, (unsigned long long)by_verdict[VERDICT_ALLOWED],
            (unsigned long long)by_verdict[VERDICT_BLOCKED],
            (unsigned long long)by_verdict[VERDICT_LEAKED],
            (unsigned long long)by_verdict[VERDICT_WOULD_BLOCK],
            (unsigned long long)by_verdict[VERDICT_UNKNOWN]);
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts =
                coverage_get(coverage, (int)p, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
            uint64_t total = coverage_attempts(counts);
            if (total == 0)
                continue;
            double ratio;
            char ratio_text[32] = "n/a";
            if (coverage_ratio(counts, &ratio))
                snprintf(ratio_text, sizeof(ratio_text), "%.1f%%", ratio * 100);
            fprintf(stderr, "  pool %s %s (%s): %llu attempts, coverage %s\n", pool->name,
                    f == 0 ? "IPv4" : "IPv6",
                    pool->blocking_point == POLICY_NO_INDEX
                        ? "no blocking point"
                        : policy->blocking_points[pool->blocking_point].name,
                    (unsigned long long)total, ratio_text);
        }
    }
    uint64_t malformed = counters->decode[DECODE_TRUNCATED] + counters->decode[DECODE_MALFORMED] +
                         counters->decode[DECODE_TOO_DEEP];
    if (malformed > 0 || counters->flow_evictions > 0 || counters->capture_drops > 0)
        fprintf(stderr, "  %llu malformed packets skipped, %llu evictions, %llu capture drops\n",
                (unsigned long long)malformed, (unsigned long long)counters->flow_evictions,
                (unsigned long long)counters->capture_drops);
    const struct bot_rank *ranks;
    size_t ranked = suspects != NULL ? bot_ranking_top(suspects, &ranks) : 0;
    if (ranked > 0)
        fprintf(stderr, "  top bot suspects:\n");
    for (size_t i = 0; i < ranked; i++)
        fprintf(stderr, "  %2zu. %-24s score %5.1f in %u window%s%s%s\n", i + 1,
                ranks[i].subscriber, ranks[i].score, ranks[i].windows,
                ranks[i].windows == 1 ? "" : "s", ranks[i].pool >= 0 ? ", pool " : "",
                ranks[i].pool >= 0 ? policy->pools[ranks[i].pool].name : "");
}

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static packet_time wall_clock(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (packet_time)now.tv_sec * PACKET_TIME_SECOND + now.tv_nsec / 1000;
}

/* Live capture needs root (or CAP_NET_RAW) only to open the socket: after that the sensor,
 * which parses whatever an attacker sends, runs as an ordinary user. Files written at the
 * end (reports, the spool) must be writable by that user. */
static int drop_privileges(const char *user, char *error, size_t error_size)
{
    errno = 0;
    struct passwd *account = getpwnam(user);
    if (account == NULL) {
        snprintf(error, error_size, "-u %s: no such user", user);
        return -1;
    }
    if (getuid() != 0 && geteuid() != 0) {
        if (account->pw_uid == getuid())
            return 0;
        snprintf(error, error_size, "-u %s: only root can change user", user);
        return -1;
    }
    if (initgroups(account->pw_name, account->pw_gid) != 0 || setgid(account->pw_gid) != 0 ||
        setuid(account->pw_uid) != 0) {
        snprintf(error, error_size, "-u %s: cannot change user: %s", user, strerror(errno));
        return -1;
    }
    /* A process that could get root back has not dropped it (CERT POS37-C). */
    if (account->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(error, error_size, "-u %s: root could be regained; stopping", user);
        return -1;
    }
    return 0;
}

static int run(const struct options *options, struct policy *policy)
{
    char error[512];
    int status = EXIT_DONE;
    /* From the start: a SIGTERM during start-up (nDPI and the tables take a while, a worker
     * more so) must end the run cleanly, not kill it with nothing written. */
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    /* On by default for live capture, where it saves the copy out of the kernel; on files
     * only when asked, libpcap then applying it as it reads. */
    static char prefilter[PREFILTER_TEXT_MAX], untagged[PREFILTER_TEXT_MAX];
    bool want_prefilter = options->interface_count > 0 ? !options->no_prefilter
                                                       : options->prefilter_files;
    if (want_prefilter &&
        (prefilter_expression(policy, true, prefilter, sizeof(prefilter)) == 0 ||
         prefilter_expression(policy, false, untagged, sizeof(untagged)) == 0))
        log_message(LOG_WARNING, "the policy's prefixes make the prefilter too long; "
                                 "reading without it");
    struct capture_options capture_options = {
        .files = options->files,
        .file_count = options->file_count,
        .interfaces = options->interfaces,
        .interface_count = options->interface_count,
        .filter = options->filter,
        .prefilter = prefilter[0] != '\0' && untagged[0] != '\0' ? prefilter : NULL,
        .prefilter_untagged = untagged,
        .fanout_group = options->fanout_group,
        .fanout_ipv6_bits = (uint8_t)policy_ipv6_subscriber_bits(policy),
    };
    enum capture_error capture_error;
    struct capture *capture = capture_open(&capture_options, &capture_error, error,
                                           sizeof(error));
    if (capture == NULL) {
        fprintf(stderr, "op25b-watch: %s\n", error);
        return capture_error == CAPTURE_ERROR_FILTER ? EXIT_USAGE : EXIT_RUNTIME;
    }
    struct events events;
    events_init(&events, policy);
    events.worker = options->worker;
    /* The event lines subscribe first: lines keep the order records are published in. */
    struct bus bus;
    bus_init(&bus);
    bus_subscribe(&bus, events_subscriber(&events));
    struct report *report = NULL;
    struct metrics *metrics = NULL;
    struct bot_ranking *suspects = NULL;
    /* Standard output is the default only without Kafka; -o works beside it. */
    if (options->output != NULL || options->kafka_brokers == NULL) {
        struct sink *output =
            sink_file_open(options->output != NULL ? options->output : "-", options->worker >= 0,
                           error, sizeof(error));
        if (output == NULL) {
            fprintf(stderr, "op25b-watch: %s\n", error);
            status = EXIT_RUNTIME;
            goto out_close_events;
        }
        events_add_sink(&events, output);
    }
    if (options->kafka_brokers != NULL) {
        /* A spool is one process's (it is locked): each worker keeps its own inside. */
        char worker_spool[PATH_MAX];
        const char *spool = options->spool;
        if (spool != NULL && options->worker >= 0) {
            if (worker_spool_path(spool, options->worker, worker_spool, sizeof(worker_spool)) !=
                    0 ||
                (mkdir(spool, 0700) != 0 && errno != EEXIST)) {
                fprintf(stderr, "op25b-watch: spool %s: %s\n", spool, strerror(errno));
                status = EXIT_RUNTIME;
                goto out_close_events;
            }
            spool = worker_spool;
        }
        struct sink_kafka_options kafka = {
            .brokers = options->kafka_brokers,
            .topic = options->kafka_topic,
            .properties = options->kafka_properties,
            .property_count = options->kafka_property_count,
            .queue_megabytes = options->kafka_queue_megabytes,
            .timeout_milliseconds = options->kafka_timeout_milliseconds,
            .spool_directory = spool,
        };
        bool bad_option;
        struct sink *sink = sink_kafka_open(&kafka, &bad_option, error, sizeof(error));
        if (sink == NULL) {
            fprintf(stderr, "op25b-watch: %s\n", error);
            status = bad_option ? EXIT_USAGE : EXIT_RUNTIME;
            goto out_close_events;
        }
        events_add_sink(&events, sink);
    }

    /* Before the sensor, so it hears every bot_suspect event. */
    suspects = bot_ranking_new(10);
    if (suspects == NULL || bot_ranking_attach(suspects, &bus) != 0) {
        fprintf(stderr, "op25b-watch: out of memory for the suspect ranking\n");
        status = EXIT_RUNTIME;
        goto out_close_events;
    }

    const char *names[MAX_INPUTS];
    size_t source_count = capture_source_count(capture);
    for (size_t i = 0; i < source_count && i < MAX_INPUTS; i++)
        names[i] = capture_source_name(capture, i);
    struct sensor *sensor = sensor_new(policy, &bus, names, source_count, options->share);
    if (sensor == NULL) {
        fprintf(stderr, "op25b-watch: out of memory for %u flows\n", policy->limits.flows);
        status = EXIT_RUNTIME;
        goto out_close_events;
    }
    sensor_set_snaplen(sensor, capture_snaplen(capture));
    if (options->report_count > 0) {
        report = report_new(policy);
        if (report == NULL || report_attach(report, &bus) != 0) {
            fprintf(stderr, "op25b-watch: out of memory for the report\n");
            status = EXIT_RUNTIME;
            goto out_free_sensor;
        }
        report_set_inputs(report, names, source_count);
    }
    if (options->shared_metrics != NULL) {
        metrics = options->shared_metrics;
        metrics_become_worker(metrics, (unsigned)options->worker);
        if (metrics_attach(metrics, &bus) != 0) {
            fprintf(stderr, "op25b-watch: too many bus subscribers\n");
            status = EXIT_RUNTIME;
            goto out_close_events;
        }
    } else if (options->metrics_address != NULL) {
        metrics = metrics_start(options->metrics_address, policy, error, sizeof(error));
        if (metrics == NULL || metrics_attach(metrics, &bus) != 0) {
            fprintf(stderr, "op25b-watch: %s\n", metrics == NULL ? error : "too many bus subscribers");
            status = EXIT_RUNTIME;
            goto out_free_sensor;
        }
    }
    if (options->user != NULL && drop_privileges(options->user, error, sizeof(error)) != 0) {
        fprintf(stderr, "op25b-watch: %s\n", error);
        status = EXIT_RUNTIME;
        goto out_free_sensor;
    }
    if (options->user != NULL && options->worker >= 0)
        stop_with_parent(options->parent);
    if (options->ready_fd >= 0) {
        ssize_t said = write(options->ready_fd, "r", 1);
        (void)said; /* the parent takes silence as a worker that did not get this far */
        close(options->ready_fd);
    }

    running_capture = capture;
    if (stop_requested)
        capture_interrupt(capture);

    bool live = capture_is_live(capture);
    struct progress progress;
    progress_init(&progress, stderr, options->verbosity >= 0 && !live);
    double started = monotonic_seconds();
    const char *reason = "end_of_input";
    uint64_t received = 0, drops = 0, errors = 0;
    for (;;) {
        struct capture_packet packet;
        enum capture_status next = capture_next(capture, &packet);
        if (next == CAPTURE_PACKET) {
            sensor_packet(sensor, packet.linktype, packet.source, packet.ts, packet.data,
                          packet.captured_length, packet.wire_length);
            if (live && (sensor_counters(sensor)->packets & 0xffff) == 0) {
                capture_stats(capture, &received, &drops, &errors);
                sensor_set_capture_stats(sensor, received, drops, errors);
            }
            if (metrics != NULL)
                metrics_update(metrics, sensor_counters(sensor), sensor_coverage(sensor), &events,
                               sensor_now(sensor));
            progress_update(&progress, capture, sensor_counters(sensor)->packets);
            continue;
        }
        if (next == CAPTURE_IDLE) {
            /* Live packet time is the wall clock, so idle time may run the timers. */
            capture_stats(capture, &received, &drops, &errors);
            sensor_set_capture_stats(sensor, received, drops, errors);
            sensor_tick(sensor, wall_clock());
            events_flush(&events);
            if (metrics != NULL)
                metrics_update(metrics, sensor_counters(sensor), sensor_coverage(sensor), &events,
                               sensor_now(sensor));
            continue;
        }
        if (next == CAPTURE_INTERRUPTED)
            reason = "shutdown";
        break;
    }
    running_capture = NULL;
    progress_clear(&progress);
    capture_stats(capture, &received, &drops, &errors);
    sensor_set_capture_stats(sensor, received, drops, errors);
    if (live)
        sensor_tick(sensor, wall_clock()); /* the final events' time: now */
    sensor_finish(sensor, reason);
    if (metrics != NULL)
        metrics_publish(metrics, sensor_counters(sensor), sensor_coverage(sensor), &events,
                        sensor_now(sensor));
    struct output_counts written = events_counts(&events);
    if (report != NULL && report_finish(report, &written, sensor_counters(sensor),
                                        sensor_coverage(sensor), sensor_now(sensor), reason) != 0) {
        fprintf(stderr, "op25b-watch: out of memory for the report\n");
        status = EXIT_RUNTIME;
    } else if (report != NULL && options->worker >= 0) {
        /* The parent writes the report, from every worker's state. */
        FILE *state = fdopen(dup(options->report_states[options->worker]), "w");
        if (state == NULL || report_save(report, state) != 0) {
            fprintf(stderr, "op25b-watch: worker %d could not save its report state\n",
                    options->worker);
            status = EXIT_RUNTIME;
        }
        if (state != NULL)
            fclose(state);
    } else if (report != NULL && write_reports(report, options) != 0) {
        status = EXIT_RUNTIME;
    }
    if (options->verbosity >= 0)
        print_summary(policy, sensor, suspects, monotonic_seconds() - started);
    if (errors > 0) {
        fprintf(stderr, "op25b-watch: %llu capture input(s) were damaged; what could be read "
                        "was judged and reported\n",
                (unsigned long long)errors);
        status = EXIT_RUNTIME;
    }
out_free_sensor:
    metrics_stop(metrics);
    report_free(report);
    sensor_free(sensor);
out_close_events: {
    uint64_t undelivered = events_close(&events);
    if (undelivered > 0) {
        fprintf(stderr, "op25b-watch: %llu events could not be delivered\n",
                (unsigned long long)undelivered);
        status = EXIT_RUNTIME;
    }
    bot_ranking_free(suspects);
}
    capture_close(capture);
    return status;
}

/* --report with --workers: the workers' report states added into one report, written
 * as each --report file asks. A worker whose state is missing or damaged is named, and the
 * report is still written from the others. */
static int write_merged_report(const struct options *options, const struct policy *policy,
                               unsigned started)
{
    char error[512];
    int status = 0;
    struct report *report = report_new(policy);
    if (report == NULL) {
        fprintf(stderr, "op25b-watch: out of memory for the report\n");
        return -1;
    }
    report_set_inputs(report, options->interfaces, options->interface_count);
    for (unsigned i = 0; i < started; i++) {
        int fd = dup(options->report_states[i]);
        FILE *state = fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "r") : NULL;
        if (state == NULL) {
            if (fd >= 0)
                close(fd);
            fprintf(stderr, "op25b-watch: worker %u's report state: %s\n", i, strerror(errno));
            status = -1;
            continue;
        }
        if (report_merge(report, state, error, sizeof(error)) != 0) {
            fprintf(stderr, "op25b-watch: worker %u's report state: %s; the report lacks "
                            "what it saw\n",
                    i, error);
            status = -1;
        }
        fclose(state);
    }
    if (report_merge_finish(report) != 0) {
        fprintf(stderr, "op25b-watch: out of memory for the report\n");
        status = -1;
    } else if (write_reports(report, options) != 0) {
        status = -1;
    }
    report_free(report);
    return status;
}

static volatile sig_atomic_t forwarded_signal;

static void forward_signal(const pid_t *children, unsigned started)
{
    for (unsigned i = 0; i < started; i++)
        kill(children[i], forwarded_signal);
    forwarded_signal = 0;
}

/* -u with --workers: waits until every worker has dropped root (or has ended: its end of
 * the pipe closes), passing signals on meanwhile, then drops root in the parent too, which
 * goes on to serve metrics. */
static int await_workers_unprivileged(const struct options *options, int ready[2],
                                      unsigned started, const pid_t *children, int status)
{
    close(ready[1]);
    unsigned said = 0;
    while (said < started) {
        char byte;
        ssize_t got = read(ready[0], &byte, 1);
        if (got == 1) {
            said++;
        } else if (got < 0 && errno == EINTR) {
            if (forwarded_signal != 0)
                forward_signal(children, started);
        } else {
            break; /* every worker has ended or said so */
        }
    }
    close(ready[0]);
    char error[512];
    if (drop_privileges(options->user, error, sizeof(error)) != 0) {
        fprintf(stderr, "op25b-watch: %s\n", error);
        for (unsigned i = 0; i < started; i++)
            kill(children[i], SIGTERM);
        return EXIT_RUNTIME;
    }
    return status;
}

static void on_worker_signal(int signal_number)
{
    forwarded_signal = signal_number;
}

/* One process per worker, each in the same PACKET_FANOUT group: the kernel gives each a
 * share of the packets, chosen so that every packet of an attempt meets in one worker
 * (fanout.c). Each worker is a whole sensor with its own flow table (limits.flows / N) and
 * writes its own events, marked with "worker"; Kafka merges them in the topic, and coverage
 * and sensor_stats add up over the workers. */
static int run_workers(struct options *options, struct policy *policy)
{
    if (options->interface_count == 0) {
        fprintf(stderr, "op25b-watch: --workers needs live capture (-i)\n");
        return EXIT_USAGE;
    }
    /* Anonymous files: a worker's report state can be larger than a pipe holds, and the
     * parent only reads it once the worker is gone. */
    for (unsigned i = 0; options->report_count > 0 && i < options->workers; i++) {
        options->report_states[i] = memfd_create("op25b-report-state", MFD_CLOEXEC);
        if (options->report_states[i] < 0) {
            fprintf(stderr, "op25b-watch: memfd_create: %s\n", strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    if (options->output != NULL && strcmp(options->output, "-") != 0) {
        /* Truncated once here; the workers append, a whole line per write. */
        FILE *file = fopen(options->output, "w");
        if (file == NULL) {
            fprintf(stderr, "op25b-watch: %s: cannot open for writing: %s\n", options->output,
                    strerror(errno));
            return EXIT_RUNTIME;
        }
        fclose(file);
    }
    /* One endpoint for all: the parent serves the workers' sum from shared memory. */
    if (options->metrics_address != NULL) {
        char error[512];
        options->shared_metrics =
            metrics_start_shared(policy, options->workers, error, sizeof(error));
        if (options->shared_metrics == NULL) {
            fprintf(stderr, "op25b-watch: %s\n", error);
            return EXIT_RUNTIME;
        }
    }
    /* What one worker sees and another needs: the halves of a triangular-spam join, a
     * server's connections, findings one per server (worker_share.h). */
    struct worker_share share;
    if (!worker_share_init(&share, options->workers, policy->segment_count, NULL)) {
        fprintf(stderr, "op25b-watch: no shared memory for %u workers\n", options->workers);
        metrics_stop(options->shared_metrics);
        return EXIT_RUNTIME;
    }
    options->share = &share;
    policy->limits.flows = policy->limits.flows / options->workers + 1;
    options->fanout_group = (uint16_t)((getpid() & 0x7fff) | 0x8000);
    fflush(NULL);
    /* Before the first fork, so a signal during the forks is passed on, not fatal; held
     * back while forking, so a child only takes it once its own handler is in place. */
    struct sigaction action = {.sa_handler = on_worker_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigset_t stopping, previous;
    sigemptyset(&stopping);
    sigaddset(&stopping, SIGINT);
    sigaddset(&stopping, SIGTERM);
    sigprocmask(SIG_BLOCK, &stopping, &previous);
    /* With -u the parent drops root as well, once every worker has (before, it could
     * not signal them): each says so on this pipe. */
    int ready[2] = {-1, -1};
    if (options->user != NULL && pipe(ready) != 0) {
        fprintf(stderr, "op25b-watch: pipe: %s\n", strerror(errno));
        return EXIT_RUNTIME;
    }
    pid_t children[64], parent = getpid();
    unsigned started = 0;
    for (unsigned i = 0; i < options->workers; i++) {
        pid_t child = fork();
        if (child < 0) {
            fprintf(stderr, "op25b-watch: fork: %s\n", strerror(errno));
            break;
        }
        if (child == 0) {
            options->worker = (int)i;
            worker_share_set_worker(&share, i);
            options->parent = parent;
            options->ready_fd = ready[1];
            if (ready[0] >= 0)
                close(ready[0]);
            struct sigaction own = {.sa_handler = on_signal};
            sigemptyset(&own.sa_mask);
            sigaction(SIGINT, &own, NULL);
            sigaction(SIGTERM, &own, NULL);
            stop_with_parent(parent);
            sigprocmask(SIG_SETMASK, &previous, NULL);
            int status = run(options, policy);
            fflush(NULL);
            _exit(status);
        }
        children[started++] = child;
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    int status = started == options->workers ? EXIT_DONE : EXIT_RUNTIME;
    if (options->user != NULL)
        status = await_workers_unprivileged(options, ready, started, children, status);
    /* The server's thread only now: the workers were forked from a single thread. */
    if (options->shared_metrics != NULL) {
        char error[512];
        if (metrics_serve(options->shared_metrics, options->metrics_address, error,
                          sizeof(error)) != 0) {
            fprintf(stderr, "op25b-watch: %s\n", error);
            for (unsigned i = 0; i < started; i++)
                kill(children[i], SIGTERM);
            status = EXIT_RUNTIME;
        }
    }
    /* The workers stop on SIGINT/SIGTERM themselves; the parent passes the signal on. */
    unsigned running = started;
    while (running > 0) {
        if (forwarded_signal != 0) /* came before waitpid could be interrupted */
            forward_signal(children, started);
        int child_status;
        pid_t done = waitpid(-1, &child_status, 0);
        if (done < 0) {
            if (errno == EINTR && forwarded_signal != 0) {
                forward_signal(children, started);
                continue;
            }
            if (errno == EINTR)
                continue;
            break;
        }
        running--;
        int code = WIFEXITED(child_status) ? WEXITSTATUS(child_status) : EXIT_RUNTIME;
        if (code > status)
            status = code;
    }
    metrics_stop(options->shared_metrics);
    worker_share_free(&share);
    options->share = NULL;
    if (options->report_count > 0 && write_merged_report(options, policy, started) != 0)
        status = EXIT_RUNTIME;
    return status;
}

int main(int argc, char **argv)
{
    struct options options = {.kafka_timeout_milliseconds = SINK_KAFKA_DEFAULT_TIMEOUT_MS};
    if (parse_options(argc, argv, &options) != 0) {
        fprintf(stderr, "Try 'op25b-watch --help' for more information.\n");
        return EXIT_USAGE;
    }
    if (options.verbosity < 0)
        log_set_level(LOG_ERROR);
    else if (options.verbosity > 0)
        log_set_level(options.verbosity == 1 ? LOG_INFO : LOG_DEBUG);

    char error[1024];
    struct policy *policy = policy_load(options.policy_path, error, sizeof(error));
    if (policy == NULL) {
        fprintf(stderr, "%s\n", error);
        return EXIT_USAGE;
    }
    if (options.flows > 0)
        policy->limits.flows = (uint32_t)options.flows;
    int status;
    options.worker = -1;
    options.ready_fd = -1;
    if (options.check) {
        print_policy(policy);
        status = EXIT_DONE;
    } else if (options.workers > 1) {
        if (options.spool != NULL)
            warn_unused_spools(&options);
        status = run_workers(&options, policy);
    } else {
        if (options.spool != NULL)
            warn_unused_spools(&options);
        status = run(&options, policy);
    }
    policy_free(policy);
    return status;
}
