/* SMTP dialogue state machine: see smtp.h for the contract. Each direction is cut into lines
 * with memchr; a line is only looked at once it is complete (or, for the client, as soon as
 * it could be a TLS record header), so the work is proportional to the bytes fed. */
#include "proto/smtp.h"

#include <string.h>

/* What a reply in the pending ring answers; stored as uint8_t in smtp_session.pending. */
enum smtp_command {
    SMTP_COMMAND_NONE = 0, /* no command: the reply is not attributed */
    SMTP_COMMAND_OTHER,    /* a command whose reply changes no fact (RSET, junk, ...) */
    SMTP_COMMAND_EHLO,
    SMTP_COMMAND_HELO,
    SMTP_COMMAND_AUTH,
    SMTP_COMMAND_STARTTLS,
    SMTP_COMMAND_MAIL,
    SMTP_COMMAND_RCPT,
    SMTP_COMMAND_DATA,
    SMTP_COMMAND_END_OF_DATA, /* the "." closing a DATA body (RFC 5321 4.1.1.4) */
    SMTP_COMMAND_BDAT,
    SMTP_COMMAND_BDAT_LAST,
    SMTP_COMMAND_QUIT,
};

enum smtp_verb {
    SMTP_VERB_UNKNOWN = 0,
    SMTP_VERB_EHLO,
    SMTP_VERB_HELO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT,
    SMTP_VERB_AUTH,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_RSET,
    SMTP_VERB_QUIT,
    SMTP_VERB_IGNORED, /* known, no fact depends on it (NOOP, VRFY, EXPN, HELP, ...) */
};

struct smtp_verb_name {
    const char *name;
    uint8_t length;
    uint8_t verb;
};

static const struct smtp_verb_name verb_names[] = {
    {"EHLO", 4, SMTP_VERB_EHLO},        {"HELO", 4, SMTP_VERB_HELO},
    {"MAIL", 4, SMTP_VERB_MAIL},        {"RCPT", 4, SMTP_VERB_RCPT},
    {"DATA", 4, SMTP_VERB_DATA},        {"BDAT", 4, SMTP_VERB_BDAT},
    {"AUTH", 4, SMTP_VERB_AUTH},        {"STARTTLS", 8, SMTP_VERB_STARTTLS},
    {"RSET", 4, SMTP_VERB_RSET},        {"QUIT", 4, SMTP_VERB_QUIT},
    {"NOOP", 4, SMTP_VERB_IGNORED},     {"VRFY", 4, SMTP_VERB_IGNORED},
    {"EXPN", 4, SMTP_VERB_IGNORED},     {"HELP", 4, SMTP_VERB_IGNORED},
    {"ETRN", 4, SMTP_VERB_IGNORED},     {"TURN", 4, SMTP_VERB_IGNORED},
    {"ATRN", 4, SMTP_VERB_IGNORED},     {"XCLIENT", 7, SMTP_VERB_IGNORED},
    {"XFORWARD", 8, SMTP_VERB_IGNORED},
};

/* A command line taken apart. "well_formed" is the syntax the verb requires: only a
 * well-formed DATA/BDAT/MAIL/RCPT/AUTH changes state, since a server answers the others 501
 * and stays where it was. */
struct smtp_command_line {
    enum smtp_verb verb;
    bool well_formed;
    const char *argument; /* after the verb and its spaces */
    size_t argument_length;
    uint32_t bdat_size;
    bool bdat_last;
};

/* A body line is only compared with ".": a few bytes tell it apart, the rest is skipped. */
#define SMTP_BODY_LINE_KEPT 3

static inline char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static inline bool ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool ascii_equal_nocase(const char *text, const char *upper, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (ascii_upper(text[i]) != upper[i])
            return false;
    }
    return true;
}

static bool has_prefix_nocase(const char *text, size_t length, const char *upper)
{
    size_t prefix_length = strlen(upper);
    return length >= prefix_length && ascii_equal_nocase(text, upper, prefix_length);
}

enum smtp_case { SMTP_CASE_KEEP, SMTP_CASE_UPPER, SMTP_CASE_LOWER };

