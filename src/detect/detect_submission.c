/* The submission family: judges what the attempt tracker (port 25) and mail_flows (587,
 * 465, POP3, IMAP, other ports) saw. Its own memory is two bounded tables in packet time,
 * servers (who reaches them on 587 and 465) and logins (for POP-before-SMTP), and one
 * window_set that lets each finding out once per key and window. Every connection of a
 * dynamic subscriber to a designated MSA is also handed to the msa_abuse counts
 * (detect_msa_abuse.h), which share these connections rather than follow them again. */
#include "detect/detect_submission.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "detect/detect_msa_abuse.h"
#include "record/finding.h"
#include "record/smtp_fields.h"
#include "track/flow.h"
#include "util/log.h"
#include "track/mail_flows.h"
#include "util/window_set.h"

/* A server's 587/465 record is kept this long after it was last used (packet time). */
#define SERVER_MEMORY (24 * 3600 * PACKET_TIME_SECOND)
#define SNI_KEPT SHARED_SNI_MAX

/* Keys of the one-per-window set, one kind per finding. */
enum once_kind {
    ONCE_OPEN_SUBMISSION = 1, /* per server */
    ONCE_POP_BEFORE_SMTP,     /* per client and server */
    ONCE_THIRD_PARTY,         /* per subscriber and server */
    ONCE_CLEARTEXT_AUTH,      /* per subscriber and server */
};

struct server_record {
    uint32_t submission; /* connections from subscribers the server answered on 587 */
    uint32_t smtps;      /* ClientHellos from subscribers on 465 */
    char sni[SNI_KEPT];  /* the last server name a 465 ClientHello asked for */
};

struct login_record {
    packet_time at;
    struct address server;
    uint8_t protocol; /* enum mail_login_protocol */
    char mechanism[MAIL_LOGIN_MECHANISM_MAX];
};

struct submission_detector {
    struct detector base;
    const struct policy *policy;
    struct bus *bus;
    struct sensor_counters *counters;
    struct mail_flows *flows;
    struct flow_table *servers; /* records: struct server_record */
    struct flow_table *logins;  /* records: struct login_record */
    struct window_set *once;
    struct msa_abuse *abuse;
    /* --workers: where a finding keyed by a server is claimed over all workers, and the
     * other workers' subscribers' 587 and 465 connections come in (and ours go out). */
    struct once_share *shared_once;
    struct inbox_set *server_notes;
    uint64_t notes_lost; /* ours that another worker's full inbox refused */
    packet_time window_end;
};

/* The one list of the server and login tables: least recently used first. */
enum { LIST_RECENT = 0 };

static struct submission_detector *of(struct detector *detector)
{
    return (struct submission_detector *)detector;
}

/* ---- Keys and tables ---- */

/* A login is remembered by the client's address and the one server address that took it
 * (its /32 or /128): POP-before-SMTP is that server letting the address submit. */
static void login_key(struct flow_key *key, const struct address *client,
                      const struct address *server)
{
    flow_key_make(key, 0, client, server, 0, 0);
}

/* The entry for key, made (evicting the least recently used when full) if need be; the entry
 * goes to the tail of the list, so the head is always the oldest. NULL only if capacity 0. */
static struct flow *touch(struct submission_detector *detector, struct flow_table *table,
                          const struct flow_key *key, packet_time now, bool *created)
{
    uint32_t hash = flow_key_hash(key);
    struct flow *entry = flow_lookup(table, key, hash);
    *created = entry == NULL;
    if (entry == NULL) {
        entry = flow_insert(table, key, hash);
        if (entry == NULL) {
            struct flow *oldest = flow_list_head(table, LIST_RECENT);
            if (oldest == NULL)
                return NULL;
            detector->counters->detector_evictions++;
            flow_remove(table, oldest);
            entry = flow_insert(table, key, hash);
        }
    }
    entry->last_seen = now;
    flow_list_append(table, entry, LIST_RECENT);
    return entry;
}

