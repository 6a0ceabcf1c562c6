#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "proto/smtp.h"

/* One side's message in capture order. Literals may hold NUL bytes: the length is explicit. */
struct step {
    bool from_client;
    const char *bytes;
    size_t length;
};

#define CLIENT(text)                                                                               \
    {                                                                                              \
        true, text, sizeof(text) - 1                                                               \
    }
#define SERVER(text)                                                                               \
    {                                                                                              \
        false, text, sizeof(text) - 1                                                              \
    }
#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

static void feed(struct smtp_session *session, bool from_client, const void *bytes, size_t length)
{
    if (from_client)
        smtp_client_bytes(session, bytes, length);
    else
        smtp_server_bytes(session, bytes, length);
}

static void client(struct smtp_session *session, const char *text)
{
    smtp_client_bytes(session, (const uint8_t *)text, strlen(text));
}

static void server(struct smtp_session *session, const char *text)
{
    smtp_server_bytes(session, (const uint8_t *)text, strlen(text));
}

/* Each step in one call, except step "split_step" which is cut at "split_at". */
static void run_split(struct smtp_session *session, const struct step *steps, size_t count,
                      size_t split_step, size_t split_at)
{
    smtp_session_init(session);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *bytes = (const uint8_t *)steps[i].bytes;
        if (i == split_step && split_at < steps[i].length) {
            feed(session, steps[i].from_client, bytes, split_at);
            feed(session, steps[i].from_client, bytes + split_at, steps[i].length - split_at);
        } else {
            feed(session, steps[i].from_client, bytes, steps[i].length);
        }
    }
}

/* Commands awaiting replies: the runs' counts, and those queued behind the ring. */
static uint64_t pending_commands(const struct smtp_session *session)
{
    uint64_t commands = session->pending_overflow;
    for (unsigned i = 0; i < session->pending_count; i++)
        commands += session->pending[(session->pending_head + i) % SMTP_PENDING_MAX].count;
    return commands;
}

static void run_whole(struct smtp_session *session, const struct step *steps, size_t count)
{
    run_split(session, steps, count, SIZE_MAX, 0);
}

static void run_bytewise(struct smtp_session *session, const struct step *steps, size_t count)
{
    smtp_session_init(session);
    for (size_t i = 0; i < count; i++) {
        for (size_t b = 0; b < steps[i].length; b++)
            feed(session, steps[i].from_client, steps[i].bytes + b, 1);
    }
}

/* All of the client's bytes, then all of the server's: what a late-starting or slow mirror
 * port may deliver. Replies still meet their commands through the pending ring. */
static void run_client_first(struct smtp_session *session, const struct step *steps, size_t count)
{
    smtp_session_init(session);
    for (int side = 1; side >= 0; side--) {
        for (size_t i = 0; i < count; i++) {
            if (steps[i].from_client == (side == 1))
                feed(session, steps[i].from_client, steps[i].bytes, steps[i].length);
        }
    }
}

static uint32_t random_state;

static uint32_t random_next(void)
{
    /* Numerical Recipes LCG: fixed seed, same streams on every run. */
    random_state = random_state * 1664525u + 1013904223u;
    return random_state >> 8;
}

static void run_random_chunks(struct smtp_session *session, const struct step *steps, size_t count)
{
    smtp_session_init(session);
    for (size_t i = 0; i < count; i++) {
        size_t at = 0;
        while (at < steps[i].length) {
            size_t chunk = 1 + random_next() % 23;
            if (chunk > steps[i].length - at)
                chunk = steps[i].length - at;
            feed(session, steps[i].from_client, steps[i].bytes + at, chunk);
            at += chunk;
        }
    }
}