/* Stored strings end up in JSON events and logs: printable ASCII only. */
static void store_printable(char *destination, size_t capacity, const char *source, size_t length,
                            enum smtp_case letter_case)
{
    size_t kept = length < capacity - 1 ? length : capacity - 1;
    for (size_t i = 0; i < kept; i++) {
        char c = source[i];
        if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e)
            c = '?';
        else if (letter_case == SMTP_CASE_UPPER)
            c = ascii_upper(c);
        else if (letter_case == SMTP_CASE_LOWER)
            c = ascii_lower(c);
        destination[i] = c;
    }
    destination[kept] = '\0';
}

static void line_reset(struct smtp_line *line)
{
    line->length = 0;
    line->overflow = false;
    line->discard = false;
}

/* Keeps at most "limit" bytes of the line; the rest is dropped and marks the line long. A
 * lone CR past the limit at the end of the bytes is the line ending, not content, so a line
 * of exactly "limit" bytes ending in CRLF is not long even when the CR comes alone. */
static void line_append(struct smtp_line *line, const uint8_t *bytes, size_t count, size_t limit)
{
    size_t room = limit > line->length ? limit - line->length : 0;
    size_t taken = count < room ? count : room;
    memcpy(line->text + line->length, bytes, taken);
    line->length = (uint16_t)(line->length + taken);
    if (taken < count && !(count - taken == 1 && bytes[taken] == '\r'))
        line->overflow = true;
}

/* CRLF and bare LF both end a line: the LF is never stored, a CR before it is dropped here. */
static void line_strip_cr(struct smtp_line *line)
{
    if (line->length > 0 && line->text[line->length - 1] == '\r')
        line->length--;
}

/* A TLS record header: ContentType handshake (22), major version 3 (RFC 8446 5.1). */
static bool line_begins_tls(const struct smtp_line *line)
{
    return line->length >= 2 && (uint8_t)line->text[0] == 0x16 && (uint8_t)line->text[1] == 0x03;
}

static void pending_push(struct smtp_session *session, enum smtp_command command)
{
    /* Once a command is queued behind the ring, later ones must queue too, or their replies
     * would be taken by commands older than them. */
    if (session->pending_overflow > 0 || session->pending_count >= SMTP_PENDING_MAX) {
        if (session->pending_dropped < UINT32_MAX)
            session->pending_dropped++;
        if (session->pending_overflow < UINT32_MAX)
            session->pending_overflow++;
        return;
    }
    unsigned slot = (session->pending_head + session->pending_count) % SMTP_PENDING_MAX;
    session->pending[slot] = (uint8_t)command;
    session->pending_count++;
}

static enum smtp_command pending_oldest(const struct smtp_session *session)
{
    if (session->pending_count == 0)
        return SMTP_COMMAND_NONE;
    return (enum smtp_command)session->pending[session->pending_head];
}

static void pending_pop(struct smtp_session *session)
{
    if (session->pending_count > 0) {
        session->pending_head = (uint8_t)((session->pending_head + 1) % SMTP_PENDING_MAX);
        session->pending_count--;
    } else if (session->pending_overflow > 0) {
        session->pending_overflow--;
    }
}

/* Drops the commands queued before the oldest "command" in the ring: their replies were lost
 * (or never sent) if a reply only that command gets has come. Nothing happens when the ring
 * does not hold it. */
static void pending_skip_to(struct smtp_session *session, enum smtp_command command)
{
    for (unsigned i = 0; i < session->pending_count; i++) {
        if (session->pending[(session->pending_head + i) % SMTP_PENDING_MAX] == command) {
            session->pending_head = (uint8_t)((session->pending_head + i) % SMTP_PENDING_MAX);
            session->pending_count = (uint8_t)(session->pending_count - i);
            return;
        }
    }
}

static bool pending_empty(const struct smtp_session *session)
{
    return session->pending_count == 0 && session->pending_overflow == 0;
}

static void count_up(uint32_t *counter)
{
    if (*counter < UINT32_MAX)
        (*counter)++;
}

static enum smtp_verb verb_lookup(const char *text, size_t length)
{
    for (size_t i = 0; i < sizeof(verb_names) / sizeof(verb_names[0]); i++) {
        if (verb_names[i].length == length && ascii_equal_nocase(text, verb_names[i].name, length))
            return (enum smtp_verb)verb_names[i].verb;
    }
    return SMTP_VERB_UNKNOWN;
}

static size_t skip_spaces(const char *text, size_t length, size_t at)
{
    while (at < length && text[at] == ' ')
        at++;
    return at;
}