static struct server_record *server_of(struct submission_detector *detector,
                                       const struct address *server, packet_time now, bool create)
{
    struct flow_key key;
    flow_key_make(&key, 0, server, NULL, 0, 0);
    if (!create) {
        struct flow *entry = flow_lookup(detector->servers, &key, flow_key_hash(&key));
        return entry != NULL ? flow_record(entry) : NULL;
    }
    bool created;
    struct flow *entry = touch(detector, detector->servers, &key, now, &created);
    if (entry == NULL)
        return NULL;
    struct server_record *record = flow_record(entry);
    if (created)
        memset(record, 0, sizeof(*record));
    return record;
}

/* A subscriber's connection the server answered on 587, or its ClientHello on 465, seen
 * here or (told through the inbox) by another worker. */
static void count_server(struct submission_detector *detector,
                         const struct shared_server_note *note)
{
    struct server_record *record = server_of(detector, &note->server, note->ts, true);
    if (record == NULL)
        return;
    if (note->kind == SHARED_SUBMISSION) {
        record->submission++;
        return;
    }
    record->smtps++;
    /* Names past the record's room are cut: enough to recognise a server. */
    if (note->has_sni)
        snprintf(record->sni, sizeof(record->sni), "%s", note->sni);
}

static void note_server(struct submission_detector *detector, const struct address *server,
                        packet_time now, enum shared_server_kind kind, const char *sni)
{
    struct shared_server_note note = {.server = *server, .ts = now, .kind = (uint8_t)kind};
    if (sni != NULL) {
        note.has_sni = true;
        snprintf(note.sni, sizeof(note.sni), "%.*s", (int)sizeof(note.sni) - 1, sni);
    }
    count_server(detector, &note);
    if (detector->server_notes != NULL) {
        unsigned lost = inbox_post(detector->server_notes, &note);
        detector->notes_lost += lost;
        detector->counters->detector_exhausted += lost;
    }
}

/* The other workers' notes, before what is known of a server is read or judged. */
static void take_server_notes(struct submission_detector *detector)
{
    if (detector->server_notes == NULL)
        return;
    struct shared_server_note note;
    while (inbox_take(detector->server_notes, &note))
        count_server(detector, &note);
}

/* ---- Windows ---- */

static void roll_window(struct submission_detector *detector, packet_time now)
{
    packet_time window = detector->policy->thresholds.window;
    if (detector->window_end != 0 && now < detector->window_end)
        return;
    if (detector->window_end != 0)
        window_set_clear(detector->once);
    detector->window_end = (now / window + 1) * window;
}

/* True the first time in the window for this finding and key. */
static bool first_in_window(struct submission_detector *detector, enum once_kind kind,
                            const struct address *a, const struct address *b, packet_time now)
{
    roll_window(detector, now);
    struct address pair[2];
    memset(pair, 0, sizeof(pair));
    pair[0] = *a;
    if (b != NULL)
        pair[1] = *b;
    uint64_t key = window_set_hash(kind, pair, sizeof(pair));
    enum window_set_result result = window_set_add(detector->once, key);
    if (result == WINDOW_SET_FULL) {
        /* Better a repeated finding than a lost one. */
        detector->counters->detector_exhausted++;
        return true;
    }
    if (result != WINDOW_SET_ADDED)
        return false;
    /* A server's subscribers are spread over the workers; the others' are keyed by a
     * subscriber, whose packets all come to this one. */
    if (kind != ONCE_OPEN_SUBMISSION || detector->shared_once == NULL)
        return true;
    packet_time window = detector->policy->thresholds.window;
    enum once_claim claim =
        once_share_claim(detector->shared_once, key, (uint64_t)(detector->window_end / window));
    if (claim == ONCE_FULL)
        detector->counters->detector_exhausted++;
    return claim != ONCE_TAKEN;
}

/* ---- Findings ---- */

/* A connection either source describes: a port-25 attempt or a mail flow. */
struct connection {
    struct flow_tuple flow; /* src: the client */
    int pool;               /* of the client, or -1 */
    int segment;
    packet_time first_seen;
    packet_time last_seen;
};

static void begin_flow_finding(struct finding *finding, enum event_type type,
                               const struct connection *connection)
{
    finding_init(finding, type, connection->first_seen);
    finding_set_flow(finding, &connection->flow);
    finding->pool = connection->pool;
    finding->segment = connection->segment;
    finding->as.submission.msa = -1;
}