#define SAME_FIELD(field)                                                                          \
    cr_assert_eq((long long)got->field, (long long)want->field, "%s: %s is %lld, expected %lld",   \
                 label, #field, (long long)got->field, (long long)want->field)
#define SAME_STRING(field)                                                                         \
    cr_assert_str_eq(got->field, want->field, "%s: %s differs", label, #field)

static void assert_same_facts(const struct smtp_facts *got, const struct smtp_facts *want,
                              const char *label)
{
    SAME_FIELD(banner_seen);
    SAME_FIELD(banner_code);
    SAME_STRING(banner);
    SAME_FIELD(helo_seen);
    SAME_FIELD(ehlo);
    SAME_FIELD(helo_count);
    SAME_STRING(helo);
    SAME_FIELD(ehlo_offers_auth);
    SAME_FIELD(ehlo_offers_starttls);
    SAME_FIELD(auth_attempted);
    SAME_FIELD(auth_success);
    SAME_FIELD(auth_failed);
    SAME_STRING(auth_mechanism);
    SAME_FIELD(starttls_requested);
    SAME_FIELD(starttls_accepted);
    SAME_FIELD(encrypted);
    SAME_FIELD(mail_count);
    SAME_FIELD(mail_accepted);
    SAME_FIELD(mail_from_null);
    SAME_STRING(mail_from_domain);
    SAME_FIELD(rcpt_count);
    SAME_FIELD(rcpt_accepted);
    SAME_FIELD(rcpt_rejected);
    SAME_FIELD(data_count);
    SAME_FIELD(data_accepted);
    SAME_FIELD(messages_accepted);
    SAME_FIELD(quit_seen);
    SAME_FIELD(last_reply_code);
    SAME_FIELD(replies_4xx);
    SAME_FIELD(replies_5xx);
    SAME_FIELD(invalid_commands);
    SAME_FIELD(invalid_replies);
    SAME_FIELD(long_lines);
    SAME_FIELD(gaps);
}

/* Banner, EHLO offering AUTH and STARTTLS, AUTH LOGIN with two challenges, one accepted and
 * one refused recipient, a body that reads like commands, dot-stuffing, QUIT. */
static const struct step full_dialogue[] = {
    SERVER("220 mx.example.net ESMTP ready\r\n"),
    CLIENT("EHLO client.example.org\r\n"),
    SERVER("250-mx.example.net Hello client.example.org\r\n"
           "250-PIPELINING\r\n"
           "250-AUTH LOGIN PLAIN\r\n"
           "250-STARTTLS\r\n"
           "250 8BITMIME\r\n"),
    CLIENT("AUTH LOGIN\r\n"),
    SERVER("334 VXNlcm5hbWU6\r\n"),
    CLIENT("dXNlcg==\r\n"),
    SERVER("334 UGFzc3dvcmQ6\r\n"),
    CLIENT("c2VjcmV0\r\n"),
    SERVER("235 2.7.0 Authentication successful\r\n"),
    CLIENT("MAIL FROM:<Alice@Mail.Example.ORG>\r\n"),
    SERVER("250 2.1.0 Ok\r\n"),
    CLIENT("RCPT TO:<bob@example.net>\r\n"),
    SERVER("250 2.1.5 Ok\r\n"),
    CLIENT("RCPT TO:<nobody@example.net>\r\n"),
    SERVER("550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n"),
    CLIENT("DATA\r\n"),
    SERVER("354 End data with <CR><LF>.<CR><LF>\r\n"),
    CLIENT("Subject: test\r\n"
           "\r\n"
           "MAIL FROM:<x@y>\r\n"
           "RCPT TO:<z@y>\r\n"
           "QUIT\r\n"
           "..\r\n"
           "..leading dot\r\n"
           ". \r\n"
           ".\r\n"),
    SERVER("250 2.0.0 Ok: queued as 4B1C2\r\n"),
    CLIENT("QUIT\r\n"),
    SERVER("221 2.0.0 Bye\r\n"),
};

/* Expected values read off the dialogue above. */
static void assert_full_dialogue(const struct smtp_session *session, const char *label)
{
    const struct smtp_facts *facts = &session->facts;
    cr_assert(facts->banner_seen, "%s", label);
    cr_assert_eq(facts->banner_code, 220, "%s", label);
    cr_assert_str_eq(facts->banner, "mx.example.net ESMTP ready", "%s", label);
    cr_assert(facts->helo_seen && facts->ehlo, "%s", label);
    cr_assert_eq(facts->helo_count, 1, "%s", label);
    cr_assert_str_eq(facts->helo, "client.example.org", "%s", label);
    cr_assert(facts->ehlo_offers_auth && facts->ehlo_offers_starttls, "%s", label);
    cr_assert(facts->auth_attempted && facts->auth_success && !facts->auth_failed, "%s", label);
    cr_assert_str_eq(facts->auth_mechanism, "LOGIN", "%s", label);
    cr_assert(!facts->starttls_requested && !facts->starttls_accepted && !facts->encrypted, "%s",
              label);
    cr_assert_eq(facts->mail_count, 1, "%s", label);
    cr_assert_eq(facts->mail_accepted, 1, "%s", label);
    cr_assert(!facts->mail_from_null, "%s", label);
    cr_assert_str_eq(facts->mail_from_domain, "mail.example.org", "%s", label);
    cr_assert_eq(facts->rcpt_count, 2, "%s", label);
    cr_assert_eq(facts->rcpt_accepted, 1, "%s", label);
    cr_assert_eq(facts->rcpt_rejected, 1, "%s", label);
    cr_assert_eq(facts->data_count, 1, "%s", label);
    cr_assert_eq(facts->data_accepted, 1, "%s", label);
    cr_assert_eq(facts->messages_accepted, 1, "%s", label);
    cr_assert(facts->quit_seen, "%s", label);
    cr_assert_eq(facts->last_reply_code, 221, "%s", label);
    cr_assert_eq(facts->replies_4xx, 0, "%s", label);
    cr_assert_eq(facts->replies_5xx, 1, "%s", label);
    cr_assert_eq(facts->invalid_commands, 0, "%s", label);
    cr_assert_eq(facts->invalid_replies, 0, "%s", label);
    cr_assert_eq(facts->long_lines, 0, "%s", label);
    cr_assert_eq(facts->gaps, 0, "%s", label);
    cr_assert_eq(session->client_mode, SMTP_CLIENT_COMMAND, "%s", label);
    cr_assert_eq(session->pending_count, 0, "%s: every command was answered", label);
}

Test(smtp, full_dialogue_one_call_per_message)
{
    struct smtp_session session;
    run_whole(&session, full_dialogue, COUNT_OF(full_dialogue));
    assert_full_dialogue(&session, "whole");
}

Test(smtp, full_dialogue_body_is_not_parsed)
{
    /* Stop right after the body: its "QUIT" line must not have counted. */
    struct smtp_session session;
    size_t through_body = 0;
    while (strncmp(full_dialogue[through_body].bytes, "Subject", 7) != 0)
        through_body++;
    run_whole(&session, full_dialogue, through_body + 1);
    cr_assert(!session.facts.quit_seen);
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.rcpt_count, 2);
    cr_assert_eq(session.facts.messages_accepted, 0);
    cr_assert_eq(session.client_mode, SMTP_CLIENT_COMMAND, "the lone dot ended the body");
}

Test(smtp, full_dialogue_one_byte_at_a_time)
{
    struct smtp_session whole, bytewise;
    run_whole(&whole, full_dialogue, COUNT_OF(full_dialogue));
    run_bytewise(&bytewise, full_dialogue, COUNT_OF(full_dialogue));
    assert_full_dialogue(&bytewise, "bytewise");
    assert_same_facts(&bytewise.facts, &whole.facts, "bytewise");
}

Test(smtp, full_dialogue_split_at_every_point)
{
    struct smtp_session whole, split;
    run_whole(&whole, full_dialogue, COUNT_OF(full_dialogue));
    for (size_t step = 0; step < COUNT_OF(full_dialogue); step++) {
        for (size_t at = 1; at < full_dialogue[step].length; at++) {
            char label[64];
            snprintf(label, sizeof(label), "step %zu split at %zu", step, at);
            run_split(&split, full_dialogue, COUNT_OF(full_dialogue), step, at);
            assert_full_dialogue(&split, label);
            assert_same_facts(&split.facts, &whole.facts, label);
        }
    }
}

Test(smtp, full_dialogue_random_chunks_and_client_first)
{
    struct smtp_session whole, other;
    run_whole(&whole, full_dialogue, COUNT_OF(full_dialogue));
    random_state = 12345;
    for (int round = 0; round < 200; round++) {
        run_random_chunks(&other, full_dialogue, COUNT_OF(full_dialogue));
        assert_same_facts(&other.facts, &whole.facts, "random chunks");
    }
    run_client_first(&other, full_dialogue, COUNT_OF(full_dialogue));
    assert_full_dialogue(&other, "client first");
    assert_same_facts(&other.facts, &whole.facts, "client first");
}

Test(smtp, pipelined_transaction)
{
    /* RFC 2920: the group ends with DATA; replies come back together, in order. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx ESMTP\r\n");
    client(&session, "EHLO bot.example\r\n");
    server(&session, "250-mx\r\n250 PIPELINING\r\n");
    client(&session, "MAIL FROM:<a@sender.example>\r\nRCPT TO:<one@rcpt.example>\r\n"
                     "RCPT TO:<two@rcpt.example>\r\nDATA\r\n");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.rcpt_count, 2);
    cr_assert_eq(session.facts.data_count, 1);
    server(&session, "250 2.1.0 ok\r\n450 4.2.0 greylisted\r\n250 2.1.5 ok\r\n354 go ahead\r\n");
    cr_assert_eq(session.facts.mail_accepted, 1);
    cr_assert_eq(session.facts.rcpt_rejected, 1, "the 450 answers the first RCPT");
    cr_assert_eq(session.facts.rcpt_accepted, 1);
    cr_assert_eq(session.facts.data_accepted, 1);
    cr_assert_eq(session.facts.replies_4xx, 1);
    client(&session, "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    server(&session, "250 queued\r\n221 bye\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1);
    cr_assert(session.facts.quit_seen);
    cr_assert(!session.facts.ehlo_offers_auth && !session.facts.ehlo_offers_starttls);
    cr_assert_eq(session.pending_count, 0);
}

static const uint8_t fake_client_hello[] = {
    0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03, '\n', 'M',  'A',
    'I',  'L',  ' ',  'F',  'R',  'O',  'M',  ':',  '<',  'e',  '@',  'x',  '>',  '\r',
    '\n', 0x00, 0xff, 0x0a, 'Q',  'U',  'I',  'T',  '\r', '\n', 0x16, 0x03, 0x03, 0x0a,
};

Test(smtp, starttls_accepted_stops_parsing)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx ESMTP\r\n");
    client(&session, "EHLO c.example\r\n");
    server(&session, "250-mx\r\n250-STARTTLS\r\n250 SIZE 1000\r\n");
    client(&session, "STARTTLS\r\n");
    server(&session, "220 2.0.0 Ready to start TLS\r\n");
    cr_assert(session.facts.starttls_requested);
    cr_assert(session.facts.starttls_accepted);
    cr_assert(session.facts.encrypted);
    smtp_client_bytes(&session, fake_client_hello, sizeof(fake_client_hello));
    client(&session, "RCPT TO:<not@parsed>\r\nDATA\r\n");
    static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x10, '\n', '2',  '5', '0',
                                           ' ',  'o',  'k',  '\r', '\n', 0x17, 0x03, '\n'};
    smtp_server_bytes(&session, server_hello, sizeof(server_hello));
    server(&session, "550 not parsed\r\nrubbish\r\n");
    smtp_client_gap(&session);
    client(&session, "MAIL FROM:<late@x>\r\n");
    cr_assert_eq(session.facts.mail_count, 0);
    cr_assert_eq(session.facts.rcpt_count, 0);
    cr_assert_eq(session.facts.data_count, 0);
    cr_assert(!session.facts.quit_seen);
    cr_assert_eq(session.facts.invalid_commands, 0);
    cr_assert_eq(session.facts.invalid_replies, 0);
    cr_assert_eq(session.facts.replies_5xx, 0);
    cr_assert_eq(session.facts.last_reply_code, 220);
    cr_assert(session.facts.ehlo_offers_starttls);
}

Test(smtp, starttls_refused_keeps_parsing)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx ESMTP\r\n");
    client(&session, "EHLO c.example\r\n");
    server(&session, "250-mx\r\n250 STARTTLS\r\n");
    client(&session, "STARTTLS\r\n");
    server(&session, "454 4.7.0 TLS not available due to local problem\r\n");
    client(&session, "MAIL FROM:<a@b.example>\r\n");
    server(&session, "250 ok\r\n");
    cr_assert(session.facts.starttls_requested);
    cr_assert(!session.facts.starttls_accepted);
    cr_assert(!session.facts.encrypted);
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.mail_accepted, 1);
    cr_assert_eq(session.facts.replies_4xx, 1);
    cr_assert_eq(session.facts.last_reply_code, 250);
}

Test(smtp, starttls_then_client_hello_without_server_side)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "EHLO c.example\r\nSTARTTLS\r\n");
    smtp_client_bytes(&session, fake_client_hello, sizeof(fake_client_hello));
    cr_assert(session.facts.starttls_requested);
    cr_assert(session.facts.starttls_accepted, "the client began TLS after asking");
    cr_assert(session.facts.encrypted);
    cr_assert_eq(session.facts.mail_count, 0);
    cr_assert(!session.facts.quit_seen);
}

Test(smtp, client_hello_split_after_first_byte)
{
    struct smtp_session session;
    smtp_session_init(&session);
    smtp_client_bytes(&session, fake_client_hello, 1);
    cr_assert(!session.facts.encrypted, "0x16 alone is not yet a record header");
    smtp_client_bytes(&session, fake_client_hello + 1, sizeof(fake_client_hello) - 1);
    cr_assert(session.facts.encrypted);
    cr_assert(!session.facts.starttls_accepted, "no STARTTLS was asked for");
    cr_assert_eq(session.facts.mail_count, 0);
    cr_assert_eq(session.facts.invalid_commands, 0);
}

Test(smtp, tls_to_plaintext_server_keeps_server_replies)
{
    /* As in suricata smtp-errors: a ClientHello to a plaintext Postfix, answered with 402s. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 v02.example.org ESMTP Postfix\r\n");
    smtp_client_bytes(&session, fake_client_hello, sizeof(fake_client_hello));
    server(&session, "402 4.5.2 Error: command not recognized\r\n"
                     "400 4.5.2 Error: bad syntax\r\n");
    cr_assert(session.facts.encrypted);
    cr_assert(!session.facts.starttls_requested && !session.facts.starttls_accepted);
    cr_assert_eq(session.facts.invalid_commands, 0);
    cr_assert_eq(session.facts.replies_4xx, 2);
    cr_assert_eq(session.facts.last_reply_code, 400);
}

Test(smtp, client_side_only_lower_case)
{
    /* The shape of zeek's smtp-one-side-only trace: no server bytes at all. */
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "ehlo enzo.icir.org\r\n");
    client(&session, "mail FROM:<robin@icir.org> size=9030\r\n");
    client(&session, "rcpt TO:<robin@icir.org>\r\n");
    client(&session, "data\r\n");
    client(&session, "From: robin@icir.org\r\nTo: robin@icir.org\r\nSubject: Hello1!\r\n"
                     "rcpt to:<more@icir.org>\r\nquit\r\n");
    client(&session, "This message was sent with Python's smtplib.\r\n.\r\n");
    cr_assert(!session.facts.quit_seen, "quit in the body is body");
    client(&session, "quit\r\n");
    cr_assert(session.facts.helo_seen && session.facts.ehlo);
    cr_assert_str_eq(session.facts.helo, "enzo.icir.org");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_str_eq(session.facts.mail_from_domain, "icir.org");
    cr_assert_eq(session.facts.rcpt_count, 1);
    cr_assert_eq(session.facts.data_count, 1);
    cr_assert_eq(session.facts.data_accepted, 0);
    cr_assert_eq(session.facts.messages_accepted, 0);
    cr_assert(session.facts.quit_seen);
    cr_assert(!session.facts.banner_seen);
    cr_assert_eq(session.facts.last_reply_code, 0);
    cr_assert_eq(session.facts.invalid_commands, 0);
}

