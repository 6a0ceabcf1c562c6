/* The command line -> struct correlate_options. Messages name the option as typed. */
#include "correlate/options.h"

#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/http_metrics.h"
#include "util/log.h"

#define DEFAULT_SKEW (2 * PACKET_TIME_SECOND)
#define DEFAULT_SENSOR_TIMEOUT 300.0
#define DEFAULT_PENDING_MAX 1000000

enum {
    OPTION_EXIT_AT_END = 256,
    OPTION_OUTPUT_TOPIC,
    OPTION_METRICS,
    OPTION_WINDOW,
    OPTION_SKEW,
    OPTION_SENSOR_TIMEOUT,
    OPTION_PENDING,
    OPTION_CHECK,
    OPTION_VERSION,
};

static void usage(FILE *stream)
{
    fputs("usage: op25b-correlate -c FLEET.yaml -k BROKERS [options]\n"
          "  -c, --config FILE     fleet policy: the site policy with its sensors: list\n"
          "  -k BROKERS            Kafka bootstrap servers of the events topic\n"
          "  -t TOPIC              events topic to read (default " CORRELATE_DEFAULT_TOPIC ")\n"
          "  -g GROUP              consumer group (default " CORRELATE_DEFAULT_GROUP ")\n"
          "  -X KEY=VALUE          librdkafka property (TLS, SASL...); repeatable\n"
          "      --exit-at-end     stop once every assigned partition is at its end\n"
          "  -o, --output FILE     NDJSON fleet events ('-' is standard output)\n"
          "      --output-topic TOPIC\n"
          "                        fleet events to this topic, exactly once\n"
          "      --metrics ADDR    Prometheus endpoint, e.g. 127.0.0.1:9326 (a bare port\n"
          "                        binds to loopback)\n"
          "      --window DURATION how far every sensor's clock must pass an attempt before\n"
          "                        its silence counts (default: the policy's longer of\n"
          "                        timeouts.syn and timeouts.smtp_idle, plus --skew)\n"
          "      --skew DURATION   the most two sensors' clocks differ (default 2s)\n"
          "      --sensor-timeout DURATION\n"
          "                        wall time after which a silent sensor no longer holds\n"
          "                        decisions back (default 300s)\n"
          "      --pending N       undecided attempts kept at most (default 1000000)\n"
          "      --check           validate the fleet policy and print it\n"
          "  -q, --quiet           errors only\n"
          "  -v, --verbose         more messages on standard error; repeatable\n"
          "      --version         print the version\n"
          "  -h, --help            this help\n"
          "exit status: 0 done, 1 failed at run time, 2 bad usage or bad policy\n",
          stream);
}

void correlate_usage_hint(void)
{
    log_line("Try 'op25b-correlate --help' for more information.");
}

/* "300s", "500ms", "2m", "1h" or a bare number of seconds; more than zero. */
static int parse_duration(const char *option, const char *text, double *seconds)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    double unit = 1;
    if (strcmp(end, "ms") == 0)
        unit = 0.001;
    else if (strcmp(end, "m") == 0)
        unit = 60;
    else if (strcmp(end, "h") == 0)
        unit = 3600;
    else if (strcmp(end, "s") != 0 && *end != '\0')
        unit = -1;
    if (errno != 0 || end == text || unit < 0 || !(value > 0) || value * unit > 1e9) {
        log_message(LOG_FAILURE, "%s '%s': expected a duration such as 60s, 500ms or 2m", option,
                    text);
        return -1;
    }
    *seconds = value * unit;
    return 0;
}

static int parse_packet_duration(const char *option, const char *text, packet_time *out)
{
    double seconds;
    if (parse_duration(option, text, &seconds) != 0)
        return -1;
    *out = (packet_time)(seconds * PACKET_TIME_SECOND + 0.5);
    return 0;
}

static int parse_count(const char *option, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value == 0) {
        log_message(LOG_FAILURE, "%s '%s': expected a whole number above 0", option, text);
        return -1;
    }
    *out = value;
    return 0;
}

static int add_property(struct correlate_options *options, const char *text)
{
    if (strchr(text, '=') == NULL || text[0] == '=') {
        log_message(LOG_FAILURE, "-X '%s': expected KEY=VALUE", text);
        return -1;
    }
    if (options->property_count == CORRELATE_PROPERTIES_MAX) {
        log_message(LOG_FAILURE, "-X: at most %d properties", CORRELATE_PROPERTIES_MAX);
        return -1;
    }
    options->properties[options->property_count++] = text;
    return 0;
}