/* The server as the policy names it, when it is one of the MSAs. */
static void set_msa(struct finding *finding, const struct policy *policy,
                    const struct address *server)
{
    int msa = policy_msa_of(policy, server);
    finding->as.submission.msa = msa != POLICY_NO_INDEX ? msa : -1;
}

/* An open submission server: MAIL FROM and RCPT TO answered 250 with no AUTH accepted, in
 * the clear (no STARTTLS hid the dialogue, so the capture can tell). */
static bool accepted_without_auth(const struct smtp_facts *smtp)
{
    return smtp != NULL && smtp->mail_accepted > 0 && smtp->rcpt_accepted > 0 &&
           !smtp->auth_success && !smtp->starttls_accepted && !smtp->encrypted;
}

static const struct login_record *login_before(struct submission_detector *detector,
                                               const struct address *client,
                                               const struct address *server, packet_time at)
{
    struct flow_key key;
    login_key(&key, client, server);
    struct flow *entry = flow_lookup(detector->logins, &key, flow_key_hash(&key));
    if (entry == NULL)
        return NULL;
    const struct login_record *login = flow_record(entry);
    if (login->at > at || at - login->at > detector->policy->timeouts.pop_before_smtp)
        return NULL;
    return login;
}

/* An unauthenticated submission the server accepted: after a POP3/IMAP login from the same
 * address to the same server address it is POP-before-SMTP (draft 4.2: MSAs MUST NOT serve
 * it), when the dialogue shows no AUTH at all (one the capture may have missed is not
 * enough to say the login let it through); otherwise, from an MSA (any server on 587, see
 * on_attempt for 25), an open submission. Another server of the same provider is no
 * evidence: a provider's MX taking a subscriber's mail is delivery, and a webmail
 * provider's autonomous system holds many unrelated servers. */
static void judge_unauthenticated(struct submission_detector *detector,
                                  const struct connection *connection,
                                  const struct smtp_facts *smtp, bool known_msa)
{
    const struct address *client = &connection->flow.src, *server = &connection->flow.dst;
    packet_time last = connection->last_seen;
    const struct login_record *login =
        smtp_auth_known(smtp) ? login_before(detector, client, server, last) : NULL;
    struct finding finding;
    if (login != NULL) {
        if (!first_in_window(detector, ONCE_POP_BEFORE_SMTP, client, server, last))
            return;
        begin_flow_finding(&finding, EVENT_POP_BEFORE_SMTP, connection);
        set_msa(&finding, detector->policy, server);
        struct submission_finding *out = &finding.as.submission;
        out->login_protocol = mail_login_protocol_name((enum mail_login_protocol)login->protocol);
        out->login_server = login->server;
        snprintf(out->login_mechanism, sizeof(out->login_mechanism), "%s", login->mechanism);
        out->login_ts = login->at;
        out->smtp = *smtp;
        bus_finding(detector->bus, &finding);
        return;
    }
    if (!known_msa || !first_in_window(detector, ONCE_OPEN_SUBMISSION, server, NULL, last))
        return;
    begin_flow_finding(&finding, EVENT_OPEN_SUBMISSION, connection);
    set_msa(&finding, detector->policy, server);
    finding.as.submission.smtp = *smtp;
    bus_finding(detector->bus, &finding);
}

/* A subscriber whose AUTH succeeded on port 25 of a server that is not its designated MSA:
 * a real user whom OP25B cuts off (draft 4.3, "submissions to third-party servers"), with
 * what is known of the server's 587 and 465 so far. */
static void judge_third_party(struct submission_detector *detector,
                              const struct connection *connection, const struct smtp_facts *smtp)
{
    const struct address *client = &connection->flow.src, *server = &connection->flow.dst;
    if (!first_in_window(detector, ONCE_THIRD_PARTY, client, server, connection->last_seen))
        return;
    take_server_notes(detector);
    const struct server_record *record = server_of(detector, server, connection->last_seen, false);
    struct finding finding;
    begin_flow_finding(&finding, EVENT_THIRD_PARTY_SUBMISSION, connection);
    set_msa(&finding, detector->policy, server);
    struct submission_finding *out = &finding.as.submission;
    out->smtp = *smtp;
    if (record != NULL) {
        out->port_587_connections = record->submission;
        out->port_465_connections = record->smtps;
        snprintf(out->port_465_sni, sizeof(out->port_465_sni), "%s", record->sni);
    }
    bus_finding(detector->bus, &finding);
}

