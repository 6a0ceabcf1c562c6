/* libFuzzer target for the SMTP dialogue parser (src/proto/smtp.c). The input is a list of
 * chunks, each one control byte and its bytes, so the fuzzer explores how the two directions, gaps
 * and segment boundaries interleave:
 *   bit 0     direction: 0 client, 1 server
 *   bits 1-2  what the capture missed: 0 nothing; 1 a gap in that direction before the chunk;
 *             2 the capture joined that direction midway (smtp_*_joined) before the chunk;
 *             3 the chunk's bytes were not captured: its length is reported missing
 *             (smtp_*_missing, a snap length's cut) and its bytes are not fed
 *   bits 3-7  the chunk length, an index into chunk_lengths (the last: the rest)
 * make_seeds.py writes real dialogues in this form, whole and as a snap length would cut
 * them, and long pipelines. After every call the facts are checked against what smtp.h
 * promises. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    CHUNK_SERVER = 0x01,
    CHUNK_UNSEEN_MASK = 0x06,
    CHUNK_GAP = 0x02,
    CHUNK_JOINED = 0x04,
    CHUNK_MISSING = 0x06,
    CHUNK_REST = 0, /* a length of 0 in the table: everything left */
};

/* Small sizes for byte-by-byte splits, and the line limit's edges (RFC 5321 4.5.3.1.4). */
static const uint16_t chunk_lengths[32] = {
    1,  2,   3,   4,   5,   6,   7,   8,   10,  12,  16,   20,   24,   32,   48,   64,
    96, 128, 192, 256, 384, 511, 512, 513, 514, 768, 1024, 1536, 2048, 4096, 8192, CHUNK_REST,
};

/* "Strings are NUL-terminated, printable ASCII only" */
FUZZ_CHECKER static void check_string(const char *text, size_t capacity, const char *name,
                                      int letter_case)
{
    const char *nul = memchr(text, '\0', capacity);
    if (nul == NULL)
        FUZZ_FAIL("%s is not NUL-terminated within its array", name);
    for (const char *c = text; c < nul; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            FUZZ_FAIL("%s holds byte 0x%02x", name, (unsigned char)*c);
        if ((letter_case < 0 && *c >= 'A' && *c <= 'Z') ||
            (letter_case > 0 && *c >= 'a' && *c <= 'z'))
            FUZZ_FAIL("%s is not in its letter case", name);
    }
}

#define COUNTER_DECREASED(field) (after->field < before->field)
#define FLAG_CLEARED(field) (before->field && !after->field)

/* Counters count up and "seen" facts stay seen: a dialogue cannot be unsaid. */
FUZZ_CHECKER static void check_monotonic(const struct smtp_facts *before,
                                         const struct smtp_facts *after)
{
    if (COUNTER_DECREASED(helo_count) || COUNTER_DECREASED(mail_count) ||
        COUNTER_DECREASED(mail_accepted) || COUNTER_DECREASED(rcpt_count) ||
        COUNTER_DECREASED(rcpt_accepted) || COUNTER_DECREASED(rcpt_rejected) ||
        COUNTER_DECREASED(data_count) || COUNTER_DECREASED(data_accepted) ||
        COUNTER_DECREASED(messages_accepted) || COUNTER_DECREASED(replies_4xx) ||
        COUNTER_DECREASED(replies_5xx) || COUNTER_DECREASED(invalid_commands) ||
        COUNTER_DECREASED(invalid_replies) || COUNTER_DECREASED(long_lines) ||
        COUNTER_DECREASED(gaps))
        FUZZ_FAIL("a counter went down");
    if (FLAG_CLEARED(banner_seen) || FLAG_CLEARED(helo_seen) || FLAG_CLEARED(ehlo_offers_auth) ||
        FLAG_CLEARED(ehlo_offers_starttls) || FLAG_CLEARED(auth_attempted) ||
        FLAG_CLEARED(auth_success) || FLAG_CLEARED(auth_failed) ||
        FLAG_CLEARED(starttls_requested) || FLAG_CLEARED(starttls_accepted) ||
        FLAG_CLEARED(encrypted) || FLAG_CLEARED(quit_seen) || FLAG_CLEARED(mail_from_null) ||
        FLAG_CLEARED(banner_cut))
        FUZZ_FAIL("a fact once seen was forgotten");
    /* What went unseen stays unseen: a count once known to be low is never whole again. */
    if (FLAG_CLEARED(commands_unseen) || FLAG_CLEARED(mail_answers_unseen) ||
        FLAG_CLEARED(rcpt_answers_unseen) || FLAG_CLEARED(message_answers_unseen))
        FUZZ_FAIL("an unseen part of the dialogue became seen");
    if (before->banner_seen &&
        (before->banner_code != after->banner_code || strcmp(before->banner, after->banner) != 0))
        FUZZ_FAIL("the banner changed after it was seen");
}

