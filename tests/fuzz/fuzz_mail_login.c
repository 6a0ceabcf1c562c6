/* libFuzzer target for the POP3 and IMAP login parsers (src/proto/mail_login.c). Input: one
 * byte whose bit 0 picks the protocol (0 POP3, 1 IMAP), then chunks in fuzz_smtp.c's form, one
 * control byte and its bytes:
 *   bit 0     direction: 0 client, 1 server
 *   bit 1     report a gap in that direction before the chunk
 *   bit 2     unused here (fuzz_smtp's "joined"), so make_seeds.py writes both alike
 *   bits 3-7  the chunk length, an index into chunk_lengths (the last: the rest)
 * After every call the session is checked against what mail_login.h promises: strings stay
 * terminated, facts only move forward, nothing is read once the login is decided or TLS
 * began. The parsers are fed "each direction's bytes in stream order", so where a stream is
 * cut cannot matter: the same input is replayed with each direction's consecutive chunks
 * joined and again one byte per call, and the three sessions must agree. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto/mail_login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    CHUNK_SERVER = 0x01,
    CHUNK_GAP = 0x02,
    CHUNK_REST = 0, /* a length of 0 in the table: everything left */
};

/* make_seeds.py CHUNK_LENGTHS: small sizes for byte-by-byte splits, and the edges of the
 * parser's line buffer (MAIL_LOGIN_LINE_MAX). */
static const uint16_t chunk_lengths[32] = {
    1,  2,   3,   4,   5,   6,   7,   8,   10,  12,  16,   20,   24,   32,   48,   64,
    96, 128, 192, 256, 384, 511, 512, 513, 514, 768, 1024, 1536, 2048, 4096, 8192, CHUNK_REST,
};

/* "commands, SASL responses, or stopped" */
#define CLIENT_MODES 3

enum replay {
    REPLAY_AS_GIVEN, /* the fuzzer's chunks, each call checked */
    REPLAY_JOINED,   /* consecutive chunks of one direction with no gap between: one call */
    REPLAY_BYTES,    /* one byte per call */
};

FUZZ_CHECKER static void check_terminated(const char *text, size_t capacity, const char *name)
{
    if (memchr(text, '\0', capacity) == NULL)
        FUZZ_FAIL("%s is not NUL-terminated within its array", name);
}

/* "the SASL mechanism (upper case)" or one of the fixed names: safe to print in an event. */
FUZZ_CHECKER static void check_mechanism(const char *mechanism)
{
    check_terminated(mechanism, MAIL_LOGIN_MECHANISM_MAX, "mechanism");
    for (const char *c = mechanism; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            FUZZ_FAIL("the mechanism holds byte 0x%02x", (unsigned char)*c);
        if (*c >= 'a' && *c <= 'z')
            FUZZ_FAIL("the mechanism is not upper case: %s", mechanism);
    }
}

FUZZ_CHECKER static void check_facts(const struct mail_login_session *session)
{
    const struct mail_login_facts *facts = &session->facts;
    check_mechanism(facts->mechanism);
    if (facts->greeting_ok && !facts->greeting_seen)
        FUZZ_FAIL("greeting_ok without a greeting");
    if (facts->login_attempted && facts->mechanism[0] == '\0')
        FUZZ_FAIL("a login was attempted without a mechanism");
    if (facts->login_failures > 0 && !facts->login_attempted)
        FUZZ_FAIL("a login refused that was never attempted");
    /* "the server accepted one (or greeted with PREAUTH)": without an attempt, only an IMAP
     * PREAUTH greeting logs in and names a mechanism. */
    bool preauth_greeting = session->protocol == MAIL_LOGIN_IMAP && facts->login_success &&
                            strcmp(facts->mechanism, "PREAUTH") == 0;
    if (!facts->login_attempted && (facts->login_success || facts->mechanism[0] != '\0') &&
        !preauth_greeting)
        FUZZ_FAIL("a login succeeded or named a mechanism (%s) without an attempt",
                  facts->mechanism);
    /* "parsing stops once the login is decided or TLS begins" */
    if (session->done != (facts->login_success || facts->encrypted))
        FUZZ_FAIL("done %d, login_success %d, encrypted %d", session->done, facts->login_success,
                  facts->encrypted);
}