/* RFC 3030 2: "BDAT" SP chunk-size [SP end-marker]; chunk-size is 1*DIGIT. */
static bool parse_bdat(struct smtp_command_line *command)
{
    const char *text = command->argument;
    size_t length = command->argument_length;
    size_t at = 0;
    uint64_t size = 0;
    while (at < length && ascii_digit(text[at])) {
        size = size * 10 + (uint64_t)(text[at] - '0');
        if (size > UINT32_MAX)
            return false;
        at++;
    }
    if (at == 0)
        return false;
    command->bdat_size = (uint32_t)size;
    at = skip_spaces(text, length, at);
    if (at < length) {
        if (length - at < 4 || !ascii_equal_nocase(text + at, "LAST", 4))
            return false;
        command->bdat_last = true;
        at = skip_spaces(text, length, at + 4);
    }
    return at == length;
}

static struct smtp_command_line command_parse(const char *text, size_t length)
{
    struct smtp_command_line command = {0};
    const char *space = memchr(text, ' ', length);
    size_t verb_length = space != NULL ? (size_t)(space - text) : length;
    command.verb = verb_lookup(text, verb_length);
    size_t at = skip_spaces(text, length, verb_length);
    command.argument = text + at;
    command.argument_length = length - at;

    switch (command.verb) {
    case SMTP_VERB_MAIL:
        command.well_formed = has_prefix_nocase(command.argument, command.argument_length, "FROM:");
        break;
    case SMTP_VERB_RCPT:
        command.well_formed = has_prefix_nocase(command.argument, command.argument_length, "TO:");
        break;
    case SMTP_VERB_DATA:
    case SMTP_VERB_RSET:
    case SMTP_VERB_QUIT:
    case SMTP_VERB_STARTTLS:
        command.well_formed = command.argument_length == 0;
        break;
    case SMTP_VERB_BDAT:
        command.well_formed = parse_bdat(&command);
        break;
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
    case SMTP_VERB_AUTH:
        command.well_formed = command.argument_length > 0;
        break;
    case SMTP_VERB_IGNORED:
        command.well_formed = true;
        break;
    case SMTP_VERB_UNKNOWN:
        break;
    }
    return command;
}

static size_t word_length(const char *text, size_t length)
{
    const char *space = memchr(text, ' ', length);
    return space != NULL ? (size_t)(space - text) : length;
}

/* RFC 5321 4.1.1.2: "FROM:" [spaces, tolerated] "<" reverse-path ">"; brackets are often
 * missing in bot traffic. The domain is what follows the last '@' (after any source route). */
static void record_mail_from(struct smtp_facts *facts, const struct smtp_command_line *command)
{
    const char *text = command->argument;
    size_t length = command->argument_length;
    size_t at = skip_spaces(text, length, 5);
    bool bracketed = at < length && text[at] == '<';
    if (bracketed)
        at++;
    size_t end = at;
    while (end < length && text[end] != '>' && text[end] != ' ')
        end++;
    if (bracketed && end == at && end < length && text[end] == '>') {
        facts->mail_from_null = true;
        return;
    }
    size_t domain = end;
    while (domain > at && text[domain - 1] != '@')
        domain--;
    if (domain == at)
        return; /* no '@': a local name, no domain */
    store_printable(facts->mail_from_domain, sizeof(facts->mail_from_domain), text + domain,
                    end - domain, SMTP_CASE_LOWER);
}

static void start_client_tls(struct smtp_session *session)
{
    session->client_mode = SMTP_CLIENT_TLS;
    session->facts.encrypted = true;
    if (session->facts.starttls_requested) {
        /* After STARTTLS the server answers in TLS too, even if its 220 was missed. */
        session->facts.starttls_accepted = true;
        session->server_stopped = true;
    }
    line_reset(&session->client_line);
}