Test(smtp, server_side_only_banner)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx.example.net ESMTP Sendmail 8.14.9; Mon, 29 Jul 2019\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert_eq(session.facts.banner_code, 220);
    cr_assert_str_eq(session.facts.banner,
                     "mx.example.net ESMTP Sendmail 8.14.9; Mon, 29 Jul 2019");
    cr_assert(!session.facts.helo_seen);
    cr_assert_eq(session.facts.last_reply_code, 220);
    /* Later replies answer nothing visible: counted, attributed to nothing. */
    server(&session, "250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n221 bye\r\n");
    cr_assert_eq(session.facts.banner_code, 220);
    cr_assert(!session.facts.ehlo_offers_auth, "no EHLO was seen for this reply to answer");
    cr_assert_eq(session.facts.last_reply_code, 221);
    cr_assert_eq(session.facts.invalid_replies, 0);
}

Test(smtp, refusing_banner_and_multiline_banner)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "554 5.7.1 no SMTP service here\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert_eq(session.facts.banner_code, 554);
    cr_assert_str_eq(session.facts.banner, "5.7.1 no SMTP service here");
    cr_assert_eq(session.facts.replies_5xx, 1);

    smtp_session_init(&session);
    server(&session, "220-first line of the greeting\r\n220-second\r\n220\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert_str_eq(session.facts.banner, "first line of the greeting");
    cr_assert_eq(session.facts.last_reply_code, 220);
}

Test(smtp, early_talker_before_banner)
{
    /* PIPE_CONNECT (as in zeek smtp-mail-transactions-invalid): EHLO precedes the greeting,
     * which arrives in one segment with the EHLO reply. */
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "EHLO Bob-PC\r\n");
    server(&session, "220 tinkyx390 ESMTP Exim 4.94.2\r\n250-tinkyx390 Hello localhost\r\n"
                     "250-PIPE_CONNECT\r\n250-STARTTLS\r\n250 HELP\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert_eq(session.facts.banner_code, 220);
    cr_assert_str_eq(session.facts.banner, "tinkyx390 ESMTP Exim 4.94.2");
    cr_assert(session.facts.ehlo_offers_starttls);
    cr_assert(!session.facts.ehlo_offers_auth);
    cr_assert_eq(session.pending_count, 0);
}

Test(smtp, lost_banner_reply_answers_ehlo)
{
    /* The greeting fell in a gap: the first reply seen is the EHLO answer, not a banner. */
    struct smtp_session session;
    smtp_session_init(&session);
    smtp_server_gap(&session);
    server(&session, "mx ESMTP\r\n");
    client(&session, "EHLO c.example\r\n");
    server(&session, "250-mx Hello\r\n250-AUTH=LOGIN\r\n250 SIZE\r\n");
    cr_assert(!session.facts.banner_seen);
    cr_assert(session.facts.ehlo_offers_auth);
    cr_assert_eq(session.facts.invalid_replies, 0);
    cr_assert_eq(session.facts.gaps, 1);
}

Test(smtp, ehlo_keywords_are_matched_exactly)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO c\r\n");
    server(&session, "250-auth Hello c\r\n250-AUTHENTICATE\r\n250-XAUTH LOGIN\r\n"
                     "250-STARTTLSX\r\n250 X-STARTTLS\r\n");
    cr_assert(!session.facts.ehlo_offers_auth);
    cr_assert(!session.facts.ehlo_offers_starttls);

    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO c\r\n");
    server(&session, "250-mx\r\n250-auth=login plain\r\n250 starttls\r\n");
    cr_assert(session.facts.ehlo_offers_auth, "old AUTH= form, any case");
    cr_assert(session.facts.ehlo_offers_starttls, "the last line counts too");

    /* A refused EHLO lists nothing, and HELO replies are not scanned. */
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "HELO c\r\n");
    server(&session, "250-mx\r\n250 AUTH LOGIN\r\n");
    cr_assert(!session.facts.ehlo_offers_auth);
}

Test(smtp, auth_plain_initial_response)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO c\r\n");
    server(&session, "250-mx\r\n250 AUTH PLAIN\r\n");
    client(&session, "auth plain AGFsaWNlAHNlY3JldA==\r\n");
    cr_assert(session.facts.auth_attempted);
    cr_assert_str_eq(session.facts.auth_mechanism, "PLAIN");
    server(&session, "235 2.7.0 Authentication successful\r\n");
    cr_assert(session.facts.auth_success && !session.facts.auth_failed);
    client(&session, "RSET\r\n");
    server(&session, "250 ok\r\n");
    cr_assert_eq(session.facts.invalid_commands, 0, "RSET was read as a command");
    cr_assert_eq(session.pending_count, 0);
}

Test(smtp, auth_failure_returns_to_commands)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "AUTH LOGIN\r\n");
    server(&session, "334 VXNlcm5hbWU6\r\n");
    client(&session, "dXNlcg==\r\n");
    server(&session, "334 UGFzc3dvcmQ6\r\n");
    client(&session, "cGFzcw==\r\n");
    cr_assert(!session.facts.auth_failed && !session.facts.auth_success);
    server(&session, "535 5.7.8 Authentication credentials invalid\r\n");
    cr_assert(session.facts.auth_failed);
    cr_assert(!session.facts.auth_success);
    /* No space in QUIT: only the server's final reply can have ended AUTH mode. */
    client(&session, "QUIT\r\n");
    cr_assert(session.facts.quit_seen);
    cr_assert_eq(session.facts.replies_5xx, 1);
    cr_assert_eq(session.facts.last_reply_code, 535);
}

Test(smtp, auth_mode_left_on_command_line_without_server)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n");
    cr_assert_eq(session.client_mode, SMTP_CLIENT_AUTH);
    cr_assert_eq(session.facts.invalid_commands, 0, "SASL responses are no commands");
    client(&session, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    cr_assert_eq(session.client_mode, SMTP_CLIENT_COMMAND);
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.rcpt_count, 1);
    cr_assert_str_eq(session.facts.mail_from_domain, "b.example");
    cr_assert(!session.facts.auth_success && !session.facts.auth_failed);
}

Test(smtp, bdat_chunks_are_not_parsed)
{
    static const char chunk[] = "Subject: x\r\n\r\nMAIL FROM:<evil@x>\r\n\0\xff\x16\x03QUIT\r\n";
    static const char last[] = "RCPT TO:<a>\r\n";
    char first_command[32];
    char last_command[32];
    snprintf(first_command, sizeof(first_command), "BDAT %zu\r\n", sizeof(chunk) - 1);
    snprintf(last_command, sizeof(last_command), "bdat %zu last\r\n", sizeof(last) - 1);
    const struct step steps[] = {
        SERVER("220 mx\r\n"),
        CLIENT("EHLO c\r\n"),
        SERVER("250-mx\r\n250 CHUNKING\r\n"),
        CLIENT("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"),
        SERVER("250 ok\r\n250 ok\r\n"),
        {true, first_command, strlen(first_command)},
        {true, chunk, sizeof(chunk) - 1},
        SERVER("250 2.0.0 chunk ok\r\n"),
        {true, last_command, strlen(last_command)},
        {true, last, sizeof(last) - 1},
        SERVER("250 2.0.0 message ok\r\n"),
        CLIENT("QUIT\r\n"),
    };
    struct smtp_session whole, bytewise;
    run_whole(&whole, steps, COUNT_OF(steps));
    run_bytewise(&bytewise, steps, COUNT_OF(steps));
    const struct smtp_session *sessions[] = {&whole, &bytewise};
    for (size_t i = 0; i < COUNT_OF(sessions); i++) {
        const struct smtp_facts *facts = &sessions[i]->facts;
        cr_assert_eq(facts->data_count, 2);
        cr_assert_eq(facts->data_accepted, 2);
        cr_assert_eq(facts->messages_accepted, 1);
        cr_assert_eq(facts->mail_count, 1, "MAIL FROM inside the chunk is content");
        cr_assert_eq(facts->rcpt_count, 1);
        cr_assert(!facts->encrypted, "0x16 0x03 inside a chunk is content");
        cr_assert(facts->quit_seen);
        cr_assert_eq(facts->invalid_commands, 0);
    }
    assert_same_facts(&bytewise.facts, &whole.facts, "bdat bytewise");
}