FUZZ_CHECKER static void check_internal(const struct mail_login_session *session,
                                        enum mail_login_protocol protocol)
{
    if (session->protocol != protocol)
        FUZZ_FAIL("the protocol changed");
    if (session->client_mode >= CLIENT_MODES)
        FUZZ_FAIL("unknown client mode %u", session->client_mode);
    if (session->pending_count > MAIL_LOGIN_PENDING_MAX ||
        session->pending_head >= MAIL_LOGIN_PENDING_MAX)
        FUZZ_FAIL("pending ring out of bounds");
    if (session->client_line.length > MAIL_LOGIN_LINE_MAX ||
        session->server_line.length > MAIL_LOGIN_LINE_MAX)
        FUZZ_FAIL("line buffer overrun");
    check_terminated(session->login_tag, MAIL_LOGIN_TAG_MAX, "login_tag");
    check_terminated(session->starttls_tag, MAIL_LOGIN_TAG_MAX, "starttls_tag");
    if (protocol == MAIL_LOGIN_POP3) {
        /* Literals and tags are IMAP's (RFC 9051 4.3, 2.2.1). */
        if (session->client_literal != 0 || session->server_literal != 0 ||
            session->client_continues || session->server_continues ||
            session->login_tag[0] != '\0' || session->starttls_tag[0] != '\0')
            FUZZ_FAIL("IMAP state in a POP3 session");
    } else if (session->server_multiline || session->pending_count != 0) {
        FUZZ_FAIL("POP3 state in an IMAP session");
    }
}

#define FLAG_CLEARED(field) (before->field && !after->field)

/* What a call is checked against: the facts and whether the parser had stopped. The whole
 * session is copied only then, to check that nothing more was read (most calls of the
 * byte-by-byte replay do not need the copy). */
struct step {
    struct mail_login_facts facts;
    bool done;
    struct mail_login_session session;
};

static void step_begin(struct step *before, const struct mail_login_session *session)
{
    before->facts = session->facts;
    before->done = session->done;
    if (session->done)
        before->session = *session;
}

/* What was seen stays seen: a login cannot be unsaid, nor TLS undone. */
FUZZ_CHECKER static void check_forward(const struct step *step,
                                       const struct mail_login_session *session)
{
    const struct mail_login_facts *before = &step->facts;
    const struct mail_login_facts *after = &session->facts;
    if (FLAG_CLEARED(greeting_seen) || FLAG_CLEARED(login_attempted) ||
        FLAG_CLEARED(login_success) || FLAG_CLEARED(starttls_requested) ||
        FLAG_CLEARED(encrypted) || (step->done && !session->done))
        FUZZ_FAIL("a fact once seen was forgotten");
    if (after->login_failures < before->login_failures)
        FUZZ_FAIL("login_failures went down");
    if (before->greeting_seen && before->greeting_ok != after->greeting_ok)
        FUZZ_FAIL("the greeting changed after it was seen");
    if (step->done && memcmp(before, after, sizeof(*before)) != 0)
        FUZZ_FAIL("the facts changed after the login was decided or TLS began");
}

FUZZ_CHECKER static void check_step(const struct step *before,
                                    const struct mail_login_session *session,
                                    enum mail_login_protocol protocol)
{
    check_facts(session);
    check_internal(session, protocol);
    check_forward(before, session);
}

FUZZ_CHECKER static bool same_line(const struct mail_login_line *a, const struct mail_login_line *b)
{
    return a->length == b->length && a->overflow == b->overflow && a->discard == b->discard &&
           memcmp(a->text, b->text, a->length) == 0;
}

FUZZ_CHECKER static bool same_pending(const struct mail_login_session *a,
                                      const struct mail_login_session *b)
{
    if (a->pending_count != b->pending_count)
        return false;
    for (unsigned i = 0; i < a->pending_count; i++) {
        if (a->pending[(a->pending_head + i) % MAIL_LOGIN_PENDING_MAX] !=
            b->pending[(b->pending_head + i) % MAIL_LOGIN_PENDING_MAX])
            return false;
    }
    return true;
}

/* The facts, and while the parser still reads, everything that decides what later bytes
 * mean. Once done, the rest of a partial line it stopped in is of no account. */
FUZZ_CHECKER static bool same_session(const struct mail_login_session *a,
                                      const struct mail_login_session *b)
{
    if (memcmp(&a->facts, &b->facts, sizeof(a->facts)) != 0 || a->done != b->done)
        return false;
    if (a->done)
        return true;
    return a->client_mode == b->client_mode && a->server_multiline == b->server_multiline &&
           a->client_continues == b->client_continues &&
           a->server_continues == b->server_continues && a->client_literal == b->client_literal &&
           a->server_literal == b->server_literal && same_pending(a, b) &&
           strcmp(a->login_tag, b->login_tag) == 0 &&
           strcmp(a->starttls_tag, b->starttls_tag) == 0 &&
           same_line(&a->client_line, &b->client_line) &&
           same_line(&a->server_line, &b->server_line);
}