static void client_command(struct smtp_session *session, const struct smtp_command_line *command)
{
    struct smtp_facts *facts = &session->facts;
    switch (command->verb) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
        facts->helo_seen = true;
        facts->ehlo = command->verb == SMTP_VERB_EHLO;
        count_up(&facts->helo_count);
        store_printable(facts->helo, sizeof(facts->helo), command->argument,
                        word_length(command->argument, command->argument_length), SMTP_CASE_KEEP);
        pending_push(session, facts->ehlo ? SMTP_COMMAND_EHLO : SMTP_COMMAND_HELO);
        return;
    case SMTP_VERB_MAIL:
        if (!command->well_formed)
            break;
        count_up(&facts->mail_count);
        if (facts->mail_count == 1)
            record_mail_from(facts, command);
        pending_push(session, SMTP_COMMAND_MAIL);
        return;
    case SMTP_VERB_RCPT:
        if (!command->well_formed)
            break;
        count_up(&facts->rcpt_count);
        pending_push(session, SMTP_COMMAND_RCPT);
        return;
    case SMTP_VERB_DATA:
        if (!command->well_formed)
            break;
        count_up(&facts->data_count);
        pending_push(session, SMTP_COMMAND_DATA);
        session->client_mode = SMTP_CLIENT_DATA;
        session->body_started = false;
        session->data_go_ahead = false;
        return;
    case SMTP_VERB_BDAT:
        if (!command->well_formed)
            break;
        count_up(&facts->data_count);
        pending_push(session, command->bdat_last ? SMTP_COMMAND_BDAT_LAST : SMTP_COMMAND_BDAT);
        session->bdat_remaining = command->bdat_size;
        session->bdat_last = command->bdat_last;
        if (command->bdat_size > 0)
            session->client_mode = SMTP_CLIENT_BDAT;
        return;
    case SMTP_VERB_AUTH:
        if (!command->well_formed)
            break;
        facts->auth_attempted = true;
        store_printable(facts->auth_mechanism, sizeof(facts->auth_mechanism), command->argument,
                        word_length(command->argument, command->argument_length), SMTP_CASE_UPPER);
        pending_push(session, SMTP_COMMAND_AUTH);
        session->client_mode = SMTP_CLIENT_AUTH;
        return;
    case SMTP_VERB_STARTTLS:
        facts->starttls_requested = true;
        pending_push(session, SMTP_COMMAND_STARTTLS);
        return;
    case SMTP_VERB_QUIT:
        facts->quit_seen = true;
        pending_push(session, SMTP_COMMAND_QUIT);
        return;
    case SMTP_VERB_RSET:
    case SMTP_VERB_IGNORED:
        break;
    case SMTP_VERB_UNKNOWN:
        /* The server answers junk too (500): it keeps its place in the ring. */
        count_up(&facts->invalid_commands);
        break;
    }
    pending_push(session, SMTP_COMMAND_OTHER);
}

/* Lines that may restart command parsing after a BDAT chunk lost bytes: the usual next
 * commands, well formed, so that chunk content rarely passes for one. */
static bool command_is_resync_point(const struct smtp_command_line *command)
{
    return command->verb != SMTP_VERB_UNKNOWN && command->verb != SMTP_VERB_IGNORED &&
           command->well_formed;
}

static void client_line_complete(struct smtp_session *session)
{
    struct smtp_line *line = &session->client_line;
    line_strip_cr(line);
    switch ((enum smtp_client_mode)session->client_mode) {
    case SMTP_CLIENT_DATA:
        if (!line->overflow && line->length == 1 && line->text[0] == '.') {
            pending_push(session, SMTP_COMMAND_END_OF_DATA);
            session->client_mode = SMTP_CLIENT_COMMAND;
            session->body_started = false;
            session->data_go_ahead = false;
        }
        return;
    case SMTP_CLIENT_AUTH:
        /* RFC 4954 4: responses are base64, which has neither. Needed when the server's
         * final reply to AUTH is not visible. */
        if (memchr(line->text, ' ', line->length) == NULL &&
            memchr(line->text, ':', line->length) == NULL)
            return;
        session->client_mode = SMTP_CLIENT_COMMAND;
        break;
    case SMTP_CLIENT_RESYNC: {
        struct smtp_command_line command = command_parse(line->text, line->length);
        if (!command_is_resync_point(&command))
            return;
        session->client_mode = SMTP_CLIENT_COMMAND;
        client_command(session, &command);
        return;
    }
    case SMTP_CLIENT_COMMAND:
        break;
    case SMTP_CLIENT_BDAT:
    case SMTP_CLIENT_TLS:
        return;
    }
    if (line->overflow)
        count_up(&session->facts.long_lines);
    struct smtp_command_line command = command_parse(line->text, line->length);
    client_command(session, &command);
}

/* Reads the client's bytes up to and including the next LF, or all of them; returns how many
 * were used. A completed line may change the mode the following bytes are read in. */
