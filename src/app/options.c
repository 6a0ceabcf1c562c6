/* The command line -> struct options. Every message says what was wrong in the user's
 * words (the option as typed); main.c adds the hint and exits 2. */
#include "app/options.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/version.h"
#include "output/metrics.h"
#include "output/sink.h"
#include "report/report.h"
#include "util/log.h"

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

/* An option's outcome: taken, refused (said on stderr), or another group's. */
enum { TAKEN = 0, REFUSED = -1, NOT_MINE = 1 };

struct parsing {
    struct options *options;
    char **argv;
    const char *kafka_only_option; /* the first Kafka option given without -k */
};

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

void options_usage_hint(void)
{
    log_line("Try 'op25b-watch --help' for more information.");
}

/* A whole number from 1 to max, written plainly. */
static int parse_count(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long count = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || count == 0 || count > max || text[0] == '-')
        return -1;
    *out = count;
    return 0;
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

static int add_input(const char **inputs, size_t *count, const char *input, const char *what)
{
    if (*count == INPUTS_MAX) {
        log_message(LOG_FAILURE, "at most %d %s", INPUTS_MAX, what);
        return REFUSED;
    }
    inputs[(*count)++] = input;
    return TAKEN;
}

static int add_report(struct options *options, const char *path)
{
    if (report_format_of(path) < 0) {
        log_message(LOG_FAILURE, "--report %s: the file must end in .json, .html or .txt", path);
        return REFUSED;
    }
    if (options->report_count == REPORTS_MAX) {
        log_message(LOG_FAILURE, "at most %d reports", REPORTS_MAX);
        return REFUSED;
    }
    options->reports[options->report_count++] = path;
    return TAKEN;
}

/* -u USER: a user that does not exist, or one this process cannot become, is bad usage,
 * said before anything is opened rather than once the capture is. */
static int set_user(struct options *options, const char *user)
{
    errno = 0;
    struct passwd *account = getpwnam(user);
    if (account == NULL) {
        if (errno != 0 && errno != ENOENT && errno != ESRCH)
            log_message(LOG_FAILURE, "-u %s: cannot look the user up: %s", user, strerror(errno));
        else
            log_message(LOG_FAILURE, "-u %s: no such user", user);
        return REFUSED;
    }
    if (getuid() != 0 && geteuid() != 0 && account->pw_uid != getuid()) {
        log_message(LOG_FAILURE, "-u %s: only root can change user", user);
        return REFUSED;
    }
    options->user = user;
    options->user_uid = account->pw_uid;
    options->user_gid = account->pw_gid;
    return TAKEN;
}

static int set_metrics_address(struct options *options, const char *address)
{
    struct sockaddr_storage parsed;
    char reason[256];
    if (metrics_parse_address(address, &parsed, reason, sizeof(reason)) != 0) {
        log_message(LOG_FAILURE, "%s", reason);
        return REFUSED;
    }
    options->metrics_address = address;
    return TAKEN;
}

static int set_flows(struct options *options, const char *text)
{
    if (parse_count(text, FLOWS_MAX, &options->flows) != 0) {
        log_message(LOG_FAILURE, "--flows needs a number from 1 to %lu", FLOWS_MAX);
        return REFUSED;
    }
    return TAKEN;
}

static int set_workers(struct options *options, const char *text)
{
    unsigned long workers;
    if (parse_count(text, WORKERS_MAX, &workers) != 0) {
        log_message(LOG_FAILURE, "--workers needs a number from 1 to %d", WORKERS_MAX);
        return REFUSED;
    }
    options->workers = (unsigned)workers;
    return TAKEN;
}

/* What to read, what to write, and how. */
static int take_run_option(struct options *options, int option, const char *value)
{
    switch (option) {
    case 'c':
        options->policy_path = value;
        return TAKEN;
    case 'u':
        return set_user(options, value);
    case 'r':
        return add_input(options->files, &options->file_count, value, "capture files");
    case 'i':
        return add_input(options->interfaces, &options->interface_count, value, "interfaces");
    case 'f':
        options->filter = value;
        return TAKEN;
    case 'o':
        options->output = value;
        return TAKEN;
    case OPTION_REPORT:
        return add_report(options, value);
    case OPTION_METRICS:
        return set_metrics_address(options, value);
    case OPTION_FLOWS:
        return set_flows(options, value);
    case OPTION_WORKERS:
        return set_workers(options, value);
    case OPTION_CHECK:
        options->check = true;
        return TAKEN;
    case OPTION_NO_PREFILTER:
        options->no_prefilter = true;
        return TAKEN;
    case OPTION_PREFILTER:
        options->prefilter_files = true;
        return TAKEN;
    default:
        return NOT_MINE;
    }
}

static int add_kafka_property(struct options *options, const char *property)
{
    if (strchr(property, '=') == NULL || property[0] == '=') {
        log_message(LOG_FAILURE, "-X needs KEY=VALUE, not '%s'", property);
        return REFUSED;
    }
    if (options->kafka_property_count == KAFKA_PROPERTIES_MAX) {
        log_message(LOG_FAILURE, "at most %d -X properties", KAFKA_PROPERTIES_MAX);
        return REFUSED;
    }
    options->kafka_properties[options->kafka_property_count++] = property;
    return TAKEN;
}

