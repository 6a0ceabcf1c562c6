/* The site policy: the ISP's address plan, MSAs, blocking points and segments, read from
 * YAML (rules/README.md). Every field is checked; the first mistake stops loading with
 * "FILE:LINE: message". After loading, the lookup tables are built and read-only. */
#ifndef OP25B_POLICY_H
#define OP25B_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/address.h"
#include "policy/geoip.h"
#include "util/packet_time.h"
#include "policy/prefix.h"

enum pool_type { POOL_DYNAMIC = 0, POOL_STATIC };
enum sensor_position { POSITION_EDGE_SIDE = 0, POSITION_CORE_SIDE };
/* Draft section 4: the four levels, edge (1) to core (4). */
enum blocking_level { LEVEL_HOME_ROUTER = 1, LEVEL_TERMINATOR, LEVEL_EDGE, LEVEL_CORE };
enum blocking_state { BLOCKING_ACTIVE = 0, BLOCKING_PLANNED };
enum blocking_reject { REJECT_DROP = 0, REJECT_ICMP, REJECT_TCP_RESET };
enum segment_match { SEGMENT_VLAN = 0, SEGMENT_INTERFACE, SEGMENT_MAC };

#define POLICY_NO_INDEX (-1)

/* The most of each a policy may hold, so an index fits the compact fields that carry it
 * (struct flow keeps pool and msa as int16_t and segment as int8_t). */
#define POLICY_POOLS_MAX 32767
#define POLICY_MSAS_MAX 32767
#define POLICY_BLOCKING_POINTS_MAX 32767
#define POLICY_SEGMENTS_MAX 127
/* A name (sensor, pool, MSA, blocking point, segment, interface) is written into events,
 * reports and metric labels: at most this many bytes of printable UTF-8. */
#define POLICY_NAME_MAX 64

/* Where the blocking point's position comes from (--check says which). */
enum position_source { POSITION_FROM_SENSOR = 0, POSITION_FROM_LEVEL, POSITION_FROM_POINT };

struct blocking_point {
    char *name;
    enum blocking_level level;
    enum blocking_state state;
    enum blocking_reject reject;
    int line;
    /* Where the mirror sees this point from: its own `position`, else core-side for a
     * home-router point (no mirror of the ISP sits between a subscriber's machine and its own
     * router), else sensor.position. The verdicts of its pools follow it. */
    enum sensor_position position;
    enum position_source position_source;
};

struct pool {
    char *name;
    enum pool_type type;
    struct prefix *prefixes;
    size_t prefix_count;
    int blocking_point; /* index into policy.blocking_points, or POLICY_NO_INDEX */
    /* One IPv6 subscriber is this long a prefix (a delegated /56, or a /64 by default). */
    uint8_t ipv6_subscriber_length;
    int line;
};

struct msa {
    char *name;
    struct prefix *prefixes;
    size_t prefix_count;
    uint16_t *ports;
    size_t port_count;
    int *pools; /* indexes of the pools that may use it; pool_count 0 means every pool */
    size_t pool_count;
    int line;
    /* planned_close: [25]: its port 25 will stop taking submissions (the last step of the
     * move to 587). It still serves, and the ACL still permits it, but port-25 attempts to
     * it are would_block, as at a planned blocking point. */
    bool port25_planned_close;
};

struct segment {
    char *name;
    enum segment_match match;
    uint16_t vlan;
    char *interface;
    uint8_t mac[6];
    int *expects; /* pool indexes */
    size_t expects_count;
    int line;
};

/* A sensor of the fleet (sensors:, read by op25b-correlate; the sensor ignores it): where it
 * sits against each blocking point, and which pools' port-25 traffic passes its mirror. */
struct fleet_sensor {
    char *name;
    enum sensor_position position;   /* for every blocking point not overridden */
    enum sensor_position *positions; /* [blocking_point_count]: the default or an override */
    int *pools;                      /* pool indexes */
    size_t pool_count;
    int line;
};

#define POLICY_FLEET_SENSORS_MAX 1024

/* The events: section (rules/README.md): which attempts are folded into attempt_summary
 * events and how many findings of each type a minute become lines. Verdicts and finding
 * types are numbered as record/verdict.h and record/event_type.h number them (policy/ comes
 * before record/, so their names are repeated here; a unit test keeps them equal). */
#define POLICY_VERDICTS 5
#define POLICY_FINDING_TYPES 12
#define POLICY_SUMMARY_SUBSCRIBERS_DEFAULT (1u << 20)
#define POLICY_SUMMARY_SUBSCRIBERS_MAX (1u << 24)

struct policy_events {
    uint32_t summarize;           /* bit v: attempts with verdict v are summarized */
    packet_time summary_interval; /* the stats interval unless the section sets one */
    uint32_t summary_subscribers; /* subscribers the summary table holds at once */
    uint32_t max_per_minute[POLICY_FINDING_TYPES]; /* per finding type; 0: no limit */
};