static size_t client_line_bytes(struct smtp_session *session, const uint8_t *data, size_t length)
{
    struct smtp_line *line = &session->client_line;
    const uint8_t *line_feed = memchr(data, '\n', length);
    size_t content = line_feed != NULL ? (size_t)(line_feed - data) : length;
    size_t used = line_feed != NULL ? content + 1 : length;

    if (session->client_mode == SMTP_CLIENT_DATA)
        session->body_started = true;
    if (line->discard) {
        if (line_feed != NULL)
            line_reset(line);
        return used;
    }
    /* Body, SASL and resync lines may be long by right (RFC 5321 4.5.3.1.6, RFC 4954 4). */
    size_t limit = session->client_mode == SMTP_CLIENT_DATA ? SMTP_BODY_LINE_KEPT : SMTP_LINE_MAX;
    line_append(line, data, content, limit);
    if (session->client_mode == SMTP_CLIENT_COMMAND && line_begins_tls(line)) {
        start_client_tls(session);
        return length;
    }
    if (line_feed != NULL) {
        client_line_complete(session);
        line_reset(line);
    }
    return used;
}

void smtp_session_init(struct smtp_session *session)
{
    memset(session, 0, sizeof(*session));
    session->client_mode = SMTP_CLIENT_COMMAND;
}

void smtp_client_bytes(struct smtp_session *session, const uint8_t *data, size_t length)
{
    size_t offset = 0;
    while (offset < length) {
        const uint8_t *rest = data + offset;
        size_t rest_length = length - offset;
        switch ((enum smtp_client_mode)session->client_mode) {
        case SMTP_CLIENT_TLS:
            return;
        case SMTP_CLIENT_BDAT: {
            size_t chunk =
                session->bdat_remaining < rest_length ? session->bdat_remaining : rest_length;
            session->bdat_remaining -= (uint32_t)chunk;
            if (session->bdat_remaining == 0)
                session->client_mode = SMTP_CLIENT_COMMAND;
            offset += chunk;
            break;
        }
        case SMTP_CLIENT_COMMAND:
        case SMTP_CLIENT_AUTH:
        case SMTP_CLIENT_DATA:
        case SMTP_CLIENT_RESYNC:
            offset += client_line_bytes(session, rest, rest_length);
            break;
        }
    }
}

void smtp_client_gap(struct smtp_session *session)
{
    count_up(&session->facts.gaps);
    switch ((enum smtp_client_mode)session->client_mode) {
    case SMTP_CLIENT_TLS:
        return;
    case SMTP_CLIENT_BDAT:
        /* The chunk's end can no longer be found by counting. */
        session->client_mode = SMTP_CLIENT_RESYNC;
        session->bdat_remaining = 0;
        break;
    case SMTP_CLIENT_DATA:
        /* The lost bytes were body: a later DATA rejection does not end the body. Body
         * bytes resume mid-line, so the rest of this line is skipped. */
        session->body_started = true;
        line_reset(&session->client_line);
        session->client_line.discard = true;
        return;
    case SMTP_CLIENT_COMMAND:
    case SMTP_CLIENT_AUTH:
    case SMTP_CLIENT_RESYNC:
        /* Clients write a command per segment, so what follows a hole usually starts a
         * line: keep the next well-formed command, skip anything else. */
        session->client_mode = SMTP_CLIENT_RESYNC;
        break;
    }
    line_reset(&session->client_line);
}

void smtp_client_joined(struct smtp_session *session)
{
    if (session->client_mode == SMTP_CLIENT_COMMAND)
        session->client_mode = SMTP_CLIENT_RESYNC;
}

/* RFC 5321 4.1.1.1: EHLO reply lines after the first are "250-KEYWORD params"; AUTH is also
 * announced as "AUTH=mechs" by old servers. */
static void ehlo_reply_line(struct smtp_facts *facts, const char *text, size_t length)
{
    if (has_prefix_nocase(text, length, "AUTH") &&
        (length == 4 || text[4] == ' ' || text[4] == '='))
        facts->ehlo_offers_auth = true;
    if (has_prefix_nocase(text, length, "STARTTLS") && (length == 8 || text[8] == ' '))
        facts->ehlo_offers_starttls = true;
}

static void stop_both_directions(struct smtp_session *session)
{
    session->facts.encrypted = true;
    session->server_stopped = true;
    session->client_mode = SMTP_CLIENT_TLS;
    line_reset(&session->client_line);
}

