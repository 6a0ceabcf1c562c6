#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "detect/detect_submission.h"
#include "record/finding.h"

#define T0 ((packet_time)1768467600 * PACKET_TIME_SECOND) /* a multiple of 300 s */
#define FOUND_MAX 32

static packet_time seconds(double s)
{
    return T0 + (packet_time)(s * PACKET_TIME_SECOND);
}

struct found {
    struct finding items[FOUND_MAX];
    size_t count;
};

static void keep(void *context, const struct finding *finding)
{
    struct found *found = context;
    cr_assert_lt(found->count, FOUND_MAX);
    found->items[found->count++] = *finding;
}

struct rig {
    struct policy *policy;
    struct bus bus;
    struct sensor_counters counters;
    struct detector *detector;
    struct found found;
};

static void rig_start(struct rig *rig)
{
    static const char text[] =
        "sensor: {name: s, position: edge-side}\n"
        "own_prefixes: [198.51.100.0/22]\n"
        "pools:\n"
        "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40]}\n"
        "msas:\n"
        "  - {name: isp-msa, prefixes: [192.0.2.25/32], ports: [25, 587]}\n"
        "timeouts: {pop_before_smtp: 600s}\n";
    memset(rig, 0, sizeof(*rig));
    char error[512];
    rig->policy = policy_load_text("t.yaml", text, sizeof(text) - 1, error, sizeof(error));
    cr_assert_not_null(rig->policy, "%s", error);
    bus_init(&rig->bus);
    struct detector_context context = {
        .policy = rig->policy, .bus = &rig->bus, .counters = &rig->counters};
    bool disabled;
    rig->detector = detect_submission_new(&context, &disabled);
    cr_assert_not_null(rig->detector);
    struct bus_subscriber subscriber = {.finding = keep, .context = &rig->found};
    cr_assert_eq(bus_subscribe(&rig->bus, subscriber), 0);
}

static void rig_stop(struct rig *rig)
{
    rig->detector->ops->free(rig->detector);
    policy_free(rig->policy);
}

static size_t count_of(const struct rig *rig, enum event_type type)
{
    size_t count = 0;
    for (size_t i = 0; i < rig->found.count; i++)
        count += rig->found.items[i].type == type;
    return count;
}

/* ---- A POP3 login, packet by packet, as the sensor shows it to the detector ---- */

struct conversation {
    struct rig *rig;
    struct packet template;
    uint32_t client_seq, server_seq;
    packet_time ts;
};

static void transmit(struct conversation *c, bool from_client, uint8_t flags, const char *text)
{
    struct packet p = c->template;
    if (!from_client) {
        p.src = c->template.dst;
        p.dst = c->template.src;
        p.src_port = c->template.dst_port;
        p.dst_port = c->template.src_port;
    }
    uint32_t *seq = from_client ? &c->client_seq : &c->server_seq;
    p.seq = *seq;
    p.ack = from_client ? c->server_seq : c->client_seq;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)text;
    p.payload_length = text != NULL ? (uint32_t)strlen(text) : 0;
    *seq += p.payload_length + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
    c->ts += PACKET_TIME_SECOND / 100;
    p.ts = c->ts;
    if (p.ts >= c->rig->detector->due)
        c->rig->detector->ops->advance(c->rig->detector, p.ts);
    c->rig->detector->ops->packet(c->rig->detector, &p, -1);
}