static int set_kafka_queue(struct options *options, const char *text)
{
    unsigned long megabytes;
    if (parse_count(text, KAFKA_QUEUE_MB_MAX, &megabytes) != 0) {
        log_message(LOG_FAILURE, "--kafka-queue-mb needs a number from 1 to %lu",
                    KAFKA_QUEUE_MB_MAX);
        return REFUSED;
    }
    options->kafka_queue_megabytes = (unsigned)megabytes;
    return TAKEN;
}

/* The Kafka sink's options; all but -k itself need -k (checked once all are read). */
static int take_kafka_option(struct parsing *parsing, int option, const char *value)
{
    struct options *options = parsing->options;
    static const struct {
        int option;
        const char *name;
    } names[] = {{'t', "-t"},
                 {'X', "-X"},
                 {OPTION_KAFKA_TIMEOUT, "--kafka-timeout"},
                 {OPTION_KAFKA_QUEUE_MB, "--kafka-queue-mb"},
                 {OPTION_SPOOL, "--spool"}};
    int taken = TAKEN;
    switch (option) {
    case 'k':
        if (value[0] == '\0') {
            log_message(LOG_FAILURE, "-k needs a broker list such as host:9092");
            return REFUSED;
        }
        options->kafka_brokers = value;
        return TAKEN;
    case 't':
        options->kafka_topic = value;
        break;
    case 'X':
        taken = add_kafka_property(options, value);
        break;
    case OPTION_KAFKA_TIMEOUT:
        if (parse_milliseconds(value, &options->kafka_timeout_milliseconds) != 0) {
            log_message(LOG_FAILURE, "--kafka-timeout needs a duration such as 30s, 500ms or "
                                     "2m (a bare number means seconds)");
            taken = REFUSED;
        }
        break;
    case OPTION_KAFKA_QUEUE_MB:
        taken = set_kafka_queue(options, value);
        break;
    case OPTION_SPOOL:
        options->spool = value;
        break;
    default:
        return NOT_MINE;
    }
    for (size_t i = 0; taken == TAKEN && parsing->kafka_only_option == NULL &&
                       i < sizeof(names) / sizeof(names[0]);
         i++)
        if (names[i].option == option)
            parsing->kafka_only_option = names[i].name;
    return taken;
}

/* How much to say, help, version, and what getopt could not take. */
static int take_other_option(struct parsing *parsing, int option)
{
    struct options *options = parsing->options;
    switch (option) {
    case 'q':
        options->verbosity = -1;
        return TAKEN;
    case 'v':
        if (options->verbosity >= 0)
            options->verbosity++;
        return TAKEN;
    case OPTION_VERSION:
        version_print(stdout);
        exit(EXIT_DONE);
    case 'h':
        usage(stdout);
        exit(EXIT_DONE);
    case ':':
        log_message(LOG_FAILURE, "option %s needs a value", parsing->argv[optind - 1]);
        return REFUSED;
    default:
        log_message(LOG_FAILURE, "unknown option %s", parsing->argv[optind - 1]);
        return REFUSED;
    }
}

/* What no single option shows: a missing or surplus argument, options that need others. */
static int check_combination(const struct parsing *parsing, int argc)
{
    const struct options *options = parsing->options;
    if (optind < argc) {
        log_message(LOG_FAILURE, "unexpected argument '%s'", parsing->argv[optind]);
        return -1;
    }
    if (options->policy_path == NULL) {
        log_message(LOG_FAILURE, "a site policy is required (-c SITE.yaml)");
        return -1;
    }
    if (options->kafka_brokers == NULL && parsing->kafka_only_option != NULL) {
        log_message(LOG_FAILURE, "%s needs the Kafka sink (-k BROKERS)",
                    parsing->kafka_only_option);
        return -1;
    }
    if (options->check)
        return 0;
    if (options->file_count == 0 && options->interface_count == 0) {
        log_message(LOG_FAILURE, "give capture files (-r) or interfaces (-i)");
        return -1;
    }
    if (options->file_count > 0 && options->interface_count > 0) {
        log_message(LOG_FAILURE, "-r and -i cannot be mixed");
        return -1;
    }
    return 0;
}

int options_parse(int argc, char **argv, struct options *options)
{
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
    *options = (struct options){.kafka_timeout_milliseconds = SINK_KAFKA_DEFAULT_TIMEOUT_MS};
    struct parsing parsing = {.options = options, .argv = argv};
    int option;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":c:r:i:f:o:k:t:X:u:qvh", long_options, NULL)) != -1) {
        int taken = take_run_option(options, option, optarg);
        if (taken == NOT_MINE)
            taken = take_kafka_option(&parsing, option, optarg);
        if (taken == NOT_MINE)
            taken = take_other_option(&parsing, option);
        if (taken == REFUSED)
            return -1;
    }
    return check_combination(&parsing, argc);
}