static void answer_auth(struct smtp_session *session, uint16_t code)
{
    unsigned reply_class = code / 100;
    if (code == 235)
        session->facts.auth_success = true;
    else if (reply_class == 4 || reply_class == 5)
        session->facts.auth_failed = true;
    if (session->client_mode == SMTP_CLIENT_AUTH)
        session->client_mode = SMTP_CLIENT_COMMAND;
}

static void answer_data(struct smtp_session *session, uint16_t code)
{
    unsigned reply_class = code / 100;
    if (code == 354) {
        count_up(&session->facts.data_accepted);
        if (session->client_mode == SMTP_CLIENT_DATA)
            session->data_go_ahead = true;
    } else if ((reply_class == 4 || reply_class == 5) &&
               session->client_mode == SMTP_CLIENT_DATA && !session->body_started) {
        /* RFC 5321 4.1.1.4: no 354, no body; the client's next line is a command. A client
         * that already sent body bytes stays in the body up to its "." */
        session->client_mode = SMTP_CLIENT_COMMAND;
    }
}

static void answer_command(struct smtp_session *session, enum smtp_command command, uint16_t code)
{
    struct smtp_facts *facts = &session->facts;
    unsigned reply_class = code / 100;
    switch (command) {
    case SMTP_COMMAND_AUTH:
        answer_auth(session, code);
        break;
    case SMTP_COMMAND_STARTTLS:
        if (code == 220) {
            facts->starttls_accepted = true;
            stop_both_directions(session);
        }
        break;
    case SMTP_COMMAND_MAIL:
        if (reply_class == 2)
            count_up(&facts->mail_accepted);
        break;
    case SMTP_COMMAND_RCPT:
        if (reply_class == 2)
            count_up(&facts->rcpt_accepted);
        else if (reply_class == 4 || reply_class == 5)
            count_up(&facts->rcpt_rejected);
        break;
    case SMTP_COMMAND_DATA:
        answer_data(session, code);
        break;
    case SMTP_COMMAND_END_OF_DATA:
        if (reply_class == 2)
            count_up(&facts->messages_accepted);
        break;
    case SMTP_COMMAND_BDAT:
    case SMTP_COMMAND_BDAT_LAST:
        if (reply_class == 2) {
            count_up(&facts->data_accepted);
            if (command == SMTP_COMMAND_BDAT_LAST)
                count_up(&facts->messages_accepted);
        }
        break;
    case SMTP_COMMAND_NONE:
    case SMTP_COMMAND_OTHER:
    case SMTP_COMMAND_EHLO:
    case SMTP_COMMAND_HELO:
    case SMTP_COMMAND_QUIT:
        break;
    }
}

/* RFC 5321 3.1 and 4.3.2: the greeting is 220, or 554/421 for a server that refuses. The
 * first reply is the greeting unless it can only be an answer: a command waits and the code
 * is none of those (the greeting was lost before the capture caught this direction). */
static bool reply_is_banner(const struct smtp_session *session, uint16_t code)
{
    if (session->facts.banner_seen || session->facts.last_reply_code != 0)
        return false;
    return code == 220 || code == 421 || code == 554 || pending_empty(session);
}

static void reply_complete(struct smtp_session *session, uint16_t code)
{
    struct smtp_facts *facts = &session->facts;
    bool banner = reply_is_banner(session, code);
    facts->last_reply_code = code;
    if (code / 100 == 4)
        count_up(&facts->replies_4xx);
    else if (code / 100 == 5)
        count_up(&facts->replies_5xx);
    if (banner) {
        facts->banner_seen = true;
        facts->banner_code = code;
        return;
    }
    /* RFC 4954 4: 334 is a challenge within AUTH, never the end of a command. */
    if (code == 334)
        return;
    if (session->client_mode == SMTP_CLIENT_DATA && session->data_go_ahead &&
        pending_empty(session)) {
        /* A body was under way and nothing else waits: the server has taken the message, so
         * the client's "." was lost in a gap. */
        answer_command(session, SMTP_COMMAND_END_OF_DATA, code);
        session->client_mode = SMTP_CLIENT_COMMAND;
        session->data_go_ahead = false;
        session->body_started = false;
        /* A body line the client is half-way through is skipped, not read as a command. */
        struct smtp_line *line = &session->client_line;
        bool partial = line->length > 0 || line->overflow || line->discard;
        line_reset(line);
        line->discard = partial;
        return;
    }
    /* RFC 5321 4.3.2, RFC 4954 6: 354 answers only DATA, 221 only QUIT, 235 only AUTH. */
    if (code == 354)
        pending_skip_to(session, SMTP_COMMAND_DATA);
    else if (code == 221)
        pending_skip_to(session, SMTP_COMMAND_QUIT);
    else if (code == 235)
        pending_skip_to(session, SMTP_COMMAND_AUTH);
    enum smtp_command command = pending_oldest(session);
    pending_pop(session);
    answer_command(session, command, code);
}