static void pop3_login(struct rig *rig, const char *client, const char *server, double t)
{
    struct conversation c = {.rig = rig, .client_seq = 1000, .server_seq = 70000};
    cr_assert(address_parse(client, &c.template.src));
    cr_assert(address_parse(server, &c.template.dst));
    c.template.ip_version = 4;
    c.template.proto = IPPROTO_NUMBER_TCP;
    c.template.src_port = 40000;
    c.template.dst_port = 110;
    c.ts = seconds(t);
    transmit(&c, true, TCP_SYN, NULL);
    transmit(&c, false, TCP_SYN | TCP_ACK, NULL);
    transmit(&c, true, TCP_ACK, NULL);
    transmit(&c, false, TCP_ACK | TCP_PSH, "+OK ready\r\n");
    transmit(&c, true, TCP_ACK | TCP_PSH, "USER bob\r\n");
    transmit(&c, false, TCP_ACK | TCP_PSH, "+OK\r\n");
    transmit(&c, true, TCP_ACK | TCP_PSH, "PASS hunter2\r\n");
    transmit(&c, false, TCP_ACK | TCP_PSH, "+OK 0 messages\r\n");
    transmit(&c, true, TCP_FIN | TCP_ACK, NULL);
    transmit(&c, false, TCP_FIN | TCP_ACK, NULL);
}

/* ---- Port-25 dialogues, as the attempt tracker hands them on ---- */

static struct smtp_facts accepted_without_auth(void)
{
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.banner_seen = true;
    smtp.banner_code = 220;
    smtp.helo_seen = true;
    smtp.mail_count = smtp.mail_accepted = 1;
    smtp.rcpt_count = smtp.rcpt_accepted = 1;
    return smtp;
}

static void dialogue(struct rig *rig, const char *client, const char *server, double t,
                     const struct smtp_facts *smtp)
{
    struct attempt_record attempt;
    memset(&attempt, 0, sizeof(attempt));
    cr_assert(address_parse(client, &attempt.flow.src));
    cr_assert(address_parse(server, &attempt.flow.dst));
    attempt.flow.src_port = 41000;
    attempt.flow.dst_port = 25;
    attempt.flow.proto = IPPROTO_NUMBER_TCP;
    attempt.first_seen = seconds(t);
    attempt.last_seen = seconds(t + 1);
    attempt.pool = 0;
    attempt.segment = -1;
    attempt.msa = policy_msa_of(rig->policy, &attempt.flow.dst);
    attempt.to_designated_msa =
        attempt.msa >= 0 && policy_msa_allows(rig->policy, attempt.msa, attempt.pool, 25);
    attempt.verdict = attempt.to_designated_msa ? VERDICT_ALLOWED : VERDICT_LEAKED;
    attempt.server_stream = true;
    attempt.smtp = smtp;
    if (attempt.last_seen >= rig->detector->due)
        rig->detector->ops->advance(rig->detector, attempt.last_seen);
    bus_attempt(&rig->bus, &attempt);
}

/* Only the server that took the login, and only a submission that shows no AUTH. */
Test(pop_before_smtp, only_the_server_that_took_the_login)
{
    struct rig rig;
    rig_start(&rig);
    pop3_login(&rig, "198.51.100.7", "203.0.113.70", 10.0);
    struct smtp_facts smtp = accepted_without_auth();
    /* The same provider's MX, one address along: delivery, no finding. */
    dialogue(&rig, "198.51.100.7", "203.0.113.71", 20.0, &smtp);
    cr_assert_eq(rig.found.count, 0);
    /* Commands went unseen: an AUTH may have been among them. */
    struct smtp_facts unseen = smtp;
    unseen.commands_unseen = true;
    dialogue(&rig, "198.51.100.7", "203.0.113.70", 30.0, &unseen);
    cr_assert_eq(rig.found.count, 0);
    /* The login's own server: POP-before-SMTP. */
    dialogue(&rig, "198.51.100.7", "203.0.113.70", 40.0, &smtp);
    cr_assert_eq(count_of(&rig, EVENT_POP_BEFORE_SMTP), 1);
    const struct submission_finding *found = &rig.found.items[0].as.submission;
    char text[64];
    address_format(&found->login_server, text, sizeof(text));
    cr_assert_str_eq(text, "203.0.113.70");
    cr_assert_str_eq(found->login_protocol, "pop3");
    /* Another subscriber of the same server never logged in. */
    dialogue(&rig, "198.51.100.8", "203.0.113.70", 50.0, &smtp);
    cr_assert_eq(rig.found.count, 1);
    /* Past timeouts.pop_before_smtp the login no longer counts. */
    dialogue(&rig, "198.51.100.7", "203.0.113.70", 700.0, &smtp);
    cr_assert_eq(rig.found.count, 1);
    rig_stop(&rig);
}