static void feed(struct mail_login_session *session, bool server, const uint8_t *bytes,
                 size_t length)
{
    if (server)
        mail_login_server_bytes(session, bytes, length);
    else
        mail_login_client_bytes(session, bytes, length);
}

/* One call, checked against the session before it. */
static void feed_checked(struct mail_login_session *session, bool server, const uint8_t *bytes,
                         size_t length, enum mail_login_protocol protocol)
{
    static struct step before;
    step_begin(&before, session);
    feed(session, server, bytes, length);
    check_step(&before, session, protocol);
    if (before.done && memcmp(&before.session, session, sizeof(*session)) != 0)
        FUZZ_FAIL("bytes were read after the login was decided or TLS began");
}

static void gap_checked(struct mail_login_session *session, bool server,
                        enum mail_login_protocol protocol)
{
    static struct step before;
    step_begin(&before, session);
    if (server)
        mail_login_server_gap(session);
    else
        mail_login_client_gap(session);
    check_step(&before, session, protocol);
    /* "the partial line is dropped" */
    const struct mail_login_line *line = server ? &session->server_line : &session->client_line;
    if (line->length != 0)
        FUZZ_FAIL("a gap kept the partial line");
}

/* A heap copy of exactly the bytes handed over, so ASan stops a read past them. */
static void feed_copy(struct mail_login_session *session, bool server, const uint8_t *bytes,
                      size_t length, enum mail_login_protocol protocol)
{
    uint8_t *copy = length > 0 ? malloc(length) : NULL;
    if (length > 0 && copy == NULL)
        abort();
    if (length > 0)
        memcpy(copy, bytes, length);
    feed_checked(session, server, copy, length, protocol);
    free(copy);
}

static void replay(struct mail_login_session *session, const uint8_t *data, size_t size,
                   enum replay how)
{
    enum mail_login_protocol protocol = data[0] & 1 ? MAIL_LOGIN_IMAP : MAIL_LOGIN_POP3;
    mail_login_init(session, protocol);
    const char *name = mail_login_protocol_name(protocol);
    if (strcmp(name, protocol == MAIL_LOGIN_IMAP ? "imap" : "pop3") != 0)
        FUZZ_FAIL("protocol %d is named %s", protocol, name);
    check_facts(session);
    check_internal(session, protocol);

    /* REPLAY_JOINED: the bytes of one direction waiting for the next gap or turn;
     * REPLAY_BYTES: the one byte handed over, on the heap so ASan stops a read past it. */
    uint8_t *staging = how == REPLAY_AS_GIVEN ? NULL : malloc(how == REPLAY_JOINED ? size : 1);
    if (how != REPLAY_AS_GIVEN && staging == NULL)
        abort();
    size_t joined_length = 0;
    bool joined_server = false;

    size_t offset = 1;
    while (offset < size) {
        uint8_t control = data[offset++];
        size_t left = size - offset;
        size_t length = chunk_lengths[control >> 3];
        if (length == CHUNK_REST || length > left)
            length = left;
        bool server = control & CHUNK_SERVER;
        const uint8_t *chunk = data + offset;
        offset += length;

        if (how == REPLAY_JOINED && joined_length > 0 &&
            (server != joined_server || (control & CHUNK_GAP))) {
            feed_copy(session, joined_server, staging, joined_length, protocol);
            joined_length = 0;
        }
        if (control & CHUNK_GAP)
            gap_checked(session, server, protocol);
        switch (how) {
        case REPLAY_AS_GIVEN:
            feed_copy(session, server, chunk, length, protocol);
            break;
        case REPLAY_JOINED:
            memcpy(staging + joined_length, chunk, length);
            joined_length += length;
            joined_server = server;
            break;
        case REPLAY_BYTES:
            for (size_t i = 0; i < length; i++) {
                staging[0] = chunk[i];
                feed_checked(session, server, staging, 1, protocol);
            }
            break;
        }
    }
    if (joined_length > 0)
        feed_copy(session, joined_server, staging, joined_length, protocol);
    free(staging);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Static: the copies taken at every step should not grow the stack. */
    static struct mail_login_session given;
    static struct mail_login_session joined;
    static struct mail_login_session bytes;
    if (size < 1)
        return 0;
    replay(&given, data, size, REPLAY_AS_GIVEN);
    replay(&joined, data, size, REPLAY_JOINED);
    if (!same_session(&given, &joined))
        FUZZ_FAIL("joining each direction's chunks changed the session");
    replay(&bytes, data, size, REPLAY_BYTES);
    if (!same_session(&given, &bytes))
        FUZZ_FAIL("feeding one byte at a time changed the session");
    return 0;
}
