/* submission_migration's counting: records handed to the detector over the bus, the
 * events it writes when an interval ends. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "detect/detect_migration.h"

#define SECOND PACKET_TIME_SECOND
#define T0 ((packet_time)1768467600 * SECOND) /* a multiple of 60 s */
#define FINDINGS_MAX 64

static const char policy_text[] =
    "sensor: {name: s, position: edge-side, stats_interval: 60s}\n"
    "own_prefixes: [198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32]\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25, 2001:db8:100::/40],\n"
    "     ipv6_subscriber_length: 56}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.100.0/25]}\n"
    "  - {name: business, type: static, prefixes: [203.0.113.128/26]}\n"
    "msas:\n"
    "  - {name: isp-msa, prefixes: [203.0.113.225, 2001:db8:ffff::25], ports: [25, 587, 465]}\n"
    "  - {name: partner, prefixes: [192.0.2.0/29], ports: [587]}\n"
    "limits: {flows: 64}\n";

static struct finding findings[FINDINGS_MAX];
static size_t finding_count;

static void on_finding(void *context, const struct finding *finding)
{
    (void)context;
    cr_assert_lt(finding_count, FINDINGS_MAX);
    findings[finding_count++] = *finding;
}

struct harness {
    struct policy *policy;
    struct bus bus;
    struct sensor_counters counters;
    struct detector *detector;
};