/* RFC 5321 3.1 and 4.1.1.1: an SMTP dialogue is the server's 220 and the client's EHLO or
 * HELO; nDPI's word alone is not enough. */
static void judge_other_port(struct submission_detector *detector,
                             const struct mail_flow_report *report,
                             const struct connection *connection)
{
    const struct smtp_facts *smtp = report->smtp;
    if (smtp == NULL || !smtp->banner_seen || smtp->banner_code != 220 || !smtp->helo_seen)
        return;
    struct finding finding;
    begin_flow_finding(&finding, EVENT_NONSTANDARD_PORT_SMTP, connection);
    finding.as.submission.protocol = report->protocol;
    finding.as.submission.close_reason = report->close_reason;
    finding.as.submission.smtp = *smtp;
    bus_finding(detector->bus, &finding);
}

/* Mechanisms whose exchange carries the secret itself: PLAIN (RFC 4616), LOGIN (the user
 * name and password in base64), and the bearer tokens of OAUTHBEARER (RFC 7628) and
 * XOAUTH2. Read at all, they were sent before any TLS. Challenge-response mechanisms
 * (CRAM-MD5, DIGEST-MD5, SCRAM-*) never send the password and are not flagged. */
static bool secret_in_clear(const struct smtp_facts *smtp)
{
    static const char *const mechanisms[] = {"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"};
    if (smtp == NULL || !smtp->auth_credentials_sent)
        return false;
    for (size_t i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++) {
        if (strcmp(smtp->auth_mechanism, mechanisms[i]) == 0)
            return true;
    }
    return false;
}

/* AUTH whose credentials crossed the mirrored wire unencrypted (on 25 or 587, no STARTTLS
 * before it), once per subscriber, server and window. The event names the mechanism and
 * whether it worked; the smtp facts it is made from never hold the credentials. */
static void judge_cleartext(struct submission_detector *detector,
                            const struct connection *connection, const struct smtp_facts *smtp)
{
    if (!secret_in_clear(smtp))
        return;
    const struct address *server = &connection->flow.dst;
    struct prefix subscriber =
        policy_subscriber(detector->policy, connection->pool, &connection->flow.src);
    if (!first_in_window(detector, ONCE_CLEARTEXT_AUTH, &subscriber.address, server,
                         connection->last_seen))
        return;
    struct finding finding;
    begin_flow_finding(&finding, EVENT_CLEARTEXT_AUTH, connection);
    set_msa(&finding, detector->policy, server);
    finding.as.submission.smtp = *smtp;
    bus_finding(detector->bus, &finding);
}

/* A subscriber's connection to a designated MSA, for the msa_abuse counts. tls: the
 * dialogue went on encrypted (STARTTLS, or implicit TLS on 465). */
static void count_msa(struct submission_detector *detector, const struct connection *connection,
                      bool tls, uint32_t client_bytes, const struct smtp_facts *smtp)
{
    int msa = policy_msa_of(detector->policy, &connection->flow.dst);
    if (msa == POLICY_NO_INDEX || connection->pool < 0)
        return;
    struct msa_connection out = {
        .client = connection->flow.src,
        .pool = connection->pool,
        .msa = msa,
        .port = connection->flow.dst_port,
        .tls = tls,
        .first_seen = connection->first_seen,
        .last_seen = connection->last_seen,
        .client_bytes = client_bytes,
        .smtp = smtp,
    };
    msa_abuse_connection(detector->abuse, &out);
}

static bool encrypted(const struct smtp_facts *smtp)
{
    return smtp != NULL && (smtp->starttls_accepted || smtp->encrypted);
}

static void record_login(struct submission_detector *detector,
                         const struct mail_flow_report *report)
{
    const struct address *client = &report->flow.src, *server = &report->flow.dst;
    struct flow_key key;
    login_key(&key, client, server);
    bool created;
    struct flow *entry = touch(detector, detector->logins, &key, report->now, &created);
    if (entry == NULL)
        return;
    struct login_record *login = flow_record(entry);
    login->at = report->now;
    login->server = *server;
    login->protocol = report->kind == MAIL_FLOW_IMAP ? MAIL_LOGIN_IMAP : MAIL_LOGIN_POP3;
    memcpy(login->mechanism, report->login->mechanism, sizeof(login->mechanism));
}