/* The names the section reads, in the numbering above. */
extern const char *const policy_verdict_names[POLICY_VERDICTS];
extern const char *const policy_finding_names[POLICY_FINDING_TYPES];

struct policy {
    char *path;
    char *sensor_name;
    enum sensor_position position;
    packet_time stats_interval; /* coverage and sensor_stats cadence (sensor.stats_interval) */

    struct prefix *own_prefixes;
    size_t own_prefix_count;
    struct prefix *resolvers; /* addresses are stored as /32 or /128 */
    size_t resolver_count;

    struct pool *pools;
    size_t pool_count;
    struct msa *msas;
    size_t msa_count;
    struct blocking_point *blocking_points;
    size_t blocking_point_count;
    struct segment *segments;
    size_t segment_count;
    struct fleet_sensor *fleet_sensors;
    size_t fleet_sensor_count;

    char *geoip_asn;     /* NULL when not configured */
    char *geoip_country; /* NULL when not configured */
    struct geoip *geoip; /* the opened databases; NULL when neither is configured */

    /* bot_suspect scoring (rules/README.md): a feature at its threshold scores in full. */
    struct {
        packet_time window;
        uint32_t fanout;
        uint32_t mx_direct;
        uint32_t attempts;
        uint32_t rcpt;
        uint32_t score; /* 1..100: the score that makes a subscriber a bot_suspect */
        /* msa_abuse: per subscriber towards the MSAs, per window; reaching one is a finding */
        struct msa_abuse_thresholds {
            uint32_t connections;
            uint32_t concurrency;
            uint32_t auth_failures;
            uint32_t quota_replies;
            uint32_t rcpt;
        } msa_abuse;
    } thresholds;
    struct {
        packet_time syn;
        packet_time smtp_idle;
        packet_time pop_before_smtp;
    } timeouts;
    struct {
        uint32_t flows;    /* flow-table capacity */
        uint32_t sessions; /* how many flows may carry a dialogue parser at once */
    } limits;
    struct policy_events events;

    /* Built after parsing; values are indexes into the arrays above. */
    struct prefix_table *pool_table;
    struct prefix_table *own_table; /* value unused (0) */
    struct prefix_table *msa_table;
    struct prefix_table *resolver_table;
};

/* Loads and checks a policy file. On error returns NULL and writes "FILE:LINE: message" (or
 * "FILE: message" where no line applies, such as a missing file) into error. */
struct policy *policy_load(const char *path, char *error, size_t error_size);
/* The same from text in memory; name stands in for the file name in messages. */
struct policy *policy_load_text(const char *name, const char *text, size_t length, char *error,
                                size_t error_size);
/* A fleet policy (op25b-correlate): the site policy with `sensors:` required and `sensor:`
 * optional (a fleet has no one name; sensor_name is then "fleet"). */
struct policy *policy_load_fleet(const char *path, char *error, size_t error_size);
struct policy *policy_load_fleet_text(const char *name, const char *text, size_t length,
                                      char *error, size_t error_size);
/* The fleet sensor of that name, or POLICY_NO_INDEX. */
int policy_fleet_sensor(const struct policy *policy, const char *name);
/* True when the fleet sensor carries the pool's traffic. */
bool policy_fleet_carries(const struct policy *policy, int sensor, int pool);
void policy_free(struct policy *policy);

/* Lookups for the fast path. Each returns an index or POLICY_NO_INDEX. */
int policy_pool_of(const struct policy *policy, const struct address *address);
int policy_msa_of(const struct policy *policy, const struct address *address);
bool policy_is_own(const struct policy *policy, const struct address *address);
bool policy_is_resolver(const struct policy *policy, const struct address *address);
/* The subscriber an address is: the address itself for IPv4; for IPv6 its pool's
 * ipv6_subscriber_length prefix (64 outside any pool; draft 3.2), so a subscriber's privacy
 * addresses and delegated /64s are one subscriber, not many. */
struct prefix policy_subscriber(const struct policy *policy, int pool,
                                const struct address *address);
/* The shortest IPv6 prefix that is one subscriber: the least ipv6_subscriber_length of any
 * pool, and 64 (an address in no pool) at most. */
unsigned policy_ipv6_subscriber_bits(const struct policy *policy);
/* Where the mirror sees the pool's traffic from, relative to the blocking point that
 * governs it: that point's position, or sensor.position for a pool without one. */
enum sensor_position policy_pool_position(const struct policy *policy, int pool);
/* True when msa serves port to subscribers of pool (the permit list of draft 4.3.2). */
bool policy_msa_allows(const struct policy *policy, int msa, int pool, uint16_t port);
/* True when msa's port is planned to close (planned_close; only port 25 can be). */
bool policy_msa_closing(const struct policy *policy, int msa, uint16_t port);

const char *pool_type_name(enum pool_type type);
const char *sensor_position_name(enum sensor_position position);
const char *blocking_level_name(enum blocking_level level);
const char *blocking_state_name(enum blocking_state state);
const char *blocking_reject_name(enum blocking_reject reject);

#endif
