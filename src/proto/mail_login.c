/* POP3 and IMAP login parsers: see mail_login.h. Both directions are cut into lines the same
 * way (IMAP literals are skipped by count); each protocol reads its own lines. */
#include "proto/mail_login.h"

#include <string.h>

enum client_mode {
    CLIENT_COMMANDS = 0,
    CLIENT_SASL, /* lines are SASL responses (RFC 5034 4, RFC 9051 6.2.2), not commands */
};

/* What a POP3 status line answers; stored as uint8_t in the pending ring. */
enum pop3_command {
    POP3_NONE = 0,
    POP3_GREETING,
    POP3_USER,
    POP3_PASS,
    POP3_APOP,
    POP3_AUTH,
    POP3_STLS,
    POP3_MULTILINE, /* answered +OK by a multi-line response (RFC 1939 3): CAPA, RETR, ... */
    POP3_OTHER,
};

/* An IMAP literal can be as long as a message; only its count is kept. */
#define LITERAL_MAX UINT32_MAX

static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static size_t word_length(const char *text, size_t length)
{
    const char *space = memchr(text, ' ', length);
    return space != NULL ? (size_t)(space - text) : length;
}

/* The n-th space-separated word of the line (from 0); false when there is none. */
static bool word_at(const struct mail_login_line *line, int n, const char **word, size_t *length)
{
    size_t at = 0;
    for (int i = 0;; i++) {
        while (at < line->length && line->text[at] == ' ')
            at++;
        if (at >= line->length)
            return false;
        size_t size = word_length(line->text + at, line->length - at);
        if (i == n) {
            *word = line->text + at;
            *length = size;
            return true;
        }
        at += size;
    }
}

static bool word_is(const char *word, size_t length, const char *upper)
{
    size_t upper_length = strlen(upper);
    if (length != upper_length)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (ascii_upper(word[i]) != upper[i])
            return false;
    }
    return true;
}

static void store_word(char *destination, size_t capacity, const char *word, size_t length)
{
    size_t kept = length < capacity - 1 ? length : capacity - 1;
    for (size_t i = 0; i < kept; i++) {
        char c = ascii_upper(word[i]);
        destination[i] = c > 0x20 && c < 0x7f ? c : '?';
    }
    destination[kept] = '\0';
}

/* A client's line may hold a password (PASS, LOGIN, an AUTH response): once read, its
 * bytes are wiped rather than left in the flow's memory until another line overwrites them
 * (as the SMTP reader does with AUTH). An overflowing line filled the whole buffer. */
static void line_reset(struct mail_login_line *line)
{
    size_t used = line->overflow || line->length >= MAIL_LOGIN_LINE_MAX ? MAIL_LOGIN_LINE_MAX
                                                                        : line->length + 1u;
    memset(line->text, 0, used);
    line->length = 0;
    line->overflow = false;
    line->discard = false;
}

static void line_append(struct mail_login_line *line, const uint8_t *bytes, size_t count)
{
    size_t room = MAIL_LOGIN_LINE_MAX - line->length;
    size_t taken = count < room ? count : room;
    memcpy(line->text + line->length, bytes, taken);
    line->length = (uint16_t)(line->length + taken);
    if (taken < count)
        line->overflow = true;
}

/* RFC 9051 4.3: a line that ends in "{N}" or "{N+}" is followed by N bytes of literal. */
static uint32_t literal_length(const struct mail_login_line *line)
{
    if (line->overflow || line->length < 3 || line->text[line->length - 1] != '}')
        return 0;
    size_t end = line->length - 1;
    if (line->text[end - 1] == '+')
        end--;
    size_t start = end;
    while (start > 0 && line->text[start - 1] >= '0' && line->text[start - 1] <= '9')
        start--;
    if (start == end || start == 0 || line->text[start - 1] != '{')
        return 0;
    uint64_t value = 0;
    for (size_t i = start; i < end; i++) {
        value = value * 10 + (uint64_t)(line->text[i] - '0');
        if (value > LITERAL_MAX)
            return LITERAL_MAX;
    }
    return (uint32_t)value;
}