Test(smtp, bdat_zero_last_and_bad_size)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "BDAT 0 LAST\r\nQUIT\r\n");
    cr_assert_eq(session.facts.data_count, 1);
    cr_assert(session.facts.quit_seen, "an empty chunk leaves command mode at once");

    smtp_session_init(&session);
    client(&session, "BDAT 99999999999\r\nBDAT x\r\nBDAT 5 FIRST\r\nQUIT\r\n");
    cr_assert_eq(session.facts.data_count, 0, "malformed BDAT sizes start no chunk");
    cr_assert(session.facts.quit_seen);
}

Test(smtp, bdat_gap_resyncs_on_next_command)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d>\r\nBDAT 100000\r\nsome chunk");
    smtp_client_gap(&session);
    client(&session, "more chunk\r\nData for you\r\nHELP me\r\nrandom\r\n");
    cr_assert_eq(session.client_mode, SMTP_CLIENT_RESYNC);
    cr_assert_eq(session.facts.data_count, 1, "\"Data for you\" is no well-formed DATA");
    cr_assert_eq(session.facts.invalid_commands, 0, "skipped chunk lines are not counted");
    client(&session, "QUIT\r\n");
    cr_assert(session.facts.quit_seen);
    cr_assert_eq(session.client_mode, SMTP_CLIENT_COMMAND);
    client(&session, "NOOP\r\n");
    cr_assert_eq(session.facts.invalid_commands, 0);
}

Test(smtp, helo_after_refused_ehlo_is_kept)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 old.example SMTP\r\n");
    client(&session, "EHLO first.example\r\n");
    server(&session, "500 5.5.1 Command unrecognized\r\n");
    client(&session, "HELO second.example\r\n");
    server(&session, "250 old.example\r\n");
    cr_assert(session.facts.helo_seen);
    cr_assert(!session.facts.ehlo, "the last one was HELO");
    cr_assert_eq(session.facts.helo_count, 2);
    cr_assert_str_eq(session.facts.helo, "second.example");
    cr_assert_eq(session.facts.replies_5xx, 1);
    cr_assert_eq(session.facts.invalid_commands, 0);
}

Test(smtp, helo_argument_is_sanitised_and_truncated)
{
    struct smtp_session session;
    smtp_session_init(&session);
    static const uint8_t helo[] = "HELO   ab\x01"
                                  "c\x7f\xc3\xa9"
                                  "d\t[0.0.0.0] extra words\r\n";
    smtp_client_bytes(&session, helo, sizeof(helo) - 1);
    cr_assert_str_eq(session.facts.helo, "ab?c???d?[0.0.0.0]");

    char long_helo[400];
    memset(long_helo, 0, sizeof(long_helo));
    strcpy(long_helo, "EHLO ");
    memset(long_helo + 5, 'h', 300);
    strcat(long_helo, "\r\n");
    client(&session, long_helo);
    cr_assert_eq(strlen(session.facts.helo), SMTP_HELO_MAX - 1);
    cr_assert_eq(session.facts.helo[0], 'h');
    cr_assert(session.facts.ehlo);
    cr_assert_eq(session.facts.long_lines, 0, "305 bytes is within the line limit");

    client(&session, "HELO\r\n");
    cr_assert_str_eq(session.facts.helo, "", "a bare HELO is still a HELO");
    cr_assert_eq(session.facts.helo_count, 3);
}

Test(smtp, long_lines_keep_their_start)
{
    struct smtp_session session;
    smtp_session_init(&session);
    char line[SMTP_LINE_MAX + 200];
    int prefix = snprintf(line, sizeof(line), "MAIL FROM:<a@long.example> ");
    memset(line + prefix, 'x', sizeof(line) - (size_t)prefix - 3);
    memcpy(line + sizeof(line) - 3, "\r\n", 3);
    client(&session, line);
    cr_assert_eq(session.facts.long_lines, 1);
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_str_eq(session.facts.mail_from_domain, "long.example");
    client(&session, "QUIT\r\n");
    cr_assert(session.facts.quit_seen, "the dropped tail did not swallow the next line");
    cr_assert_eq(session.facts.invalid_commands, 0);

    /* Exactly SMTP_LINE_MAX bytes, with the CR alone in its own segment: not long. */
    smtp_session_init(&session);
    char exact[SMTP_LINE_MAX + 1];
    memcpy(exact, "NOOP ", 5);
    memset(exact + 5, 'y', SMTP_LINE_MAX - 5);
    exact[SMTP_LINE_MAX] = '\0';
    client(&session, exact);
    client(&session, "\r");
    client(&session, "\n");
    cr_assert_eq(session.facts.long_lines, 0);
    client(&session, exact);
    client(&session, "z\r\n");
    cr_assert_eq(session.facts.long_lines, 1, "one byte over is long");

    /* Server side too, and the line still counts as a reply. */
    smtp_session_init(&session);
    char reply[SMTP_LINE_MAX * 2];
    memcpy(reply, "220 ", 4);
    memset(reply + 4, 'r', sizeof(reply) - 7);
    memcpy(reply + sizeof(reply) - 3, "\r\n", 3);
    server(&session, reply);
    cr_assert_eq(session.facts.long_lines, 1);
    cr_assert(session.facts.banner_seen);
    cr_assert_eq(strlen(session.facts.banner), SMTP_BANNER_MAX - 1);
}

Test(smtp, binary_garbage_is_invalid_and_keeps_replies_aligned)
{
    /* Like the third flow of suricata smtp-errors: binary bytes answered with 500s. */
    static const uint8_t garbage[] = {0x67, 0x09, 0xe4, 0x59, 0xe9, 0x58, 0x48, 0xcf, 0x0a,
                                      0x5c, 0x0c, 0x37, 0x00, 0x72, 0xd1, 0x8b, 0x0d, 0x0a,
                                      0x0a, 'M',  'A',  'I',  'L',  ' ',  'F',  'R',  'O',
                                      'M',  ':',  '<',  'a',  '@',  'b',  '>',  '\r', '\n'};
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 www.example.jp ESMTP Sendmail\r\n");
    smtp_client_bytes(&session, garbage, sizeof(garbage));
    cr_assert_eq(session.facts.invalid_commands, 3, "two binary lines and an empty line");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert(!session.facts.helo_seen);
    server(&session, "500 5.5.1 Command unrecognized: \"g.\"\r\n"
                     "500 5.5.1 Command unrecognized: \"\\.7\"\r\n"
                     "500 5.5.1 Command unrecognized: \"\"\r\n"
                     "250 2.1.0 sender ok\r\n");
    cr_assert_eq(session.facts.mail_accepted, 1, "the 250 meets the MAIL behind the junk");
    cr_assert_eq(session.facts.replies_5xx, 3);
}

Test(smtp, invalid_replies_are_counted_and_skipped)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b>\r\n");
    server(&session, "hello there\r\n25\r\n250x ok\r\n\r\n");
    cr_assert_eq(session.facts.invalid_replies, 4);
    cr_assert_eq(session.facts.mail_accepted, 0);
    server(&session, "250 ok\r\n");
    cr_assert_eq(session.facts.mail_accepted, 1);
    cr_assert_eq(session.facts.last_reply_code, 250);
}

Test(smtp, mail_from_forms)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "MAIL FROM:<> SIZE=1000\r\n");
    cr_assert(session.facts.mail_from_null);
    cr_assert_str_eq(session.facts.mail_from_domain, "");

    smtp_session_init(&session);
    client(&session, "mail from:user@Host.Example.COM SIZE=10\r\n");
    cr_assert(!session.facts.mail_from_null);
    cr_assert_str_eq(session.facts.mail_from_domain, "host.example.com");

    smtp_session_init(&session);
    client(&session, "MAIL FROM: <splotch@GEZYDB01.apis.dhl.com> \r\n");
    cr_assert_str_eq(session.facts.mail_from_domain, "gezydb01.apis.dhl.com");
    client(&session, "MAIL FROM:<second@other.example>\r\n");
    cr_assert_eq(session.facts.mail_count, 2);
    cr_assert_str_eq(session.facts.mail_from_domain, "gezydb01.apis.dhl.com", "first one kept");

    smtp_session_init(&session);
    client(&session, "MAIL FROM:<@relay.example:user@final.example>\r\n");
    cr_assert_str_eq(session.facts.mail_from_domain, "final.example", "source route skipped");

    smtp_session_init(&session);
    client(&session, "MAIL FROM:<postmaster>\r\nMAIL TO:<x@y>\r\n");
    cr_assert_str_eq(session.facts.mail_from_domain, "");
    cr_assert_eq(session.facts.mail_count, 1, "MAIL without FROM: is a 501, not a MAIL FROM");
    cr_assert_eq(session.facts.invalid_commands, 0);
}

