/* op25b-correlate's command line -> what the user asked for; --help. */
#ifndef OP25B_CORRELATE_OPTIONS_H
#define OP25B_CORRELATE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/packet_time.h"

#define CORRELATE_DEFAULT_TOPIC "op25b.events"
#define CORRELATE_DEFAULT_GROUP "op25b-correlate"
#define CORRELATE_PROPERTIES_MAX 64

enum correlate_exit { CORRELATE_DONE = 0, CORRELATE_RUNTIME = 1, CORRELATE_USAGE = 2 };

struct correlate_options {
    const char *policy_path;
    const char *brokers;
    const char *topic;
    const char *group;
    const char *properties[CORRELATE_PROPERTIES_MAX]; /* "KEY=VALUE", in the order given */
    size_t property_count;
    bool exit_at_end;
    const char *output_path;  /* -o, or NULL */
    const char *output_topic; /* --output-topic, or NULL */
    const char *metrics_address;
    packet_time window; /* --window: how far a sensor's clock must pass an attempt; 0 derives it */
    packet_time skew;   /* --skew: the most two sensors' clocks differ */
    double sensor_timeout; /* --sensor-timeout: wall seconds of silence that end a sensor */
    uint64_t pending_max;  /* --pending: undecided attempts kept at most */
    bool check;
    int verbosity; /* -1 quiet, 0 default, 1 -v, 2 -vv */
};

/* 0, or -1 with the reason on stderr (the caller adds the hint and exits 2). Exits 0 itself
 * for --help and --version. */
int correlate_options_parse(int argc, char **argv, struct correlate_options *options);
void correlate_usage_hint(void);

#endif
