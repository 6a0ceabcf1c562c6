/* Command line and wiring only (guide section 6). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "coverage.h"
#include "event.h"
#include "log.h"
#include "policy.h"
#include "sensor.h"
#include "sink.h"

enum { EXIT_DONE = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };
enum { MAX_INPUTS = 64 };

struct options {
    const char *policy_path;
    const char *files[MAX_INPUTS];
    size_t file_count;
    const char *interfaces[MAX_INPUTS];
    size_t interface_count;
    const char *filter;
    const char *output;
    const char *later_option; /* the first option whose issue has not landed yet */
    unsigned long flows;
    bool check;
    int verbosity; /* -1 quiet, 0 default, 1.. verbose */
};

static struct capture *running_capture;

static void on_signal(int signal_number)
{
    (void)signal_number;
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
          "  -o, --output FILE     NDJSON events ('-' is standard output, the default)\n"
          "  -k BROKERS            Kafka bootstrap servers (not yet available)\n"
          "  -t TOPIC              Kafka topic (not yet available)\n"
          "  -X KEY=VALUE          librdkafka property (not yet available)\n"
          "      --report FILE     audit report (not yet available)\n"
          "      --metrics ADDR    Prometheus endpoint (not yet available)\n"
          "      --flows N         flow-table capacity (overrides limits.flows)\n"
          "      --check           validate the policy, print it and the ACL rule count\n"
          "  -q, --quiet           no summary, errors only\n"
          "  -v, --verbose         more messages on standard error; repeatable\n"
          "      --version         print the version\n"
          "  -h, --help            this help\n"
          "exit status: 0 done, 1 failed at run time, 2 bad usage or bad policy\n",
          stream);
}

static int parse_options(int argc, char **argv, struct options *options)
{
    enum { OPTION_REPORT = 256, OPTION_METRICS, OPTION_CHECK, OPTION_VERSION, OPTION_FLOWS };
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'},
        {"read", required_argument, NULL, 'r'},
        {"interface", required_argument, NULL, 'i'},
        {"filter", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"report", required_argument, NULL, OPTION_REPORT},
        {"metrics", required_argument, NULL, OPTION_METRICS},
        {"flows", required_argument, NULL, OPTION_FLOWS},
        {"check", no_argument, NULL, OPTION_CHECK},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":c:r:i:f:o:k:t:X:qvh", long_options, NULL)) !=
           -1) {
        switch (option) {
        case 'c':
            options->policy_path = optarg;
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
            options->later_option = options->later_option ? options->later_option : "-k";
            break;
        case 't':
            options->later_option = options->later_option ? options->later_option : "-t";
            break;
        case 'X':
            options->later_option = options->later_option ? options->later_option : "-X";
            break;
        case OPTION_REPORT:
            options->later_option = options->later_option ? options->later_option : "--report";
            break;
        case OPTION_METRICS:
            options->later_option = options->later_option ? options->later_option : "--metrics";
            break;
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
        case OPTION_CHECK:
            options->check = true;
            break;
        case 'q':
            options->verbosity = -1;
            break;
        case 'v':
            if (options->verbosity >= 0)
                options->verbosity++;
            break;
        case OPTION_VERSION:
            printf("op25b-watch %s\n", OP25B_VERSION);
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
}

static void print_summary(const struct policy *policy, const struct sensor *sensor,
                          double seconds)
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

static int run(const struct options *options, struct policy *policy)
{
    char error[512];
    int status = EXIT_DONE;
    struct capture_options capture_options = {
        .files = options->files,
        .file_count = options->file_count,
        .interfaces = options->interfaces,
        .interface_count = options->interface_count,
        .filter = options->filter,
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
    struct sink *output = sink_file_open(options->output != NULL ? options->output : "-", error,
                                         sizeof(error));
    if (output == NULL) {
        fprintf(stderr, "op25b-watch: %s\n", error);
        status = EXIT_RUNTIME;
        goto out_close_capture;
    }
    events_add_sink(&events, output);

    const char *names[MAX_INPUTS];
    size_t source_count = capture_source_count(capture);
    for (size_t i = 0; i < source_count && i < MAX_INPUTS; i++)
        names[i] = capture_source_name(capture, i);
    struct sensor *sensor = sensor_new(policy, &events, names, source_count);
    if (sensor == NULL) {
        fprintf(stderr, "op25b-watch: out of memory for %u flows\n", policy->limits.flows);
        status = EXIT_RUNTIME;
        goto out_close_events;
    }

    running_capture = capture;
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    bool live = capture_is_live(capture);
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
            continue;
        }
        if (next == CAPTURE_IDLE) {
            /* Live packet time is the wall clock, so idle time may run the timers. */
            capture_stats(capture, &received, &drops, &errors);
            sensor_set_capture_stats(sensor, received, drops, errors);
            sensor_tick(sensor, wall_clock());
            events_flush(&events);
            continue;
        }
        if (next == CAPTURE_INTERRUPTED)
            reason = "shutdown";
        break;
    }
    running_capture = NULL;
    capture_stats(capture, &received, &drops, &errors);
    sensor_set_capture_stats(sensor, received, drops, errors);
    sensor_finish(sensor, reason);
    if (options->verbosity >= 0)
        print_summary(policy, sensor, monotonic_seconds() - started);
    if (errors > 0) {
        fprintf(stderr, "op25b-watch: %llu capture input(s) were damaged; what could be read "
                        "was judged and reported\n",
                (unsigned long long)errors);
        status = EXIT_RUNTIME;
    }
    sensor_free(sensor);
out_close_events: {
    uint64_t undelivered = events_close(&events);
    if (undelivered > 0) {
        fprintf(stderr, "op25b-watch: %llu events could not be delivered\n",
                (unsigned long long)undelivered);
        status = EXIT_RUNTIME;
    }
}
out_close_capture:
    capture_close(capture);
    return status;
}

int main(int argc, char **argv)
{
    struct options options = {0};
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
    if (options.check) {
        print_policy(policy);
        status = EXIT_DONE;
    } else {
        status = run(&options, policy);
    }
    policy_free(policy);
    return status;
}