Test(smtp, client_gap_mid_line_resynchronises)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d");
    smtp_client_gap(&session);
    client(&session, "ample>\r\nRCPT TO:<e@f.example>\r");
    client(&session, "\nQUIT\r\n");
    cr_assert_eq(session.facts.gaps, 1);
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.rcpt_count, 2,
                 "the line the gap cut began as an RCPT TO; the one after the gap counts too");
    cr_assert_eq(session.facts.invalid_commands, 0, "the torn tail is dropped, not judged");
    cr_assert(session.facts.quit_seen);
    cr_assert(session.facts.commands_unseen, "the gap may have held commands");
}

Test(smtp, server_gap_mid_line_resynchronises)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "NOOP\r\n");
    server(&session, "250 o");
    smtp_server_gap(&session);
    server(&session, "k\r\n");
    client(&session, "MAIL FROM:<a@b>\r\n");
    server(&session, "250 ok\r\n");
    cr_assert_eq(session.facts.invalid_replies, 0);
    cr_assert_eq(session.facts.mail_accepted, 1);
    cr_assert_eq(session.facts.gaps, 1);
    cr_assert_eq(session.facts.last_reply_code, 250);
}

Test(smtp, lost_end_of_data_is_inferred_from_the_reply)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    server(&session, "250 ok\r\n250 ok\r\n354 go\r\n");
    client(&session, "Subject: x\r\n\r\nbody\r\n");
    smtp_client_gap(&session);
    client(&session, "tail of the body\r\n");
    cr_assert_eq(session.client_mode, SMTP_CLIENT_DATA, "a gap keeps the body");
    server(&session, "250 2.0.0 queued\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1);
    client(&session, "QUIT\r\n");
    cr_assert(session.facts.quit_seen);
}

Test(smtp, replies_realign_on_codes_only_one_command_gets)
{
    /* suricata detect-email-received: the greeting lacks its CRLF, so it swallows the EHLO
     * reply and every later reply is one command late until 354 puts DATA back in step. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 smtpblah.mailserver.xxx.com ESMTP AAAAAAAAA");
    client(&session, "EHLO Simone\r\n");
    server(&session, "250-smtp001.mail.xxx.xxxxx.com\r\n");
    cr_assert(session.facts.banner_seen);
    client(&session, "MAIL FROM: <xxxxxx@xxxxx.co.uk>\r\n");
    server(&session, "250 ok\r\n");
    client(&session, "RCPT TO: <xxxxx@aba.com>\r\n");
    server(&session, "250 ok\r\n");
    client(&session, "DATA\r\n");
    server(&session, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    cr_assert_eq(session.facts.data_accepted, 1, "354 went to DATA, not to the late RCPT");
    client(&session, "Subject: Test Email\r\n\r\nHello\r\n.\r\n");
    server(&session, "250 ok: queued as 12345\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1);
    client(&session, "QUIT\r\n");
    server(&session, "221 smtp001.mail.xxx.xxxxx.com\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1, "the 221 is no message acceptance");
    cr_assert_eq(session.pending_count, 0);

    /* 221 skips to QUIT, 235 to AUTH. */
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "NOOP\r\nAUTH PLAIN AGEAYg==\r\n");
    server(&session, "235 ok\r\n");
    cr_assert(session.facts.auth_success);
    client(&session, "MAIL FROM:<a@b>\r\nQUIT\r\n");
    server(&session, "221 bye\r\n");
    cr_assert_eq(session.pending_count, 0);
    cr_assert_eq(session.facts.mail_accepted, 0);
}

Test(smtp, pipelined_recipients_beyond_the_ring_are_all_answered)
{
    /* Postfix takes 50 recipients by default (smtpd_recipient_limit is 1000, but
     * default_destination_recipient_limit 50): a bot pipelines that many and more. */
    static const int counts[] = {31, 32, 50, 100, 1000, 70000};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        struct smtp_session session;
        smtp_session_init(&session);
        server(&session, "220 mx\r\n");
        client(&session, "EHLO bot.example\r\n");
        server(&session, "250-mx\r\n250 PIPELINING\r\n");
        client(&session, "MAIL FROM:<a@b.example>\r\n");
        char rcpt[64];
        for (int i = 0; i < counts[c]; i++) {
            snprintf(rcpt, sizeof(rcpt), "RCPT TO:<user%d@d.example>\r\n", i);
            client(&session, rcpt);
        }
        client(&session, "DATA\r\n");
        cr_assert_eq(pending_commands(&session), (uint64_t)counts[c] + 2);
        cr_assert_eq(session.pending_dropped, 0, "%d recipients fit", counts[c]);
        server(&session, "250 ok\r\n");
        for (int i = 0; i < counts[c]; i++)
            server(&session, i % 10 == 9 ? "550 no such user\r\n" : "250 ok\r\n");
        server(&session, "354 go\r\n");
        cr_assert_eq(session.facts.rcpt_count, (uint32_t)counts[c]);
        cr_assert_eq(session.facts.rcpt_rejected, (uint32_t)(counts[c] / 10));
        cr_assert_eq(session.facts.rcpt_accepted, (uint32_t)(counts[c] - counts[c] / 10));
        cr_assert_eq(session.facts.mail_accepted, 1);
        cr_assert_eq(session.facts.data_accepted, 1, "354 answered DATA, after %d RCPT", counts[c]);
        cr_assert_eq(pending_commands(&session), 0);
        cr_assert(!session.facts.commands_unseen);
    }
}

Test(smtp, pending_ring_overflow_stays_aligned)
{
    /* Runs of one kind share a slot: only commands that alternate kinds can fill the ring,
     * and what queues behind it is answered in turn but not attributed. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b.example>\r\n");
    server(&session, "250 ok\r\n");
    const int pairs = SMTP_PENDING_MAX / 2 + 4;
    char line[64];
    for (int i = 0; i < pairs; i++) {
        snprintf(line, sizeof(line), "RCPT TO:<user%d@d.example>\r\nNOOP\r\n", i);
        client(&session, line);
    }
    cr_assert_eq(session.facts.rcpt_count, (uint32_t)pairs);
    cr_assert_eq(session.pending_count, SMTP_PENDING_MAX);
    cr_assert_eq(session.pending_dropped, 8);
    for (int i = 0; i < pairs * 2 - 3; i++)
        server(&session, "250 ok\r\n");
    /* A command sent while three replies are still owed queues behind them. */
    client(&session, "MAIL FROM:<c@d.example>\r\n");
    server(&session, "250 ok\r\n250 ok\r\n250 ok\r\n");
    cr_assert_eq(session.facts.mail_accepted, 1);
    server(&session, "503 5.5.1 nested MAIL\r\n");
    cr_assert_eq(session.facts.mail_accepted, 1, "the 503 answered the second MAIL");
    cr_assert_eq(session.facts.rcpt_accepted, SMTP_PENDING_MAX / 2,
                 "replies beyond the ring not attributed");
    cr_assert_eq(session.facts.rcpt_rejected, 0);
    cr_assert_eq(session.pending_count, 0);
    cr_assert_eq(session.pending_overflow, 0);
    client(&session, "RSET\r\nMAIL FROM:<e@f.example>\r\n");
    server(&session, "250 reset\r\n250 ok\r\n");
    cr_assert_eq(session.facts.mail_accepted, 2, "back to normal attribution");
}

Test(smtp, data_rejected_before_body)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    server(&session, "250 ok\r\n550 no such user\r\n554 5.5.1 Error: no valid recipients\r\n");
    cr_assert_eq(session.client_mode, SMTP_CLIENT_COMMAND);
    client(&session, "QUIT\r\n");
    cr_assert(session.facts.quit_seen, "QUIT after a refused DATA is a command");
    cr_assert_eq(session.facts.data_count, 1);
    cr_assert_eq(session.facts.data_accepted, 0);
    cr_assert_eq(session.facts.messages_accepted, 0);
    cr_assert_eq(session.facts.replies_5xx, 2);
}