static void finish(struct mail_login_session *session)
{
    session->done = true;
}

static void start_tls(struct mail_login_session *session)
{
    session->facts.encrypted = true;
    finish(session);
}

static void login_accepted(struct mail_login_session *session)
{
    session->facts.login_success = true;
    finish(session);
}

static void login_refused(struct mail_login_session *session)
{
    if (session->facts.login_failures < UINT32_MAX)
        session->facts.login_failures++;
    session->client_mode = CLIENT_COMMANDS;
}

/* ---- POP3 ---- */

static void pop3_push(struct mail_login_session *session, enum pop3_command command)
{
    if (session->pending_count == MAIL_LOGIN_PENDING_MAX)
        return; /* a client pipelining this deep: later answers go unattributed */
    unsigned slot = (session->pending_head + session->pending_count) % MAIL_LOGIN_PENDING_MAX;
    session->pending[slot] = (uint8_t)command;
    session->pending_count++;
}

static enum pop3_command pop3_pop(struct mail_login_session *session)
{
    if (session->pending_count == 0)
        return POP3_NONE;
    enum pop3_command command = (enum pop3_command)session->pending[session->pending_head];
    session->pending_head = (uint8_t)((session->pending_head + 1) % MAIL_LOGIN_PENDING_MAX);
    session->pending_count--;
    return command;
}

static void pop3_client_line(struct mail_login_session *session, const struct mail_login_line *line)
{
    struct mail_login_facts *facts = &session->facts;
    if (session->client_mode == CLIENT_SASL)
        return;
    /* argument is read only when has_argument; set anyway, or gcc -O3 warns it may be unset. */
    const char *verb, *argument = NULL;
    size_t verb_length, argument_length = 0;
    if (!word_at(line, 0, &verb, &verb_length))
        return;
    bool has_argument = word_at(line, 1, &argument, &argument_length);
    enum pop3_command command = POP3_OTHER;
    if (word_is(verb, verb_length, "USER")) {
        command = POP3_USER;
    } else if (word_is(verb, verb_length, "PASS")) {
        command = POP3_PASS;
        facts->login_attempted = true;
        strcpy(facts->mechanism, "USER");
    } else if (word_is(verb, verb_length, "APOP")) {
        command = POP3_APOP;
        facts->login_attempted = true;
        strcpy(facts->mechanism, "APOP");
    } else if (word_is(verb, verb_length, "AUTH")) {
        /* Without a mechanism, AUTH lists the mechanisms (RFC 5034 4 refers to CAPA). */
        command = has_argument ? POP3_AUTH : POP3_MULTILINE;
        if (has_argument) {
            facts->login_attempted = true;
            store_word(facts->mechanism, sizeof(facts->mechanism), argument, argument_length);
            session->client_mode = CLIENT_SASL;
        }
    } else if (word_is(verb, verb_length, "STLS")) {
        command = POP3_STLS;
        facts->starttls_requested = true;
    } else if (word_is(verb, verb_length, "CAPA") || word_is(verb, verb_length, "RETR") ||
               word_is(verb, verb_length, "TOP") ||
               ((word_is(verb, verb_length, "LIST") || word_is(verb, verb_length, "UIDL")) &&
                !has_argument)) {
        command = POP3_MULTILINE;
    }
    pop3_push(session, command);
}

static void pop3_server_line(struct mail_login_session *session, const struct mail_login_line *line)
{
    struct mail_login_facts *facts = &session->facts;
    if (session->server_multiline) {
        /* RFC 1939 3: a line of just "." ends it; other lines are byte-stuffed. */
        if (line->length == 1 && line->text[0] == '.')
            session->server_multiline = false;
        return;
    }
    const char *status;
    size_t status_length;
    if (!word_at(line, 0, &status, &status_length))
        return;
    bool ok = word_is(status, status_length, "+OK");
    if (!ok && !word_is(status, status_length, "-ERR"))
        return; /* a SASL challenge ("+ ..."), or no status at all */
    switch (pop3_pop(session)) {
    case POP3_GREETING:
        facts->greeting_seen = true;
        facts->greeting_ok = ok;
        break;
    case POP3_PASS:
    case POP3_APOP:
    case POP3_AUTH:
        if (ok)
            login_accepted(session);
        else
            login_refused(session);
        break;
    case POP3_STLS:
        if (ok)
            start_tls(session);
        break;
    case POP3_MULTILINE:
        session->server_multiline = ok;
        break;
    case POP3_NONE:
    case POP3_USER:
    case POP3_OTHER:
        break;
    }
}