FUZZ_CHECKER static void check_session(const struct smtp_session *session,
                                       const struct smtp_session *before)
{
    const struct smtp_facts *facts = &session->facts;
    check_string(facts->banner, sizeof(facts->banner), "banner", 0);
    check_string(facts->helo, sizeof(facts->helo), "helo", 0);
    check_string(facts->auth_mechanism, sizeof(facts->auth_mechanism), "auth_mechanism", 1);
    check_string(facts->mail_from_domain, sizeof(facts->mail_from_domain), "mail_from_domain", -1);
    check_monotonic(&before->facts, facts);

    /* A reply can only answer a command that was sent, and at most once. */
    if (facts->mail_accepted > facts->mail_count)
        FUZZ_FAIL("more MAIL FROM accepted than sent");
    if ((uint64_t)facts->rcpt_accepted + facts->rcpt_rejected > facts->rcpt_count)
        FUZZ_FAIL("more RCPT TO answered than sent");
    if (facts->data_accepted > facts->data_count)
        FUZZ_FAIL("more DATA/BDAT accepted than sent");
    if (facts->messages_accepted > facts->data_count)
        FUZZ_FAIL("more messages accepted than DATA/BDAT sent");
    if (facts->auth_success && !facts->auth_attempted)
        FUZZ_FAIL("AUTH succeeded without AUTH");
    if (facts->starttls_accepted && !facts->starttls_requested)
        FUZZ_FAIL("STARTTLS accepted without STARTTLS");
    /* A cut EHLO line counts its command but keeps no name. */
    if (facts->helo_seen && facts->helo_count == 0)
        FUZZ_FAIL("a name kept without an EHLO/HELO counted");
    if (facts->banner_cut && (!facts->banner_seen || facts->banner[0] != '\0'))
        FUZZ_FAIL("a cut banner has text, or is no banner");

    /* Internal bounds a bug would break before it shows in the facts. */
    if (session->pending_count > SMTP_PENDING_MAX || session->pending_head >= SMTP_PENDING_MAX)
        FUZZ_FAIL("pending ring out of bounds");
    for (unsigned i = 0; i < session->pending_count; i++) {
        if (session->pending[(session->pending_head + i) % SMTP_PENDING_MAX].count == 0)
            FUZZ_FAIL("an empty run in the pending ring");
    }
    if (session->client_line.length > SMTP_LINE_MAX || session->server_line.length > SMTP_LINE_MAX)
        FUZZ_FAIL("line buffer overrun");
    if (session->client_mode > SMTP_CLIENT_RESYNC)
        FUZZ_FAIL("unknown client mode");
    /* TLS is for the rest of the connection (RFC 3207 4.2): nothing leaves it. */
    if (before->client_mode == SMTP_CLIENT_TLS && session->client_mode != SMTP_CLIENT_TLS)
        FUZZ_FAIL("the client left TLS");
    if (before->server_stopped && !session->server_stopped)
        FUZZ_FAIL("the server left TLS");
}

/* With nothing reported unseen, nothing may be marked unknown but the command counts (a
 * reply to no command seen proves one was missed, even in a whole capture). */
FUZZ_CHECKER static void check_whole(const struct smtp_session *session)
{
    const struct smtp_facts *facts = &session->facts;
    if (session->server_unseen || facts->mail_answers_unseen || facts->rcpt_answers_unseen ||
        facts->message_answers_unseen || facts->last_reply_unseen || facts->banner_cut ||
        session->replies_owed != 0 || facts->gaps != 0)
        FUZZ_FAIL("unseen bytes marked where none were reported");
}

/* The chunk's unseen part, reported before its bytes (or instead of them). */
FUZZ_CHECKER static void report_unseen(struct smtp_session *session, uint8_t control, size_t length)
{
    static struct smtp_session before;
    bool server = control & CHUNK_SERVER;
    before = *session;
    switch (control & CHUNK_UNSEEN_MASK) {
    case CHUNK_GAP:
        if (server)
            smtp_server_gap(session);
        else
            smtp_client_gap(session);
        if (session->facts.gaps == before.facts.gaps && before.facts.gaps != UINT32_MAX)
            FUZZ_FAIL("a gap was not counted");
        break;
    case CHUNK_JOINED:
        if (server)
            smtp_server_joined(session);
        else
            smtp_client_joined(session);
        if (!server && !session->facts.commands_unseen)
            FUZZ_FAIL("joining midway left the commands counted as whole");
        break;
    case CHUNK_MISSING:
        if (server)
            smtp_server_missing(session, (uint32_t)length);
        else
            smtp_client_missing(session, (uint32_t)length);
        break;
    default:
        return;
    }
    check_session(session, &before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Static: a session is about 1.5 KiB and the copy below is taken at every step. */
    static struct smtp_session session;
    static struct smtp_session before;
    smtp_session_init(&session);
    check_session(&session, &session);
    bool whole = true;

    size_t offset = 0;
    while (offset < size) {
        uint8_t control = data[offset++];
        size_t left = size - offset;
        size_t length = chunk_lengths[control >> 3];
        if (length == CHUNK_REST || length > left)
            length = left;
        bool server = control & CHUNK_SERVER;

        if ((control & CHUNK_UNSEEN_MASK) != 0)
            whole = false;
        report_unseen(&session, control, length);
        if ((control & CHUNK_UNSEEN_MASK) == CHUNK_MISSING) {
            offset += length;
            continue;
        }
        before = session;
        /* A copy of exactly the chunk's size, so a read past it is caught by ASan. */
        uint8_t *chunk = length > 0 ? malloc(length) : NULL;
        if (length > 0 && chunk == NULL)
            return 0;
        if (length > 0)
            memcpy(chunk, data + offset, length);
        if (server)
            smtp_server_bytes(&session, chunk, length);
        else
            smtp_client_bytes(&session, chunk, length);
        free(chunk);
        check_session(&session, &before);
        if (whole)
            check_whole(&session);
        offset += length;
    }
    return 0;
}