Test(smtp, body_sent_after_data_rejection_is_read_as_commands)
{
    /* zeek smtp-mail-transactions-invalid: the server treats the unwanted body as commands
     * and answers each line 500. The sensor reads it the same way: each line is an invalid
     * command (or the command it spells), so replies stay aligned. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 tinkyx390 ESMTP Exim\r\n");
    client(&session, "MAIL FROM:<bob@example.org>\r\n");
    server(&session, "250 OK\r\n");
    client(&session, "DATA\r\n");
    server(&session, "503 valid RCPT command must precede DATA\r\n");
    client(&session, "Hello, Alice (2)\r\n");
    server(&session, "500 unrecognized command\r\n");
    client(&session, ".\r\n");
    server(&session, "500 unrecognized command\r\n");
    cr_assert_eq(session.facts.invalid_commands, 2);
    client(&session, "RCPT TO:<alice@example.org>\r\n");
    server(&session, "250 Accepted\r\n");
    cr_assert_eq(session.facts.rcpt_accepted, 1, "still aligned after the body lines");
    cr_assert_eq(session.facts.messages_accepted, 0);
    cr_assert_eq(session.facts.replies_5xx, 3);
}

Test(smtp, body_already_under_way_when_data_is_rejected)
{
    /* A bot that does not wait for 354: its body bytes precede the rejection, so it stays in
     * the body until "."; a "MAIL FROM" in there is not a command. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    client(&session, "Subject: spam\r\n");
    server(&session, "250 ok\r\n250 ok\r\n554 5.7.1 go away\r\n");
    client(&session, "MAIL FROM:<other@x.example>\r\n.\r\nQUIT\r\n");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.invalid_commands, 0);
    cr_assert(session.facts.quit_seen);
    server(&session, "500 5.5.1 unrecognized\r\n221 bye\r\n");
    cr_assert_eq(session.facts.messages_accepted, 0);
    cr_assert_eq(session.facts.data_accepted, 0);
}

Test(smtp, known_commands_and_junk)
{
    struct smtp_session session;
    smtp_session_init(&session);
    client(&session, "NOOP\r\nVRFY root\r\nEXPN list\r\nHELP\r\nETRN example\r\nTURN\r\nATRN\r\n"
                     "XCLIENT ADDR=1.2.3.4\r\nXFORWARD NAME=x\r\nRSET\r\n");
    cr_assert_eq(session.facts.invalid_commands, 0);
    cr_assert_eq(pending_commands(&session), 10, "each known command waits for its reply");
    cr_assert_eq(session.pending_count, 1, "one run of commands whose replies change nothing");
    client(&session, "GET / HTTP/1.1\r\nMAILFROM:<a@b>\r\n EHLO x\r\n\r\n");
    cr_assert_eq(session.facts.invalid_commands, 4);
    cr_assert(!session.facts.helo_seen);
    cr_assert_eq(session.facts.mail_count, 0);
    cr_assert_eq(pending_commands(&session), 14);
}

Test(smtp, bare_line_feeds)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\n250-mx\n");
    client(&session, "EHLO c\nMAIL FROM:<a@b.example>\nDATA\nx\n.\nQUIT\n");
    cr_assert_str_eq(session.facts.helo, "c");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.client_mode, SMTP_CLIENT_COMMAND);
    cr_assert(session.facts.quit_seen);
}

/* Fuzz: streams built from SMTP-ish tokens and raw bytes, cut at random, with gaps. */
static const char *const fuzz_tokens[] = {
    "EHLO ",    "HELO ", "MAIL FROM:<", "RCPT TO:", "DATA",     "BDAT ",        " LAST",    "AUTH ",
    "STARTTLS", "QUIT",  "RSET",        "@",        ">",        "<>",           ".",        "..",
    "\r\n",     "\n",    "\r",          " ",        ":",        "220 ",         "250-",     "250 ",
    "334 ",     "354 ",  "235 ",        "535 ",     "AUTH",     "STARTTLS\r\n", "\x16\x03", "7",
    "12",       "0",     "x",           "LOGIN",    "dXNlcg==", "\r\n.\r\n",
};

static void check_string(const char *text, size_t capacity)
{
    const char *end = memchr(text, '\0', capacity);
    cr_assert_not_null(end, "string not terminated");
    for (const char *c = text; c < end; c++)
        cr_assert((unsigned char)*c >= 0x20 && (unsigned char)*c <= 0x7e, "unprintable byte");
}

static void check_invariants(const struct smtp_session *session, const struct smtp_facts *before)
{
    const struct smtp_facts *now = &session->facts;
    check_string(now->banner, sizeof(now->banner));
    check_string(now->helo, sizeof(now->helo));
    check_string(now->auth_mechanism, sizeof(now->auth_mechanism));
    check_string(now->mail_from_domain, sizeof(now->mail_from_domain));
    cr_assert_leq(session->pending_count, SMTP_PENDING_MAX);
    cr_assert_lt(session->pending_head, SMTP_PENDING_MAX);
    cr_assert_leq(session->client_line.length, SMTP_LINE_MAX);
    cr_assert_leq(session->server_line.length, SMTP_LINE_MAX);
    cr_assert_leq(session->client_mode, SMTP_CLIENT_RESYNC);
#define NEVER_DECREASES(field) cr_assert_geq(now->field, before->field, #field " went down")
    NEVER_DECREASES(helo_count);
    NEVER_DECREASES(mail_count);
    NEVER_DECREASES(mail_accepted);
    NEVER_DECREASES(rcpt_count);
    NEVER_DECREASES(rcpt_accepted);
    NEVER_DECREASES(rcpt_rejected);
    NEVER_DECREASES(data_count);
    NEVER_DECREASES(data_accepted);
    NEVER_DECREASES(messages_accepted);
    NEVER_DECREASES(replies_4xx);
    NEVER_DECREASES(replies_5xx);
    NEVER_DECREASES(invalid_commands);
    NEVER_DECREASES(invalid_replies);
    NEVER_DECREASES(long_lines);
    NEVER_DECREASES(gaps);
    /* Flags that record something seen stay set. */
    NEVER_DECREASES(banner_seen);
    NEVER_DECREASES(helo_seen);
    NEVER_DECREASES(ehlo_offers_auth);
    NEVER_DECREASES(ehlo_offers_starttls);
    NEVER_DECREASES(auth_attempted);
    NEVER_DECREASES(auth_success);
    NEVER_DECREASES(auth_failed);
    NEVER_DECREASES(starttls_requested);
    NEVER_DECREASES(starttls_accepted);
    NEVER_DECREASES(encrypted);
    NEVER_DECREASES(mail_from_null);
    NEVER_DECREASES(quit_seen);
#undef NEVER_DECREASES
    if (before->banner_seen)
        cr_assert_eq(now->banner_code, before->banner_code, "the banner is set once");
    if (before->mail_count > 0)
        cr_assert_str_eq(now->mail_from_domain, before->mail_from_domain);
}

static size_t fuzz_stream(uint8_t *stream, size_t capacity)
{
    size_t length = 0;
    while (length < capacity) {
        uint32_t choice = random_next() % 100;
        if (choice < 60) {
            const char *token = fuzz_tokens[random_next() % COUNT_OF(fuzz_tokens)];
            size_t token_length = strlen(token);
            if (token_length > capacity - length)
                break;
            memcpy(stream + length, token, token_length);
            length += token_length;
        } else if (choice < 97) {
            stream[length++] = (uint8_t)random_next();
        } else {
            /* Now and then a line longer than the limit. */
            size_t run = SMTP_LINE_MAX + random_next() % 64;
            if (run > capacity - length)
                run = capacity - length;
            memset(stream + length, 'A' + (int)(random_next() % 26), run);
            length += run;
        }
    }
    return length;
}

Test(smtp, fuzz_invariants)
{
    static uint8_t client_stream[8192];
    static uint8_t server_stream[8192];
    random_state = 20240601;
    for (int round = 0; round < 400; round++) {
        size_t client_length = fuzz_stream(client_stream, 256 + random_next() % 7936);
        size_t server_length = fuzz_stream(server_stream, 256 + random_next() % 7936);
        struct smtp_session session;
        smtp_session_init(&session);
        size_t client_at = 0, server_at = 0;
        while (client_at < client_length || server_at < server_length) {
            bool from_client =
                (random_next() & 1) ? client_at < client_length : server_at >= server_length;
            const uint8_t *stream = from_client ? client_stream : server_stream;
            size_t *at = from_client ? &client_at : &server_at;
            size_t left = (from_client ? client_length : server_length) - *at;
            size_t chunk = 1 + random_next() % 300;
            if (chunk > left)
                chunk = left;
            struct smtp_facts before = session.facts;
            if (random_next() % 50 == 0) {
                if (from_client)
                    smtp_client_gap(&session);
                else
                    smtp_server_gap(&session);
                check_invariants(&session, &before);
                before = session.facts;
            }
            feed(&session, from_client, stream + *at, chunk);
            *at += chunk;
            check_invariants(&session, &before);
        }
    }
}

Test(smtp, empty_input_changes_nothing)
{
    struct smtp_session session, fresh;
    smtp_session_init(&session);
    smtp_session_init(&fresh);
    smtp_client_bytes(&session, (const uint8_t *)"", 0);
    smtp_server_bytes(&session, (const uint8_t *)"", 0);
    assert_same_facts(&session.facts, &fresh.facts, "empty");
}

Test(smtp, client_gap_at_line_start_keeps_next_command)
{
    /* A whole MAIL segment lost on the mirror: the RCPT segment after the hole counts. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO a.example\r\n");
    server(&session, "250 mx\r\n");
    smtp_client_gap(&session);
    server(&session, "250 Ok\r\n");
    client(&session, "RCPT TO:<e@f.example>\r\n");
    server(&session, "250 Ok\r\n");
    cr_assert_eq(session.facts.rcpt_count, 1);
    cr_assert_eq(session.facts.gaps, 1);
    cr_assert_eq(session.facts.invalid_commands, 0);
}

Test(smtp, server_gap_at_line_start_keeps_next_reply)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO a.example\r\n");
    smtp_server_gap(&session);
    client(&session, "MAIL FROM:<a@b>\r\n");
    server(&session, "250 ok\r\n");
    cr_assert_eq(session.facts.last_reply_code, 250);
    cr_assert_eq(session.facts.invalid_replies, 0);
}

Test(smtp, joined_midway_skips_torn_first_line)
{
    struct smtp_session session;
    smtp_session_init(&session);
    smtp_client_joined(&session);
    client(&session, "OM:<x@y.example>\r\nRCPT TO:<late@mx.example>\r\n");
    cr_assert_eq(session.facts.mail_count, 0);
    cr_assert_eq(session.facts.rcpt_count, 1);
    cr_assert_eq(session.facts.invalid_commands, 0);
    cr_assert_eq(session.facts.gaps, 0);
}

/* ---- Bytes cut off by the snap length: known length, not seen ---- */

Test(smtp, cut_body_keeps_commands_and_their_answers)
{
    /* The issue's capture: every command fits the snap length, the body does not, and its
     * final "." is among the bytes cut off; the server's 250 shows where the body ended. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx.example.net ESMTP ready\r\n");
    client(&session, "EHLO laptop.example\r\n");
    server(&session, "250-mx.example.net\r\n250 PIPELINING\r\n");
    client(&session, "MAIL FROM:<offers@cheap.example>\r\n");
    server(&session, "250 2.1.0 Ok\r\n");
    for (int i = 0; i < 3; i++) {
        client(&session, "RCPT TO:<victim@mx.example.net>\r\n");
        server(&session, "250 2.1.5 Ok\r\n");
    }
    client(&session, "DATA\r\n");
    server(&session, "354 go ahead\r\n");
    client(&session, "Subject: cheap pills\r\nFrom: a\r\nTo: b\r\n\r\nBuy now, bu");
    smtp_client_missing(&session, 1100);
    server(&session, "250 2.0.0 Ok: queued as 4F2A1\r\n");
    client(&session, "QUIT\r\n");
    server(&session, "221 2.0.0 Bye\r\n");
    const struct smtp_facts *facts = &session.facts;
    cr_assert(facts->banner_seen);
    cr_assert_str_eq(facts->banner, "mx.example.net ESMTP ready");
    cr_assert_eq(facts->rcpt_count, 3);
    cr_assert_eq(facts->rcpt_accepted, 3);
    cr_assert_eq(facts->data_count, 1);
    cr_assert_eq(facts->messages_accepted, 1);
    cr_assert(facts->quit_seen, "the client sent QUIT after the 250, at a line start");
    cr_assert(!facts->commands_unseen, "only body bytes were cut");
    cr_assert(!facts->rcpt_answers_unseen && !facts->message_answers_unseen);
    cr_assert_eq(facts->gaps, 1);
    cr_assert_eq(pending_commands(&session), 0);
}

Test(smtp, cut_ehlo_reply_never_makes_a_banner_and_keeps_later_answers)
{
    /* snaplen 96: the EHLO reply loses its last lines; the MAIL reply that follows in a
     * segment of its own is a reply to MAIL, not a greeting. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx.example.net ESMTP ready\r\n");
    client(&session, "EHLO laptop.example\r\n");
    server(&session, "250-mx.example.net\r\n250-PIPELINING\r\n250-ST");
    smtp_server_missing(&session, 22);
    client(&session, "MAIL FROM:<offers@cheap.example>\r\n");
    server(&session, "250 2.1.0 Ok\r\n");
    client(&session, "RCPT TO:<a@mx.example.net>\r\n");
    server(&session, "550 5.1.1 no\r\n");
    const struct smtp_facts *facts = &session.facts;
    cr_assert_eq(facts->banner_code, 220);
    cr_assert_str_eq(facts->banner, "mx.example.net ESMTP ready");
    cr_assert_eq(facts->mail_accepted, 1);
    cr_assert_eq(facts->rcpt_rejected, 1);
    cr_assert(!facts->mail_answers_unseen && !facts->rcpt_answers_unseen,
              "only the EHLO's answer was cut");
    cr_assert(!facts->commands_unseen);
    cr_assert_eq(facts->invalid_replies, 0);
}

Test(smtp, a_reply_after_unseen_server_bytes_is_no_banner)
{
    /* The greeting itself was lost: a 250 after the hole answers something, it does not
     * greet (the issue: "banner": "2.1.0 Ok"). */
    struct smtp_session session;
    smtp_session_init(&session);
    smtp_server_gap(&session);
    client(&session, "EHLO a.example\r\n");
    server(&session, "250 2.1.0 Ok\r\n");
    cr_assert(!session.facts.banner_seen);
    cr_assert_eq(session.facts.last_reply_code, 250);

    /* A 220 with no STARTTLS waiting can only be the greeting. */
    smtp_session_init(&session);
    smtp_server_joined(&session);
    client(&session, "EHLO a.example\r\n");
    server(&session, "220 mx ESMTP\r\n250 mx\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert_eq(session.facts.banner_code, 220);
    cr_assert_str_eq(session.facts.banner, "mx ESMTP");

    /* Unless commands went unseen: it may answer a STARTTLS the capture did not show. */
    smtp_session_init(&session);
    smtp_client_joined(&session);
    smtp_server_joined(&session);
    server(&session, "220 2.0.0 Ready to start TLS\r\n");
    cr_assert(!session.facts.banner_seen);
}

Test(smtp, cut_banner_gives_its_code_not_its_text)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx.exa");
    smtp_server_missing(&session, 40);
    client(&session, "EHLO a.example\r\n");
    server(&session, "250 mx\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert(session.facts.banner_cut);
    cr_assert_eq(session.facts.banner_code, 220);
    cr_assert_str_eq(session.facts.banner, "");
    cr_assert_eq(session.facts.last_reply_code, 250);

    /* Too little captured to tell a reply: nothing is counted, nothing judged invalid. */
    smtp_session_init(&session);
    server(&session, "22");
    smtp_server_missing(&session, 40);
    cr_assert(!session.facts.banner_seen);
    cr_assert_eq(session.facts.invalid_replies, 0);
    cr_assert_eq(session.facts.last_reply_code, 0);
}

Test(smtp, cut_multiline_banner_is_still_the_banner)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220-mx.example.net ESMTP\r\n220-you are welc");
    smtp_server_missing(&session, 30);
    client(&session, "EHLO a.example\r\n");
    server(&session, "250 mx\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert(!session.facts.banner_cut, "its first line was whole");
    cr_assert_str_eq(session.facts.banner, "mx.example.net ESMTP");
    cr_assert_eq(session.facts.last_reply_code, 250);
}

Test(smtp, cut_command_lines_count_their_verb_not_their_text)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO laptop.ho");
    smtp_client_missing(&session, 10);
    const struct smtp_facts *facts = &session.facts;
    cr_assert_eq(facts->helo_count, 1);
    cr_assert(!facts->helo_seen, "the name was cut: not known");
    cr_assert_str_eq(facts->helo, "");
    cr_assert(facts->commands_unseen);
    server(&session, "250 mx\r\n");
    client(&session, "MAIL FROM:<offers@ch");
    smtp_client_missing(&session, 20);
    cr_assert_eq(facts->mail_count, 1);
    cr_assert_str_eq(facts->mail_from_domain, "", "the domain was cut");
    client(&session, "RCPT TO:<a@b>\r\n");
    cr_assert_eq(facts->rcpt_count, 1, "a segment after the cut starts with a command");
    client(&session, "AUTH PLA");
    smtp_client_missing(&session, 20);
    cr_assert(facts->auth_attempted);
    cr_assert_str_eq(facts->auth_mechanism, "", "the mechanism may go on");
    client(&session, "XYZ");
    smtp_client_missing(&session, 20);
    cr_assert_eq(facts->invalid_commands, 0, "a cut verb is not judged");
    server(&session, "250 ok\r\n250 ok\r\n");
    cr_assert_eq(facts->mail_accepted, 1);
    cr_assert_eq(facts->rcpt_accepted, 1);
}

Test(smtp, cut_pipelined_group_leaves_commands_unseen)
{
    /* The segment held MAIL, three RCPT and DATA; only the first 10 bytes were captured. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:");
    smtp_client_missing(&session, 120);
    server(&session, "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_eq(session.facts.rcpt_count, 0, "a lower bound");
    cr_assert(session.facts.commands_unseen);
}

Test(smtp, missing_bytes_inside_a_bdat_chunk_keep_its_end)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "BDAT 100 LAST\r\n0123456789");
    smtp_client_missing(&session, 90);
    client(&session, "QUIT\r\n");
    server(&session, "250 ok\r\n221 bye\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1);
    cr_assert(session.facts.quit_seen);
    cr_assert(!session.facts.commands_unseen, "the chunk's end was counted exactly");

    /* More missing than the chunk holds: commands may follow it unseen. */
    smtp_session_init(&session);
    client(&session, "BDAT 10 LAST\r\n0123");
    smtp_client_missing(&session, 40);
    cr_assert(session.facts.commands_unseen);
    cr_assert_eq(session.client_mode, SMTP_CLIENT_RESYNC);
    client(&session, "QUIT\r\n");
    cr_assert(session.facts.quit_seen);

    /* A BDAT line cut in its size: the chunk cannot be followed. */
    smtp_session_init(&session);
    client(&session, "BDAT 12");
    smtp_client_missing(&session, 5000);
    cr_assert_eq(session.facts.data_count, 1);
    cr_assert(session.facts.message_answers_unseen);
    cr_assert_eq(session.client_mode, SMTP_CLIENT_RESYNC);
}

Test(smtp, server_bytes_unseen_forget_the_waiting_answers)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n");
    server(&session, "250 ok\r\n250 ok\r\n25");
    smtp_server_missing(&session, 30);
    cr_assert(session.facts.rcpt_answers_unseen);
    cr_assert(session.facts.message_answers_unseen);
    cr_assert(!session.facts.mail_answers_unseen, "MAIL's answer was seen");
    cr_assert(session.facts.last_reply_unseen);
    /* The answers that were not in the unseen bytes come now: they answer nothing seen. */
    server(&session, "354 go\r\n");
    cr_assert(!session.facts.commands_unseen, "owed to the forgotten commands");
    cr_assert(!session.facts.last_reply_unseen);
    client(&session, "body\r\n.\r\n");
    server(&session, "250 queued\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1, "attribution resumes with the next command");
    cr_assert_eq(session.facts.rcpt_accepted, 1);
}

Test(smtp, a_reply_to_no_command_seen_shows_commands_unseen)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO a.example\r\n");
    server(&session, "250 mx\r\n421 4.4.2 timeout\r\n");
    cr_assert(!session.facts.commands_unseen, "421 may come at any time");
    server(&session, "250 ok\r\n");
    cr_assert(session.facts.commands_unseen);

    /* A dot and a pipelined RSET among cut body bytes: the RSET's answer tells. */
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    server(&session, "250 ok\r\n250 ok\r\n354 go\r\n");
    client(&session, "Subject: x\r\n\r\nbo");
    smtp_client_missing(&session, 200);
    server(&session, "250 queued\r\n");
    cr_assert_eq(session.facts.messages_accepted, 1);
    cr_assert(!session.facts.commands_unseen);
    server(&session, "250 reset\r\n");
    cr_assert(session.facts.commands_unseen);
}

Test(smtp, joined_client_leaves_commands_unseen)
{
    struct smtp_session session;
    smtp_session_init(&session);
    smtp_client_joined(&session);
    cr_assert(session.facts.commands_unseen);
    client(&session, "MAIL FROM:<x@y.example>\r\n");
    cr_assert_eq(session.facts.mail_count, 1);
    cr_assert_str_eq(session.facts.mail_from_domain, "",
                     "not known to be the first MAIL FROM of the dialogue");
}

Test(smtp, nothing_missing_changes_nothing)
{
    struct smtp_session session, fresh;
    smtp_session_init(&session);
    smtp_session_init(&fresh);
    smtp_client_missing(&session, 0);
    smtp_server_missing(&session, 0);
    assert_same_facts(&session.facts, &fresh.facts, "nothing missing");
    cr_assert(!session.server_unseen);
}

Test(smtp, unseen_bytes_after_tls_change_nothing)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "STARTTLS\r\n");
    server(&session, "220 go\r\n");
    cr_assert(session.facts.encrypted);
    smtp_client_missing(&session, 500);
    smtp_server_missing(&session, 500);
    cr_assert(!session.facts.commands_unseen);
    cr_assert(!session.facts.last_reply_unseen);
}