/* ---- IMAP ---- */

/* Tags are kept to MAIL_LOGIN_TAG_MAX - 1 characters; a longer one is matched on that
 * prefix (RFC 9051 sets no length, clients use short ones). A tag holding a NUL is no
 * atom (RFC 9051 9, tag) and is not followed at all. */
static void copy_tag(char *destination, const char *tag, size_t length)
{
    if (memchr(tag, '\0', length) != NULL) {
        destination[0] = '\0';
        return;
    }
    size_t kept = length < MAIL_LOGIN_TAG_MAX - 1 ? length : MAIL_LOGIN_TAG_MAX - 1;
    memcpy(destination, tag, kept);
    destination[kept] = '\0';
}

static bool tag_is(const char *tag, size_t length, const char *stored)
{
    size_t stored_length = strlen(stored);
    if (stored_length == 0 || memchr(tag, '\0', length) != NULL)
        return false;
    if (stored_length == MAIL_LOGIN_TAG_MAX - 1)
        return length >= stored_length && memcmp(tag, stored, stored_length) == 0;
    return stored_length == length && memcmp(tag, stored, length) == 0;
}

static uint32_t imap_client_line(struct mail_login_session *session,
                                 const struct mail_login_line *line)
{
    struct mail_login_facts *facts = &session->facts;
    if (session->client_continues) {
        /* The rest of a command whose literal was skipped. */
        session->client_continues = false;
        return literal_length(line);
    }
    if (session->client_mode == CLIENT_SASL)
        return 0;
    const char *tag, *command, *mechanism;
    size_t tag_length, command_length, mechanism_length;
    if (!word_at(line, 0, &tag, &tag_length) || !word_at(line, 1, &command, &command_length))
        return literal_length(line);
    if (word_is(command, command_length, "LOGIN")) {
        facts->login_attempted = true;
        strcpy(facts->mechanism, "LOGIN");
        copy_tag(session->login_tag, tag, tag_length);
    } else if (word_is(command, command_length, "AUTHENTICATE") &&
               word_at(line, 2, &mechanism, &mechanism_length)) {
        facts->login_attempted = true;
        store_word(facts->mechanism, sizeof(facts->mechanism), mechanism, mechanism_length);
        copy_tag(session->login_tag, tag, tag_length);
        session->client_mode = CLIENT_SASL;
    } else if (word_is(command, command_length, "STARTTLS")) {
        facts->starttls_requested = true;
        copy_tag(session->starttls_tag, tag, tag_length);
    }
    return literal_length(line);
}

static uint32_t imap_server_line(struct mail_login_session *session,
                                 const struct mail_login_line *line)
{
    struct mail_login_facts *facts = &session->facts;
    if (session->server_continues) {
        session->server_continues = false;
        return literal_length(line);
    }
    const char *tag, *status;
    size_t tag_length, status_length;
    if (!word_at(line, 0, &tag, &tag_length))
        return 0;
    if (tag_length == 1 && tag[0] == '+')
        return 0; /* a continuation request (RFC 9051 7.6) */
    if (!word_at(line, 1, &status, &status_length))
        return literal_length(line);
    bool ok = word_is(status, status_length, "OK");
    if (tag_length == 1 && tag[0] == '*') {
        /* RFC 9051 7.1: the greeting is the first untagged OK, PREAUTH or BYE. */
        if (!facts->greeting_seen) {
            facts->greeting_seen = true;
            bool preauth = word_is(status, status_length, "PREAUTH");
            facts->greeting_ok = ok || preauth;
            if (preauth) {
                strcpy(facts->mechanism, "PREAUTH");
                login_accepted(session);
                return 0;
            }
        }
        return literal_length(line);
    }
    if (tag_is(tag, tag_length, session->login_tag)) {
        session->login_tag[0] = '\0';
        if (ok) {
            login_accepted(session);
            return 0;
        }
        login_refused(session);
    } else if (tag_is(tag, tag_length, session->starttls_tag)) {
        session->starttls_tag[0] = '\0';
        if (ok) {
            start_tls(session);
            return 0;
        }
    }
    return literal_length(line);
}

