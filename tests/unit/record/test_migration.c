/* How a submission connection is classed (record/migration.h): by port, and by whether the
 * client authenticated as far as the capture can tell; and the fields the event writes. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "record/migration.h"

static struct smtp_facts clear_submission(void)
{
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.banner_seen = true;
    smtp.helo_seen = true;
    smtp.mail_count = 1;
    smtp.rcpt_count = 1;
    return smtp;
}

Test(migration, ports)
{
    cr_assert_eq(migration_port_of(25), MIGRATION_PORT_25);
    cr_assert_eq(migration_port_of(587), MIGRATION_PORT_587);
    cr_assert_eq(migration_port_of(465), MIGRATION_PORT_465);
    cr_assert_eq(migration_port_of(2525), MIGRATION_PORTS);
    cr_assert_eq(migration_port_number(MIGRATION_PORT_465), 465);
    cr_assert_eq(migration_port_number(MIGRATION_PORTS), 0);
}

Test(migration, auth_seen_in_the_clear)
{
    struct smtp_facts smtp = clear_submission();
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_25), MIGRATION_AUTH_NO);
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_587), MIGRATION_AUTH_NO);
    smtp.auth_attempted = true;
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_25), MIGRATION_AUTH_YES);
    /* A refused AUTH is a client that authenticates all the same. */
    smtp.auth_failed = true;
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_587), MIGRATION_AUTH_YES);
}

Test(migration, what_the_capture_cannot_tell_is_unknown)
{
    cr_assert_eq(migration_auth_of(NULL, MIGRATION_PORT_25), MIGRATION_AUTH_UNKNOWN);
    struct smtp_facts smtp = clear_submission();
    /* 465 is TLS from its first byte, whatever a parser made of it. */
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_465), MIGRATION_AUTH_UNKNOWN);
    smtp.starttls_accepted = true;
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_587), MIGRATION_AUTH_UNKNOWN);
    smtp = clear_submission();
    smtp.encrypted = true;
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_25), MIGRATION_AUTH_UNKNOWN);
    /* Lost bytes may have held the AUTH. */
    smtp = clear_submission();
    smtp.commands_unseen = true;
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_25), MIGRATION_AUTH_UNKNOWN);
    /* No MAIL FROM: nothing was submitted, with or without AUTH. */
    smtp = clear_submission();
    smtp.mail_count = 0;
    cr_assert_eq(migration_auth_of(&smtp, MIGRATION_PORT_587), MIGRATION_AUTH_UNKNOWN);
}

Test(migration, counts_add_up)
{
    struct migration_counts a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.connections[MIGRATION_PORT_25][MIGRATION_AUTH_YES] = 2;
    a.connections[MIGRATION_PORT_587][MIGRATION_AUTH_UNKNOWN] = 3;
    a.subscribers[MIGRATION_PORT_25][MIGRATION_AUTH_YES] = 1;
    a.port_subscribers[MIGRATION_PORT_25] = 1;
    a.all_subscribers = 2;
    b.connections[MIGRATION_PORT_25][MIGRATION_AUTH_NO] = 1;
    b.all_subscribers = 1;
    b.subscribers_capped = true;
    migration_counts_add(&a, &b);
    cr_assert_eq(migration_port_connections(&a, MIGRATION_PORT_25), 3);
    cr_assert_eq(migration_total_connections(&a), 6);
    cr_assert_eq(a.all_subscribers, 3);
    cr_assert(a.subscribers_capped);
}

/* The names the walker is given, in order, as one text. */
static char names[2048];

static void note(const char *name)
{
    strncat(names, name, sizeof(names) - strlen(names) - 2);
    strcat(names, " ");
}

static void on_u64(void *context, const char *name, uint64_t value)
{
    (void)context;
    (void)value;
    note(name);
}

static void on_string(void *context, const char *name, const char *value)
{
    (void)context;
    (void)value;
    note(name);
}

static void on_boolean(void *context, const char *name, bool value)
{
    (void)context;
    (void)value;
    note(name);
}

static void on_time(void *context, const char *name, packet_time value)
{
    (void)context;
    (void)value;
    note(name);
}

Test(migration, fields_in_event_order)
{
    static const char text[] = "sensor: {name: s, position: edge-side}\n"
                               "own_prefixes: [198.51.100.0/24]\n"
                               "pools: [{name: p, type: dynamic, prefixes: [198.51.100.0/24]}]\n"
                               "msas: [{name: m, prefixes: [192.0.2.25], ports: [25, 587, 465],\n"
                               "        planned_close: [25]}]\n";
    char error[512];
    struct policy *policy = policy_load_text("t.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    struct field_walker walker = {
        .u64 = on_u64, .string = on_string, .boolean = on_boolean, .time = on_time};
    struct migration_finding finding;
    memset(&finding, 0, sizeof(finding));
    names[0] = '\0';
    migration_walk(&finding, policy, &walker, NULL);
    cr_assert_str_eq(names, "msa planned_close interval_start subscribers "
                            "connections_25 connections_25_auth connections_25_no_auth "
                            "connections_25_auth_unknown subscribers_25 subscribers_25_auth "
                            "subscribers_25_no_auth subscribers_25_auth_unknown "
                            "connections_587 connections_587_auth connections_587_no_auth "
                            "connections_587_auth_unknown subscribers_587 subscribers_587_auth "
                            "subscribers_587_no_auth subscribers_587_auth_unknown "
                            "connections_465 subscribers_465 final ");
    /* subscribers_capped only when the distinct set was full. */
    finding.counts.subscribers_capped = true;
    names[0] = '\0';
    migration_walk(&finding, policy, &walker, NULL);
    cr_assert(strstr(names, " subscribers_capped final ") != NULL, "%s", names);
    policy_free(policy);
}
