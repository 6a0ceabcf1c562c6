#include "record/migration.h"

#include <stdio.h>
#include <string.h>

static const uint16_t port_numbers[MIGRATION_PORTS] = {25, 587, 465};

size_t migration_msas_measured(const struct policy *policy)
{
    size_t fit = MIGRATION_ROWS_MAX / (policy->pool_count > 0 ? policy->pool_count : 1);
    return policy->msa_count < fit ? policy->msa_count : fit;
}

long migration_row(const struct policy *policy, int msa, int pool)
{
    if (msa < 0 || (size_t)msa >= migration_msas_measured(policy) || pool < 0 ||
        (size_t)pool >= policy->pool_count || policy->pools[pool].type != POOL_DYNAMIC)
        return -1;
    return (long)((size_t)msa * policy->pool_count + (size_t)pool);
}

enum migration_port migration_port_of(uint16_t port)
{
    for (int p = 0; p < MIGRATION_PORTS; p++) {
        if (port_numbers[p] == port)
            return (enum migration_port)p;
    }
    return MIGRATION_PORTS;
}

uint16_t migration_port_number(enum migration_port port)
{
    return port < MIGRATION_PORTS ? port_numbers[port] : 0;
}

/* An AUTH the capture read was sent in the clear. Without one, "no AUTH" needs the client's
 * MAIL FROM seen in the clear with every command before it: a dialogue that went into TLS,
 * lost bytes, or ended before MAIL FROM does not tell. */
enum migration_auth migration_auth_of(const struct smtp_facts *smtp, enum migration_port port)
{
    if (port == MIGRATION_PORT_465 || smtp == NULL)
        return MIGRATION_AUTH_UNKNOWN;
    if (smtp->auth_attempted)
        return MIGRATION_AUTH_YES;
    if (smtp->encrypted || smtp->starttls_accepted || smtp->commands_unseen ||
        smtp->mail_count == 0)
        return MIGRATION_AUTH_UNKNOWN;
    return MIGRATION_AUTH_NO;
}

const char *migration_auth_suffix(enum migration_auth auth)
{
    static const char *const names[MIGRATION_AUTHS] = {"auth", "no_auth", "auth_unknown"};
    return auth < MIGRATION_AUTHS ? names[auth] : "auth_unknown";
}

const char *migration_auth_label(enum migration_auth auth)
{
    static const char *const names[MIGRATION_AUTHS] = {"yes", "no", "unknown"};
    return auth < MIGRATION_AUTHS ? names[auth] : "unknown";
}

#define DISTINCT_KIND 0x6d6967 /* "mig" */
#define ANY 0xff

/* True the first time the set sees this key; a full set counts as not the first. */
static bool first_time(struct migration_counts *counts, struct window_set *distinct, long row,
                       const struct prefix *subscriber, int port, int auth, bool *full)
{
    struct {
        struct prefix subscriber;
        uint8_t port;
        uint8_t auth;
        uint32_t row;
    } key;
    memset(&key, 0, sizeof(key));
    key.subscriber = *subscriber;
    key.port = (uint8_t)port;
    key.auth = (uint8_t)auth;
    key.row = (uint32_t)row;
    enum window_set_result result =
        window_set_add(distinct, window_set_hash(DISTINCT_KIND, &key, sizeof(key)));
    if (result == WINDOW_SET_FULL) {
        counts->subscribers_capped = true;
        *full = true;
    }
    return result == WINDOW_SET_ADDED;
}

bool migration_count(struct migration_counts *counts, struct window_set *distinct, long row,
                     const struct prefix *subscriber, enum migration_port port,
                     enum migration_auth auth)
{
    bool full = false;
    counts->connections[port][auth]++;
    if (first_time(counts, distinct, row, subscriber, port, auth, &full))
        counts->subscribers[port][auth]++;
    if (first_time(counts, distinct, row, subscriber, port, ANY, &full))
        counts->port_subscribers[port]++;
    if (first_time(counts, distinct, row, subscriber, ANY, ANY, &full))
        counts->all_subscribers++;
    return !full;
}

void migration_counts_add(struct migration_counts *into, const struct migration_counts *from)
{
    for (int p = 0; p < MIGRATION_PORTS; p++) {
        for (int a = 0; a < MIGRATION_AUTHS; a++) {
            into->connections[p][a] += from->connections[p][a];
            into->subscribers[p][a] += from->subscribers[p][a];
        }
        into->port_subscribers[p] += from->port_subscribers[p];
    }
    into->all_subscribers += from->all_subscribers;
    into->subscribers_capped |= from->subscribers_capped;
}

uint64_t migration_port_connections(const struct migration_counts *counts, enum migration_port port)
{
    uint64_t total = 0;
    for (int a = 0; a < MIGRATION_AUTHS; a++)
        total += counts->connections[port][a];
    return total;
}

uint64_t migration_total_connections(const struct migration_counts *counts)
{
    uint64_t total = 0;
    for (int p = 0; p < MIGRATION_PORTS; p++)
        total += migration_port_connections(counts, (enum migration_port)p);
    return total;
}

/* connections_587, connections_587_auth, ... then subscribers_587, ...: 465 has no AUTH
 * to tell, so only its totals. */
static void walk_port(const struct migration_counts *counts, enum migration_port port,
                      const struct field_walker *walker, void *context)
{
    char name[48];
    unsigned number = migration_port_number(port);
    snprintf(name, sizeof(name), "connections_%u", number);
    walker->u64(context, name, migration_port_connections(counts, port));
    for (int a = 0; a < MIGRATION_AUTHS && port != MIGRATION_PORT_465; a++) {
        snprintf(name, sizeof(name), "connections_%u_%s", number,
                 migration_auth_suffix((enum migration_auth)a));
        walker->u64(context, name, counts->connections[port][a]);
    }
    snprintf(name, sizeof(name), "subscribers_%u", number);
    walker->u64(context, name, counts->port_subscribers[port]);
    for (int a = 0; a < MIGRATION_AUTHS && port != MIGRATION_PORT_465; a++) {
        snprintf(name, sizeof(name), "subscribers_%u_%s", number,
                 migration_auth_suffix((enum migration_auth)a));
        walker->u64(context, name, counts->subscribers[port][a]);
    }
}

void migration_walk_counts(const struct migration_counts *counts, const struct field_walker *walker,
                           void *context)
{
    walker->u64(context, "subscribers", counts->all_subscribers);
    for (int p = 0; p < MIGRATION_PORTS; p++)
        walk_port(counts, (enum migration_port)p, walker, context);
    if (counts->subscribers_capped)
        walker->boolean(context, "subscribers_capped", true);
}

void migration_walk(const struct migration_finding *migration, const struct policy *policy,
                    const struct field_walker *walker, void *context)
{
    const struct msa *msa = &policy->msas[migration->msa];
    walker->string(context, "msa", msa->name);
    walker->boolean(context, "planned_close", msa->port25_planned_close);
    walker->time(context, "interval_start", migration->interval_start);
    migration_walk_counts(&migration->counts, walker, context);
    walker->boolean(context, "final", migration->final);
}