/* ---- Lines ---- */

/* A TLS record header at the start of a line: ContentType handshake (22), version 3.x
 * (RFC 8446 5.1). */
static bool line_begins_tls(const struct mail_login_line *line)
{
    return line->length >= 2 && (uint8_t)line->text[0] == 0x16 && (uint8_t)line->text[1] == 0x03;
}

static void feed(struct mail_login_session *session, bool from_client, const uint8_t *data,
                 size_t length)
{
    struct mail_login_line *line = from_client ? &session->client_line : &session->server_line;
    uint32_t *literal = from_client ? &session->client_literal : &session->server_literal;
    bool *continues = from_client ? &session->client_continues : &session->server_continues;
    size_t offset = 0;
    while (offset < length && !session->done) {
        if (*literal > 0) {
            size_t skip = length - offset < *literal ? length - offset : *literal;
            *literal -= (uint32_t)skip;
            offset += skip;
            continue;
        }
        const uint8_t *rest = data + offset;
        const uint8_t *line_feed = memchr(rest, '\n', length - offset);
        size_t content = line_feed != NULL ? (size_t)(line_feed - rest) : length - offset;
        offset += line_feed != NULL ? content + 1 : content;
        if (line->discard) {
            if (line_feed != NULL)
                line_reset(line);
            continue;
        }
        line_append(line, rest, content);
        if (line_begins_tls(line)) {
            start_tls(session);
            return;
        }
        if (line_feed == NULL)
            return;
        if (line->length > 0 && line->text[line->length - 1] == '\r')
            line->length--;
        uint32_t follows = 0;
        if (session->protocol == MAIL_LOGIN_POP3) {
            if (from_client)
                pop3_client_line(session, line);
            else
                pop3_server_line(session, line);
        } else {
            follows =
                from_client ? imap_client_line(session, line) : imap_server_line(session, line);
        }
        line_reset(line);
        if (follows > 0) {
            *literal = follows;
            *continues = true;
        }
    }
}

void mail_login_init(struct mail_login_session *session, enum mail_login_protocol protocol)
{
    memset(session, 0, sizeof(*session));
    session->protocol = (uint8_t)protocol;
    if (protocol == MAIL_LOGIN_POP3)
        pop3_push(session, POP3_GREETING);
}

void mail_login_client_bytes(struct mail_login_session *session, const uint8_t *data, size_t length)
{
    feed(session, true, data, length);
}

void mail_login_server_bytes(struct mail_login_session *session, const uint8_t *data, size_t length)
{
    feed(session, false, data, length);
}

/* A hole loses the partial line, any literal count, and which answer is whose. */
static void gap(struct mail_login_session *session, bool from_client)
{
    struct mail_login_line *line = from_client ? &session->client_line : &session->server_line;
    line_reset(line);
    line->discard = true;
    if (from_client) {
        session->client_literal = 0;
        session->client_continues = false;
    } else {
        session->server_literal = 0;
        session->server_continues = false;
        session->server_multiline = false;
    }
    session->pending_count = 0;
}

void mail_login_client_gap(struct mail_login_session *session)
{
    gap(session, true);
}

void mail_login_server_gap(struct mail_login_session *session)
{
    gap(session, false);
}

const char *mail_login_protocol_name(enum mail_login_protocol protocol)
{
    return protocol == MAIL_LOGIN_IMAP ? "imap" : "pop3";
}