/* A subscriber's or an outsider's connection to 587 or 465 is over: told on the bus for the
 * detectors that build on submission (record/connection_record.h). */
static void publish_connection(struct submission_detector *detector,
                               const struct mail_flow_report *report)
{
    struct connection_record record = {
        .flow = report->flow,
        .first_seen = report->first_seen,
        .last_seen = report->last_seen,
        .pool = report->pool,
        .segment = report->segment,
        .msa = policy_msa_of(detector->policy, &report->flow.dst),
        .answered = report->answered || (report->smtp != NULL && report->smtp->banner_seen),
        .smtp = report->kind == MAIL_FLOW_SUBMISSION ? report->smtp : NULL,
        .close_reason = report->close_reason,
    };
    bus_connection(detector->bus, &record);
}

static void on_mail_flow(void *context, const struct mail_flow_report *report)
{
    struct submission_detector *detector = context;
    const struct address *server = &report->flow.dst;
    switch (report->moment) {
    case MAIL_FLOW_LOGIN:
        record_login(detector, report);
        return;
    case MAIL_FLOW_HELLO:
        if (report->pool >= 0)
            note_server(detector, server, report->now, SHARED_SMTPS,
                        report->hello->has_sni ? report->hello->sni : NULL);
        return;
    case MAIL_FLOW_CLOSED:
        if (report->kind == MAIL_FLOW_SUBMISSION || report->kind == MAIL_FLOW_SMTPS)
            publish_connection(detector, report);
        break;
    }
    struct connection connection = {
        .flow = report->flow,
        .pool = report->pool,
        .segment = report->segment,
        .first_seen = report->first_seen,
        .last_seen = report->last_seen,
    };
    if (report->kind == MAIL_FLOW_OTHER_SMTP) {
        judge_other_port(detector, report, &connection);
        return;
    }
    if (report->kind == MAIL_FLOW_SMTPS)
        count_msa(detector, &connection, report->client_bytes > 0, report->client_bytes, NULL);
    if (report->kind != MAIL_FLOW_SUBMISSION)
        return;
    count_msa(detector, &connection, encrypted(report->smtp), report->client_bytes, report->smtp);
    bool answered = report->answered || (report->smtp != NULL && report->smtp->banner_seen);
    if (answered && report->pool >= 0)
        note_server(detector, server, report->now, SHARED_SUBMISSION, NULL);
    if (accepted_without_auth(report->smtp))
        judge_unauthenticated(detector, &connection, report->smtp, true);
    judge_cleartext(detector, &connection, report->smtp);
}

/* Port 25, from the attempt tracker: dynamic subscribers only. */
static void on_attempt(void *context, const struct attempt_record *attempt)
{
    struct submission_detector *detector = context;
    const struct smtp_facts *smtp = attempt->smtp;
    struct connection connection = {
        .flow = attempt->flow,
        .pool = attempt->pool,
        .segment = attempt->segment,
        .first_seen = attempt->first_seen,
        .last_seen = attempt->last_seen,
    };
    if (attempt->msa >= 0)
        count_msa(detector, &connection, encrypted(smtp), attempt->client_bytes, smtp);
    if (smtp == NULL)
        return;
    if (smtp->auth_success && !attempt->to_designated_msa)
        judge_third_party(detector, &connection, smtp);
    /* On 25 a designated MSA may take its own customers' mail by their address (the seed
     * talk: "within the domain, port 25 submission is still accepted"), which the policy
     * says by listing 25 for their pool: only one taking mail from a pool it does not
     * serve there is open. */
    if (accepted_without_auth(smtp))
        judge_unauthenticated(detector, &connection, smtp,
                              attempt->msa >= 0 && !attempt->to_designated_msa);
    judge_cleartext(detector, &connection, smtp);
}

/* ---- Detector ---- */

static void submission_packet(struct detector *base, const struct packet *packet, int segment)
{
    take_server_notes(of(base));
    mail_flows_packet(of(base)->flows, packet, segment);
}