Test(smtp, codes_outside_2xx_to_5xx_are_no_replies)
{
    /* RFC 5321 4.2.1: the first digit is 2 to 5. A "000-" line once read as a reply whose
     * code left "no reply under way" set; a "199" one gave a last reply the events cannot
     * carry. */
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "000-mx\r\n199 odd\r\n");
    cr_assert_eq(session.facts.invalid_replies, 2);
    cr_assert(!session.facts.banner_seen);
    cr_assert_str_eq(session.facts.banner, "");
    server(&session, "250 STAR");
    smtp_server_missing(&session, 20);
    cr_assert(session.facts.banner_seen);
    cr_assert(session.facts.banner_cut);
    cr_assert_str_eq(session.facts.banner, "");
    cr_assert_eq(session.facts.banner_code, 250);
}

/* ---- What the MSA abuse and cleartext AUTH findings read ---- */

/* No byte of a secret may stay anywhere in the session once its line is read. */
static bool session_holds(const struct smtp_session *session, const char *secret)
{
    const unsigned char *bytes = (const unsigned char *)session;
    size_t length = strlen(secret);
    for (size_t i = 0; i + length <= sizeof(*session); i++) {
        if (memcmp(bytes + i, secret, length) == 0)
            return true;
    }
    return false;
}

Test(smtp_credentials, plain_initial_response_is_seen_and_not_kept)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO c\r\n");
    server(&session, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    client(&session, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    cr_assert(session.facts.auth_credentials_sent);
    cr_assert_str_eq(session.facts.auth_mechanism, "PLAIN");
    cr_assert(!session_holds(&session, "AGFsaWNlAHNlY3JldA"), "the initial response is kept");
    server(&session, "535 5.7.8 Authentication credentials invalid\r\n");
    cr_assert_eq(session.facts.auth_rejected, 1);
    cr_assert(session.facts.auth_failed && !session.facts.auth_success);
}

Test(smtp_credentials, login_responses_are_seen_and_not_kept)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "AUTH LOGIN\r\n");
    cr_assert(!session.facts.auth_credentials_sent, "no response yet");
    server(&session, "334 VXNlcm5hbWU6\r\n");
    client(&session, "Ym9i\r\n");
    cr_assert(session.facts.auth_credentials_sent);
    server(&session, "334 UGFzc3dvcmQ6\r\n");
    /* A line in two segments: the first half waits in the line buffer, then both go. */
    client(&session, "aHVudGVy");
    client(&session, "Mg==\r\n");
    cr_assert(!session_holds(&session, "Ym9i"));
    cr_assert(!session_holds(&session, "aHVudGVy"));
    server(&session, "535 5.7.8 no\r\n");
    client(&session, "AUTH LOGIN\r\n");
    server(&session, "334 VXNlcm5hbWU6\r\n");
    client(&session, "*\r\n"); /* cancelled: no credential in this one */
    server(&session, "501 5.7.0 cancelled\r\n");
    cr_assert_eq(session.facts.auth_rejected, 1, "only 535 is a rejected credential");
    cr_assert_eq(session.pending_count, 0);
}