static void server_line_complete(struct smtp_session *session)
{
    struct smtp_line *line = &session->server_line;
    struct smtp_facts *facts = &session->facts;
    line_strip_cr(line);
    if (line->overflow)
        count_up(&facts->long_lines);
    const char *text = line->text;
    if (line->length < 3 || !ascii_digit(text[0]) || !ascii_digit(text[1]) ||
        !ascii_digit(text[2]) || (line->length > 3 && text[3] != ' ' && text[3] != '-')) {
        count_up(&facts->invalid_replies);
        return;
    }
    uint16_t code = (uint16_t)((text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0'));
    bool continued = line->length > 3 && text[3] == '-';
    const char *after_code = text + (line->length > 3 ? 4 : 3);
    size_t after_length = line->length > 3 ? line->length - 4u : 0;

    /* RFC 5321 4.2.1: every line of a reply carries the code; "DDD-" lines continue it. */
    bool first_line = session->reply_code == 0;
    if (reply_is_banner(session, code)) {
        if (first_line)
            store_printable(facts->banner, sizeof(facts->banner), after_code, after_length,
                            SMTP_CASE_KEEP);
    } else if (!first_line && code / 100 == 2 && pending_oldest(session) == SMTP_COMMAND_EHLO) {
        /* RFC 5321 4.1.1.1: the first line greets, the keywords come after it. */
        ehlo_reply_line(facts, after_code, after_length);
    }
    if (continued) {
        if (session->reply_code == 0)
            session->reply_code = code;
        return;
    }
    session->reply_code = 0;
    reply_complete(session, code);
}

/* Three digits 2xx-5xx, then SP, '-' or the end of the line (RFC 5321 4.2). */
static bool looks_like_reply_start(const uint8_t *p, size_t length)
{
    return length >= 4 && p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
           p[2] >= '0' && p[2] <= '9' && (p[3] == ' ' || p[3] == '-' || p[3] == '\r');
}

void smtp_server_bytes(struct smtp_session *session, const uint8_t *data, size_t length)
{
    struct smtp_line *line = &session->server_line;
    size_t offset = 0;
    while (offset < length && !session->server_stopped) {
        const uint8_t *rest = data + offset;
        size_t rest_length = length - offset;
        const uint8_t *line_feed = memchr(rest, '\n', rest_length);
        size_t content = line_feed != NULL ? (size_t)(line_feed - rest) : rest_length;
        offset += line_feed != NULL ? content + 1 : rest_length;
        if (line->after_gap) {
            /* Servers write whole replies per segment, so the bytes after a hole usually
             * start one; only a torn line is skipped. */
            line->after_gap = false;
            if (looks_like_reply_start(rest, rest_length))
                line->discard = false;
        }
        if (line->discard) {
            if (line_feed != NULL)
                line_reset(line);
            continue;
        }
        line_append(line, rest, content, SMTP_LINE_MAX);
        if (line_begins_tls(line)) {
            /* The server speaks TLS (implicit TLS, or its 220 to STARTTLS was missed). */
            session->server_stopped = true;
            session->facts.encrypted = true;
            line_reset(line);
            return;
        }
        if (line_feed != NULL) {
            server_line_complete(session);
            line_reset(line);
        }
    }
}

void smtp_server_gap(struct smtp_session *session)
{
    count_up(&session->facts.gaps);
    if (session->server_stopped)
        return;
    line_reset(&session->server_line);
    session->server_line.discard = true;
    session->server_line.after_gap = true;
    session->reply_code = 0;
    /* Replies may have been lost with the bytes: forgetting what waits keeps the replies that
     * follow from answering the wrong commands, for the price of leaving a few unattributed. */
    session->pending_count = 0;
    session->pending_overflow = 0;
}