static void setup(struct harness *h)
{
    memset(h, 0, sizeof(*h));
    char error[512];
    h->policy = policy_load_text("t.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(h->policy, "%s", error);
    bus_init(&h->bus);
    struct bus_subscriber listener = {.finding = on_finding};
    cr_assert_eq(bus_subscribe(&h->bus, listener), 0);
    struct detector_context context = {
        .policy = h->policy, .bus = &h->bus, .counters = &h->counters};
    bool disabled = true;
    h->detector = detect_migration_new(&context, &disabled);
    cr_assert_not_null(h->detector);
    cr_assert(!disabled);
    finding_count = 0;
    h->detector->ops->advance(h->detector, T0 + SECOND);
}

static void teardown(struct harness *h)
{
    h->detector->ops->free(h->detector);
    policy_free(h->policy);
}

static struct flow_tuple flow(const char *client, const char *server, uint16_t port)
{
    struct flow_tuple tuple;
    memset(&tuple, 0, sizeof(tuple));
    cr_assert(address_parse(client, &tuple.src));
    cr_assert(address_parse(server, &tuple.dst));
    tuple.src_port = 40000;
    tuple.dst_port = port;
    tuple.proto = 6;
    return tuple;
}

/* A port-25 attempt, as the tracker writes it: the MSA at its destination, if any. */
static void attempt(struct harness *h, const char *client, const char *server,
                    const struct smtp_facts *smtp, packet_time at)
{
    struct attempt_record record;
    memset(&record, 0, sizeof(record));
    record.flow = flow(client, server, 25);
    record.pool = policy_pool_of(h->policy, &record.flow.src);
    record.msa = policy_msa_of(h->policy, &record.flow.dst);
    record.segment = -1;
    record.first_seen = record.last_seen = at;
    record.smtp = smtp;
    record.close_reason = "fin";
    bus_attempt(&h->bus, &record);
}

static void connection(struct harness *h, const char *client, const char *server, uint16_t port,
                       const struct smtp_facts *smtp, packet_time at)
{
    struct connection_record record;
    memset(&record, 0, sizeof(record));
    record.flow = flow(client, server, port);
    record.pool = policy_pool_of(h->policy, &record.flow.src);
    record.msa = policy_msa_of(h->policy, &record.flow.dst);
    record.segment = -1;
    record.first_seen = record.last_seen = at;
    record.answered = true;
    record.smtp = smtp;
    record.close_reason = "fin";
    bus_connection(&h->bus, &record);
}

static const struct finding *row(const struct harness *h, const char *msa, const char *pool)
{
    for (size_t i = 0; i < finding_count; i++) {
        const struct finding *finding = &findings[i];
        cr_assert_eq(finding->type, EVENT_SUBMISSION_MIGRATION);
        if (strcmp(h->policy->msas[finding->as.migration.msa].name, msa) == 0 &&
            strcmp(h->policy->pools[finding->pool].name, pool) == 0)
            return finding;
    }
    return NULL;
}

static struct smtp_facts dialogue(bool auth)
{
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.banner_seen = smtp.helo_seen = true;
    smtp.auth_attempted = smtp.auth_success = auth;
    smtp.mail_count = 1;
    return smtp;
}

Test(migration_detector, counts_connections_and_distinct_subscribers_per_msa_and_pool)
{
    struct harness h;
    setup(&h);
    struct smtp_facts with = dialogue(true), without = dialogue(false);
    struct smtp_facts tls = dialogue(false);
    tls.starttls_accepted = tls.encrypted = true;
    packet_time t = T0 + 10 * SECOND;
    attempt(&h, "203.0.113.10", "203.0.113.225", &with, t); /* alice, twice */
    attempt(&h, "203.0.113.10", "203.0.113.225", &with, t);
    attempt(&h, "203.0.113.11", "203.0.113.225", &without, t); /* bob */
    attempt(&h, "203.0.113.12", "203.0.113.225", &tls, t);     /* carol */
    attempt(&h, "203.0.113.12", "203.0.113.225", NULL, t);     /* carol: no dialogue */
    connection(&h, "203.0.113.10", "203.0.113.225", 587, &tls, t);
    /* One home: two /64s of one /56 on 465. */
    connection(&h, "2001:db8:100:a00::1", "2001:db8:ffff::25", 465, NULL, t);
    connection(&h, "2001:db8:100:a01::2", "2001:db8:ffff::25", 465, NULL, t);
    connection(&h, "198.51.100.20", "192.0.2.3", 587, &with, t); /* dsl to the partner */
    /* Not counted: no MSA, a static pool, a port that is no submission port. */
    attempt(&h, "203.0.113.13", "192.0.2.100", &without, t);
    connection(&h, "203.0.113.130", "203.0.113.225", 587, &with, t);
    connection(&h, "203.0.113.14", "203.0.113.225", 2525, &with, t);
    cr_assert_eq(finding_count, 0, "written before the interval ends");
    h.detector->ops->advance(h.detector, T0 + 59 * SECOND);
    cr_assert_eq(finding_count, 0);
    h.detector->ops->advance(h.detector, T0 + 61 * SECOND);
    cr_assert_eq(finding_count, 2);

    const struct finding *ftth = row(&h, "isp-msa", "ftth");
    cr_assert_not_null(ftth);
    const struct migration_finding *m = &ftth->as.migration;
    const struct migration_counts *c = &m->counts;
    cr_assert_eq(ftth->ts, T0 + 61 * SECOND);
    cr_assert_eq(m->interval_start, T0 + SECOND);
    cr_assert(!m->final);
    cr_assert_eq(c->connections[MIGRATION_PORT_25][MIGRATION_AUTH_YES], 2);
    cr_assert_eq(c->connections[MIGRATION_PORT_25][MIGRATION_AUTH_NO], 1);
    cr_assert_eq(c->connections[MIGRATION_PORT_25][MIGRATION_AUTH_UNKNOWN], 2);
    cr_assert_eq(c->subscribers[MIGRATION_PORT_25][MIGRATION_AUTH_YES], 1);
    cr_assert_eq(c->subscribers[MIGRATION_PORT_25][MIGRATION_AUTH_UNKNOWN], 1);
    cr_assert_eq(c->port_subscribers[MIGRATION_PORT_25], 3);
    cr_assert_eq(c->connections[MIGRATION_PORT_587][MIGRATION_AUTH_UNKNOWN], 1);
    cr_assert_eq(c->port_subscribers[MIGRATION_PORT_587], 1);
    cr_assert_eq(c->connections[MIGRATION_PORT_465][MIGRATION_AUTH_UNKNOWN], 2);
    cr_assert_eq(c->port_subscribers[MIGRATION_PORT_465], 1);
    cr_assert_eq(c->all_subscribers, 4, "alice, bob, carol and the home");
    cr_assert(!c->subscribers_capped);

    const struct finding *dsl = row(&h, "partner", "dsl");
    cr_assert_not_null(dsl);
    cr_assert_eq(dsl->as.migration.counts.connections[MIGRATION_PORT_587][MIGRATION_AUTH_YES], 1);
    cr_assert_null(row(&h, "isp-msa", "business"));

    /* The next interval starts empty: one connection, one event, at the end of input. */
    finding_count = 0;
    attempt(&h, "203.0.113.10", "203.0.113.225", &with, T0 + 70 * SECOND);
    h.detector->ops->finish(h.detector, T0 + 80 * SECOND, "end_of_input");
    cr_assert_eq(finding_count, 1);
    m = &findings[0].as.migration;
    cr_assert(m->final);
    cr_assert_eq(m->interval_start, T0 + 61 * SECOND);
    cr_assert_eq(migration_total_connections(&m->counts), 1);
    cr_assert_eq(m->counts.all_subscribers, 1);
    teardown(&h);
}

Test(migration_detector, a_full_distinct_set_is_counted_and_said)
{
    struct harness h;
    setup(&h);
    /* 600 subscribers make 1,800 keys: more than the set's bound at this limits.flows. */
    char address[32];
    for (int i = 0; i < 600; i++) {
        snprintf(address, sizeof(address), "2001:db8:%x:%x::1", 0x100u + ((unsigned)i >> 8),
                 ((unsigned)i & 0xffu) << 8);
        connection(&h, address, "2001:db8:ffff::25", 465, NULL, T0 + 10 * SECOND);
    }
    h.detector->ops->finish(h.detector, T0 + 20 * SECOND, "end_of_input");
    cr_assert_eq(finding_count, 1);
    const struct migration_counts *c = &findings[0].as.migration.counts;
    cr_assert_eq(c->connections[MIGRATION_PORT_465][MIGRATION_AUTH_UNKNOWN], 600,
                 "every connection counts");
    cr_assert(c->subscribers_capped);
    cr_assert_lt(c->all_subscribers, 600);
    cr_assert_gt(c->all_subscribers, 0);
    cr_assert_gt(h.counters.detector_exhausted, 0);
    teardown(&h);
}

Test(migration_detector, disabled_without_msas)
{
    static const char text[] = "sensor: {name: s, position: edge-side}\n"
                               "own_prefixes: [198.51.100.0/24]\n"
                               "pools: [{name: p, type: dynamic, prefixes: [198.51.100.0/24]}]\n";
    char error[512];
    struct policy *policy = policy_load_text("t.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    struct bus bus;
    bus_init(&bus);
    struct sensor_counters counters = {0};
    struct detector_context context = {.policy = policy, .bus = &bus, .counters = &counters};
    bool disabled = false;
    cr_assert_null(detect_migration_new(&context, &disabled));
    cr_assert(disabled);
    policy_free(policy);
}