Test(smtp_credentials, no_response_no_credentials)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "AUTH PLAIN =\r\n"); /* RFC 4954 4: an empty initial response */
    cr_assert(!session.facts.auth_credentials_sent);
    server(&session, "538 5.7.11 Encryption required\r\n");
    cr_assert(!session.facts.auth_credentials_sent);
    cr_assert_eq(session.facts.auth_rejected, 0);
    cr_assert(session.facts.auth_failed);
}

Test(smtp_credentials, a_gap_in_an_auth_line_wipes_what_was_held)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "AUTH LOGIN\r\n");
    server(&session, "334 VXNlcm5hbWU6\r\n");
    client(&session, "c2VjcmV0dXNlcm5hbW");
    smtp_client_gap(&session);
    cr_assert(!session_holds(&session, "c2VjcmV0dXNlcm5hbW"));
}

/* RFC 4422 3.1: a name is 1 to 20 letters, digits, '-' and '_'. A client that puts its
 * credentials where the name goes leaves no mechanism. */
Test(smtp_credentials, only_a_mechanism_name_is_kept)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "AUTH cram-md5\r\n");
    cr_assert_str_eq(session.facts.auth_mechanism, "CRAM-MD5");
    server(&session, "334 PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4=\r\n");
    client(&session, "*\r\n");
    server(&session, "501 cancelled\r\n");
    client(&session, "AUTH AGFsaWNlAHNlY3JldA==\r\n");
    cr_assert_str_eq(session.facts.auth_mechanism, "");
    cr_assert(!session_holds(&session, "AGFsaWNlAHNlY3JldA"));
}

Test(smtp_quota, replies_421_and_452_are_counted)
{
    struct smtp_session session;
    smtp_session_init(&session);
    server(&session, "220 mx\r\n");
    client(&session, "EHLO c\r\n");
    server(&session, "250 mx\r\n");
    client(&session, "MAIL FROM:<a@b.example>\r\n");
    server(&session, "250 ok\r\n");
    client(&session, "RCPT TO:<x@y.example>\r\nRCPT TO:<z@y.example>\r\n");
    server(&session, "250 ok\r\n452-4.5.3 Too many recipients\r\n452 4.5.3 try later\r\n");
    client(&session, "QUIT\r\n");
    server(&session, "421 4.7.0 too many connections from you\r\n");
    cr_assert_eq(session.facts.replies_452, 1, "a multi-line reply is one");
    cr_assert_eq(session.facts.replies_421, 1);
    /* A greeting of 421 counts too: the connection limit, before any TLS. */
    smtp_session_init(&session);
    server(&session, "421 4.7.0 mx: too many connections, closing\r\n");
    cr_assert(session.facts.banner_seen);
    cr_assert_eq(session.facts.replies_421, 1);
}