static void expire(struct flow_table *table, packet_time memory, packet_time now)
{
    struct flow *entry;
    while ((entry = flow_list_head(table, LIST_RECENT)) != NULL && entry->last_seen + memory <= now)
        flow_remove(table, entry);
}

static void submission_advance(struct detector *base, packet_time now)
{
    struct submission_detector *detector = of(base);
    take_server_notes(detector);
    mail_flows_advance(detector->flows, now);
    expire(detector->logins, detector->policy->timeouts.pop_before_smtp, now);
    expire(detector->servers, SERVER_MEMORY, now);
    roll_window(detector, now);
    msa_abuse_advance(detector->abuse, now);
    packet_time due = detector->window_end;
    packet_time deadlines[4] = {
        mail_flows_next_deadline(detector->flows), flow_table_next_deadline(detector->logins),
        flow_table_next_deadline(detector->servers), msa_abuse_next_deadline(detector->abuse)};
    for (int i = 0; i < 4; i++)
        due = deadlines[i] < due ? deadlines[i] : due;
    base->due = due;
}

static void submission_finish(struct detector *base, packet_time now, const char *reason)
{
    struct submission_detector *detector = of(base);
    mail_flows_finish(detector->flows, now, reason);
    msa_abuse_finish(detector->abuse, now);
    if (detector->notes_lost > 0)
        log_message(LOG_WARNING,
                    "%llu connections to 587 or 465 not told to another worker: its inbox was "
                    "full (its third_party_submission findings count fewer)",
                    (unsigned long long)detector->notes_lost);
}

static void submission_free(struct detector *base)
{
    struct submission_detector *detector = of(base);
    if (detector == NULL)
        return;
    mail_flows_free(detector->flows);
    flow_table_free(detector->servers);
    flow_table_free(detector->logins);
    window_set_free(detector->once);
    msa_abuse_free(detector->abuse);
    free(detector);
}

static const struct detector_ops submission_ops = {
    .name = "submission",
    .packet = submission_packet,
    .advance = submission_advance,
    .finish = submission_finish,
    .free = submission_free,
};

/* Servers and logins: a sixteenth of the attempt table each, within these bounds. */
#define TABLE_MIN 256
#define TABLE_MAX 262144

struct detector *detect_submission_new(const struct detector_context *context, bool *disabled)
{
    const struct policy *policy = context->policy;
    *disabled = false;
    struct submission_detector *detector = calloc(1, sizeof(*detector));
    if (detector == NULL)
        return NULL;
    detector->base.ops = &submission_ops;
    detector->policy = policy;
    detector->bus = context->bus;
    detector->counters = context->counters;
    detector->shared_once = context->share != NULL ? context->share->findings : NULL;
    detector->server_notes = context->share != NULL ? context->share->servers : NULL;
    uint32_t capacity = policy->limits.flows / 16;
    capacity = capacity < TABLE_MIN ? TABLE_MIN : capacity > TABLE_MAX ? TABLE_MAX : capacity;
    detector->flows = mail_flows_new(policy, context->counters, on_mail_flow, detector);
    detector->servers = flow_table_new(capacity, sizeof(struct server_record));
    detector->logins = flow_table_new(capacity, sizeof(struct login_record));
    detector->once = window_set_new(TABLE_MIN, capacity);
    detector->abuse = msa_abuse_new(policy, context->bus, context->counters);
    if (detector->flows == NULL || detector->servers == NULL || detector->logins == NULL ||
        detector->once == NULL || detector->abuse == NULL)
        goto fail;
    mail_flows_watch(detector->flows, &detector->base.due);
    flow_table_set_timer(detector->logins, LIST_RECENT, FLOW_TIME_LAST_SEEN,
                         policy->timeouts.pop_before_smtp, &detector->base.due);
    flow_table_set_timer(detector->servers, LIST_RECENT, FLOW_TIME_LAST_SEEN, SERVER_MEMORY,
                         &detector->base.due);
    struct bus_subscriber subscriber = {.attempt = on_attempt, .context = detector};
    if (bus_subscribe(context->bus, subscriber) != 0)
        goto fail;
    return &detector->base;

fail:
    submission_free(&detector->base);
    return NULL;
}