static int check_metrics(const char *address)
{
    struct sockaddr_storage parsed;
    char reason[256];
    if (http_metrics_parse_address(address, &parsed, reason, sizeof(reason)) != 0) {
        log_message(LOG_FAILURE, "%s", reason);
        return -1;
    }
    return 0;
}

static void print_version(void)
{
    printf("op25b-correlate %s\n  librdkafka %s\n", OP25B_VERSION, rd_kafka_version_str());
}

/* One long option's value; 1 when the option is none of these. */
static int take_long(int code, const char *value, struct correlate_options *options)
{
    switch (code) {
    case OPTION_EXIT_AT_END:
        options->exit_at_end = true;
        return 0;
    case OPTION_OUTPUT_TOPIC:
        options->output_topic = value;
        return 0;
    case OPTION_METRICS:
        options->metrics_address = value;
        return check_metrics(value);
    case OPTION_WINDOW:
        return parse_packet_duration("--window", value, &options->window);
    case OPTION_SKEW:
        return parse_packet_duration("--skew", value, &options->skew);
    case OPTION_SENSOR_TIMEOUT:
        return parse_duration("--sensor-timeout", value, &options->sensor_timeout);
    case OPTION_PENDING:
        return parse_count("--pending", value, &options->pending_max);
    case OPTION_CHECK:
        options->check = true;
        return 0;
    default:
        return 1;
    }
}

/* One short option; 1 when it is none of these. */
static int take_short(int code, const char *value, struct correlate_options *options)
{
    switch (code) {
    case 'c':
        options->policy_path = value;
        return 0;
    case 'k':
        options->brokers = value;
        return 0;
    case 't':
        options->topic = value;
        return 0;
    case 'g':
        options->group = value;
        return 0;
    case 'X':
        return add_property(options, value);
    case 'o':
        options->output_path = value;
        return 0;
    case 'q':
        options->verbosity = -1;
        return 0;
    case 'v':
        options->verbosity = options->verbosity < 0 ? 1 : options->verbosity + 1;
        return 0;
    default:
        return 1;
    }
}

static int check_combination(const struct correlate_options *options)
{
    if (options->policy_path == NULL) {
        log_message(LOG_FAILURE, "a fleet policy is required (-c FILE)");
        return -1;
    }
    if (options->check)
        return 0;
    if (options->brokers == NULL) {
        log_message(LOG_FAILURE, "the events topic's brokers are required (-k BROKERS)");
        return -1;
    }
    if (options->output_path == NULL && options->output_topic == NULL) {
        log_message(LOG_FAILURE, "no output: give -o FILE, --output-topic TOPIC or both");
        return -1;
    }
    if (options->output_topic != NULL && strcmp(options->output_topic, options->topic) == 0) {
        log_message(LOG_FAILURE, "--output-topic %s is the topic read: it would read itself",
                    options->output_topic);
        return -1;
    }
    return 0;
}

int correlate_options_parse(int argc, char **argv, struct correlate_options *options)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"exit-at-end", no_argument, NULL, OPTION_EXIT_AT_END},
        {"output-topic", required_argument, NULL, OPTION_OUTPUT_TOPIC},
        {"metrics", required_argument, NULL, OPTION_METRICS},
        {"window", required_argument, NULL, OPTION_WINDOW},
        {"skew", required_argument, NULL, OPTION_SKEW},
        {"sensor-timeout", required_argument, NULL, OPTION_SENSOR_TIMEOUT},
        {"pending", required_argument, NULL, OPTION_PENDING},
        {"check", no_argument, NULL, OPTION_CHECK},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *options = (struct correlate_options){
        .topic = CORRELATE_DEFAULT_TOPIC,
        .group = CORRELATE_DEFAULT_GROUP,
        .skew = DEFAULT_SKEW,
        .sensor_timeout = DEFAULT_SENSOR_TIMEOUT,
        .pending_max = DEFAULT_PENDING_MAX,
    };
    int code;
    opterr = 0;
    while ((code = getopt_long(argc, argv, ":c:k:t:g:X:o:qvh", longs, NULL)) != -1) {
        if (code == 'h') {
            usage(stdout);
            exit(CORRELATE_DONE);
        }
        if (code == OPTION_VERSION) {
            print_version();
            exit(CORRELATE_DONE);
        }
        if (code == '?' || code == ':') {
            log_message(LOG_FAILURE, "%s '%s'",
                        code == ':' ? "missing value for option" : "unknown option",
                        argv[optind - 1]);
            return -1;
        }
        int taken = take_short(code, optarg, options);
        if (taken == 1)
            taken = take_long(code, optarg, options);
        if (taken != 0)
            return -1;
    }
    if (optind < argc) {
        log_message(LOG_FAILURE, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return check_combination(options);
}