static struct smtp_facts cleartext(const char *mechanism, bool credentials, bool success)
{
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.banner_seen = true;
    smtp.banner_code = 220;
    smtp.ehlo_offers_starttls = true;
    smtp.auth_attempted = true;
    smtp.auth_credentials_sent = credentials;
    smtp.auth_success = success;
    smtp.auth_failed = !success;
    snprintf(smtp.auth_mechanism, sizeof(smtp.auth_mechanism), "%s", mechanism);
    return smtp;
}

Test(cleartext_auth, once_per_subscriber_server_and_window)
{
    struct rig rig;
    rig_start(&rig);
    struct smtp_facts plain = cleartext("PLAIN", true, true);
    dialogue(&rig, "198.51.100.7", "192.0.2.25", 10.0, &plain);
    dialogue(&rig, "198.51.100.7", "192.0.2.25", 20.0, &plain);
    cr_assert_eq(rig.found.count, 1);
    const struct finding *f = &rig.found.items[0];
    cr_assert_eq(f->type, EVENT_CLEARTEXT_AUTH);
    cr_assert_eq(f->as.submission.msa, 0);
    cr_assert_str_eq(f->as.submission.smtp.auth_mechanism, "PLAIN");
    cr_assert(f->as.submission.smtp.auth_success);
    cr_assert_eq(f->ts, seconds(10.0));
    /* Another server is another finding; LOGIN too. */
    struct smtp_facts login = cleartext("LOGIN", true, false);
    dialogue(&rig, "198.51.100.7", "203.0.113.90", 30.0, &login);
    cr_assert_eq(rig.found.count, 2);
    cr_assert_eq(rig.found.items[1].as.submission.msa, -1);
    /* Two addresses of one IPv6 subscriber are one. */
    dialogue(&rig, "2001:db8:1000:5::a", "203.0.113.90", 40.0, &login);
    dialogue(&rig, "2001:db8:1000:5::b", "203.0.113.90", 41.0, &login);
    cr_assert_eq(rig.found.count, 3);
    /* The next window: again. */
    dialogue(&rig, "198.51.100.7", "192.0.2.25", 310.0, &plain);
    cr_assert_eq(rig.found.count, 4);
    rig_stop(&rig);
}

Test(cleartext_auth, not_without_a_secret_on_the_wire)
{
    struct rig rig;
    rig_start(&rig);
    /* A challenge-response mechanism sends no password. */
    struct smtp_facts cram = cleartext("CRAM-MD5", true, true);
    dialogue(&rig, "198.51.100.7", "192.0.2.25", 10.0, &cram);
    /* AUTH PLAIN answered 538 (encryption required) before any response was sent. */
    struct smtp_facts refused = cleartext("PLAIN", false, false);
    dialogue(&rig, "198.51.100.8", "192.0.2.25", 20.0, &refused);
    /* A mechanism the parser could not name (a cut line). */
    struct smtp_facts unnamed = cleartext("", true, false);
    dialogue(&rig, "198.51.100.9", "192.0.2.25", 30.0, &unnamed);
    cr_assert_eq(rig.found.count, 0);
    /* A bearer token is a secret too. */
    struct smtp_facts token = cleartext("XOAUTH2", true, true);
    dialogue(&rig, "198.51.100.10", "192.0.2.25", 40.0, &token);
    cr_assert_eq(count_of(&rig, EVENT_CLEARTEXT_AUTH), 1);
    rig_stop(&rig);
}
