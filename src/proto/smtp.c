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
    bool cut; /* the line's end was not seen: only what its captured start shows counts */
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

/* A line that may hold credentials (an AUTH command with its initial response, a SASL
 * response): the sensor needs none of its bytes once it is read, so they are cleared and no
 * parser state keeps a secret past its line. AUTH lines are rare: the whole buffer goes. */
static void line_wipe(struct smtp_line *line)
{
    memset(line->text, 0, sizeof(line->text));
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

/* The ring's slot "i" runs after its head. */
static struct smtp_pending *pending_run(struct smtp_session *session, unsigned i)
{
    return &session->pending[(session->pending_head + i) % SMTP_PENDING_MAX];
}

static void pending_push(struct smtp_session *session, enum smtp_command command)
{
    /* A client sends on after the replies it waited for (RFC 2920 3.1): replies owed to
     * commands forgotten before this one have come by now, or never will. */
    session->replies_owed = 0;
    /* Once a command is queued behind the ring, later ones must queue too, or their replies
     * would be taken by commands older than them. */
    if (session->pending_overflow == 0 && session->pending_count > 0) {
        struct smtp_pending *last = pending_run(session, session->pending_count - 1u);
        if (last->command == command && last->count < UINT16_MAX) {
            last->count++;
            return;
        }
    }
    if (session->pending_overflow > 0 || session->pending_count >= SMTP_PENDING_MAX) {
        if (session->pending_dropped < UINT32_MAX)
            session->pending_dropped++;
        if (session->pending_overflow < UINT32_MAX)
            session->pending_overflow++;
        return;
    }
    struct smtp_pending *run = pending_run(session, session->pending_count);
    run->command = (uint8_t)command;
    run->count = 1;
    session->pending_count++;
}

static enum smtp_command pending_oldest(const struct smtp_session *session)
{
    if (session->pending_count == 0)
        return SMTP_COMMAND_NONE;
    return (enum smtp_command)session->pending[session->pending_head].command;
}

static void pending_pop(struct smtp_session *session)
{
    if (session->pending_count > 0) {
        struct smtp_pending *run = &session->pending[session->pending_head];
        if (--run->count > 0)
            return;
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
        if (pending_run(session, i)->command == command) {
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

/* The replies of the waiting commands may have been among unseen server bytes, or may yet
 * come: which is not known, so they are forgotten, their outcomes marked unknown, and as
 * many replies with no command to answer are taken for theirs. */
static void pending_forget(struct smtp_session *session)
{
    struct smtp_facts *facts = &session->facts;
    uint64_t owed = session->replies_owed + (uint64_t)session->pending_overflow;
    if (session->pending_overflow > 0) /* their kinds were not kept */
        facts->mail_answers_unseen = facts->rcpt_answers_unseen = facts->message_answers_unseen =
            true;
    for (unsigned i = 0; i < session->pending_count; i++) {
        const struct smtp_pending *run = pending_run(session, i);
        owed += run->count;
        switch ((enum smtp_command)run->command) {
        case SMTP_COMMAND_MAIL:
            facts->mail_answers_unseen = true;
            break;
        case SMTP_COMMAND_RCPT:
            facts->rcpt_answers_unseen = true;
            break;
        case SMTP_COMMAND_DATA:
        case SMTP_COMMAND_END_OF_DATA:
        case SMTP_COMMAND_BDAT:
        case SMTP_COMMAND_BDAT_LAST:
            facts->message_answers_unseen = true;
            break;
        default:
            break;
        }
    }
    session->replies_owed = owed > UINT32_MAX ? UINT32_MAX : (uint32_t)owed;
    session->pending_count = 0;
    session->pending_overflow = 0;
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

/* EHLO or HELO: the name is kept only from a line seen whole. */
static void client_helo(struct smtp_session *session, const struct smtp_command_line *command)
{
    struct smtp_facts *facts = &session->facts;
    bool ehlo = command->verb == SMTP_VERB_EHLO;
    count_up(&facts->helo_count);
    if (!command->cut) {
        facts->helo_seen = true;
        facts->ehlo = ehlo;
        store_printable(facts->helo, sizeof(facts->helo), command->argument,
                        word_length(command->argument, command->argument_length), SMTP_CASE_KEEP);
    }
    pending_push(session, ehlo ? SMTP_COMMAND_EHLO : SMTP_COMMAND_HELO);
}

/* RFC 3030 2. A cut BDAT line may have lost digits of its size or its LAST: its chunk
 * cannot be followed, and whether it ended the message is not known. */
static void client_bdat(struct smtp_session *session, const struct smtp_command_line *command)
{
    count_up(&session->facts.data_count);
    if (command->cut) {
        pending_push(session, SMTP_COMMAND_BDAT);
        session->facts.message_answers_unseen = true;
        session->client_mode = SMTP_CLIENT_RESYNC;
        return;
    }
    pending_push(session, command->bdat_last ? SMTP_COMMAND_BDAT_LAST : SMTP_COMMAND_BDAT);
    session->bdat_remaining = command->bdat_size;
    session->bdat_last = command->bdat_last;
    if (command->bdat_size > 0)
        session->client_mode = SMTP_CLIENT_BDAT;
}

/* RFC 4422 3.1: a SASL mechanism name is 1 to 20 upper-case letters, digits, hyphens and
 * underscores (sent in any case: RFC 4954 4 compares without it). A first word that is no
 * such name (a client that put its credentials where the name goes) is not kept. */
static bool sasl_mechanism_name(const char *text, size_t length)
{
    if (length == 0 || length > 20)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = ascii_upper(text[i]);
        if (!(c >= 'A' && c <= 'Z') && !ascii_digit(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

/* RFC 4954 4: the mechanism is the first word; from a cut line, only if its end was seen.
 * After it may come an initial response ("=" is an empty one): credentials, in clear. */
static void client_auth(struct smtp_session *session, const struct smtp_command_line *command)
{
    struct smtp_facts *facts = &session->facts;
    size_t word = word_length(command->argument, command->argument_length);
    facts->auth_attempted = true;
    if (!command->cut || word < command->argument_length) {
        if (sasl_mechanism_name(command->argument, word))
            store_printable(facts->auth_mechanism, sizeof(facts->auth_mechanism), command->argument,
                            word, SMTP_CASE_UPPER);
        else
            facts->auth_mechanism[0] = '\0';
    }
    size_t rest = word;
    while (rest < command->argument_length && command->argument[rest] == ' ')
        rest++;
    size_t response = command->argument_length - rest;
    if (rest > word && response > 0 && !(response == 1 && command->argument[rest] == '='))
        facts->auth_credentials_sent = true;
    pending_push(session, SMTP_COMMAND_AUTH);
    session->client_mode = SMTP_CLIENT_AUTH;
}

static void client_command(struct smtp_session *session, const struct smtp_command_line *command)
{
    struct smtp_facts *facts = &session->facts;
    switch (command->verb) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
        client_helo(session, command);
        return;
    case SMTP_VERB_MAIL:
        if (!command->well_formed)
            break;
        count_up(&facts->mail_count);
        /* The first MAIL FROM, seen whole: not one after unseen commands. */
        if (facts->mail_count == 1 && !command->cut && !facts->commands_unseen)
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
        client_bdat(session, command);
        return;
    case SMTP_VERB_AUTH:
        if (!command->well_formed)
            break;
        client_auth(session, command);
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
        /* The server answers junk too (500): it keeps its place in the ring. A cut line
         * may be a command whose verb was not captured whole: not judged. */
        if (!command->cut)
            count_up(&facts->invalid_commands);
        break;
    }
    pending_push(session, SMTP_COMMAND_OTHER);
}

/* Lines that may restart command parsing where the line start is not certain: the usual
 * next commands, well formed, so that a torn tail or chunk content rarely passes for one. */
static bool command_is_resync_point(const struct smtp_command_line *command)
{
    return command->verb != SMTP_VERB_UNKNOWN && command->verb != SMTP_VERB_IGNORED &&
           command->well_formed;
}

/* The captured start of a command line whose end was not seen. A verb counts when the
 * captured bytes show where it ends (a space after it, or a verb that takes no argument)
 * and, for MAIL and RCPT, the "FROM:"/"TO:" it needs; a BDAT needs the first digit of its
 * size. Anything else still takes its place among the commands a reply answers, except
 * while resynchronising, where only a well-formed command is taken. */
static void client_cut_line(struct smtp_session *session, bool resync)
{
    struct smtp_line *line = &session->client_line;
    struct smtp_command_line command = command_parse(line->text, line->length);
    command.cut = true;
    bool verb_ended = memchr(line->text, ' ', line->length) != NULL;
    switch (command.verb) {
    case SMTP_VERB_BDAT:
        command.well_formed = command.argument_length > 0 && ascii_digit(command.argument[0]);
        break;
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
    case SMTP_VERB_AUTH:
        command.well_formed = verb_ended;
        break;
    default:
        break;
    }
    if (resync && !command_is_resync_point(&command))
        return;
    client_command(session, &command);
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
         * final reply to AUTH is not visible. A response other than "*" (which cancels) and
         * the empty one carries credentials. */
        if (memchr(line->text, ' ', line->length) == NULL &&
            memchr(line->text, ':', line->length) == NULL) {
            if (line->length > 0 && !(line->length == 1 && line->text[0] == '*'))
                session->facts.auth_credentials_sent = true;
            return;
        }
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
    if ((session->client_mode == SMTP_CLIENT_COMMAND ||
         session->client_mode == SMTP_CLIENT_RESYNC) &&
        line_begins_tls(line)) {
        start_client_tls(session);
        return length;
    }
    if (line_feed != NULL) {
        bool secret = session->client_mode == SMTP_CLIENT_AUTH;
        client_line_complete(session);
        if (secret || session->client_mode == SMTP_CLIENT_AUTH)
            line_wipe(line);
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

/* Client bytes were not seen: "length" of them when counted is true (cut by the snap
 * length), an unknown number otherwise (a gap). */
static void client_unseen(struct smtp_session *session, bool counted, uint32_t length)
{
    struct smtp_line *line = &session->client_line;
    bool secret = session->client_mode == SMTP_CLIENT_AUTH;
    count_up(&session->facts.gaps);
    switch ((enum smtp_client_mode)session->client_mode) {
    case SMTP_CLIENT_TLS:
        return;
    case SMTP_CLIENT_BDAT:
        /* Chunk bytes: counted ones keep the chunk's end in sight. */
        if (counted && length <= session->bdat_remaining) {
            session->bdat_remaining -= length;
            if (session->bdat_remaining == 0)
                session->client_mode = SMTP_CLIENT_COMMAND;
            return;
        }
        session->bdat_remaining = 0;
        break;
    case SMTP_CLIENT_DATA:
        /* The unseen bytes were body (a "." among them shows in the server's reply): a later
         * DATA rejection does not end the body, and the rest of this line is skipped. */
        session->body_started = true;
        line_reset(line);
        line->discard = true;
        return;
    case SMTP_CLIENT_COMMAND:
    case SMTP_CLIENT_RESYNC:
        if (line->length > 0 && !line->discard)
            client_cut_line(session, session->client_mode == SMTP_CLIENT_RESYNC);
        break;
    case SMTP_CLIENT_AUTH:
        break;
    }
    /* Commands may have been among the unseen bytes. A line cut by them is taken for what
     * its start shows, and reading resumes at the next well-formed command: clients write
     * a command per segment, so one usually starts right after; a torn tail is skipped. A
     * cut DATA leaves the body to come. */
    session->facts.commands_unseen = true;
    if (secret || session->client_mode == SMTP_CLIENT_AUTH)
        line_wipe(line);
    line_reset(line);
    if (session->client_mode == SMTP_CLIENT_DATA)
        line->discard = true;
    else if (session->client_mode != SMTP_CLIENT_TLS)
        session->client_mode = SMTP_CLIENT_RESYNC;
}

void smtp_client_gap(struct smtp_session *session)
{
    client_unseen(session, false, 0);
}

void smtp_client_missing(struct smtp_session *session, uint32_t length)
{
    if (length > 0)
        client_unseen(session, true, length);
}

void smtp_client_joined(struct smtp_session *session)
{
    session->facts.commands_unseen = true;
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
    if (code == 535)
        count_up(&session->facts.auth_rejected);
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
    } else if ((reply_class == 4 || reply_class == 5) && session->client_mode == SMTP_CLIENT_DATA &&
               !session->body_started) {
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

static bool pending_holds(const struct smtp_session *session, enum smtp_command command)
{
    for (unsigned i = 0; i < session->pending_count; i++) {
        if (session->pending[(session->pending_head + i) % SMTP_PENDING_MAX].command == command)
            return true;
    }
    return false;
}

/* RFC 5321 3.1: the server's first reply is its greeting, 220, or 554 from a server that
 * refuses (421 may come at any time). A stream seen from its start shows it first. After
 * unseen server bytes it may have been among them, so a reply is only the greeting if it
 * can be nothing else: a 220 with no STARTTLS waiting, or a 554 with nothing waiting, and
 * no command unseen that it could answer. */
static bool reply_is_banner(const struct smtp_session *session, uint16_t code)
{
    const struct smtp_facts *facts = &session->facts;
    if (facts->banner_seen || facts->last_reply_code != 0)
        return false;
    if (!session->server_unseen)
        return true;
    if (facts->commands_unseen)
        return false;
    return (code == 220 && !pending_holds(session, SMTP_COMMAND_STARTTLS)) ||
           (code == 554 && pending_empty(session));
}

/* A body was under way and nothing else waits: the server has taken the message, so the
 * client's "." was among unseen bytes. The client sent its next bytes after that, so they
 * begin a line; reading resumes at the next well-formed command all the same, since the
 * bytes the client sent before are not known. */
static void end_of_data_inferred(struct smtp_session *session, uint16_t code)
{
    answer_command(session, SMTP_COMMAND_END_OF_DATA, code);
    session->data_go_ahead = false;
    session->body_started = false;
    struct smtp_line *line = &session->client_line;
    bool partial = line->length > 0 || line->overflow || line->discard;
    line_reset(line);
    session->client_mode = partial ? SMTP_CLIENT_RESYNC : SMTP_CLIENT_COMMAND;
}

/* A reply no command seen waits for: the answer to a command forgotten at unseen server
 * bytes, or proof that the client sent a command the capture did not show (RFC 5321 4.2:
 * one reply per command; 421 excepted, which a server may send at any time, 3.8). */
static void reply_unattributed(struct smtp_session *session, uint16_t code)
{
    if (session->replies_owed > 0)
        session->replies_owed--;
    else if (code != 421)
        session->facts.commands_unseen = true;
}

static void reply_complete(struct smtp_session *session, uint16_t code)
{
    struct smtp_facts *facts = &session->facts;
    bool banner = reply_is_banner(session, code);
    facts->last_reply_code = code;
    facts->last_reply_unseen = false;
    if (code / 100 == 4)
        count_up(&facts->replies_4xx);
    else if (code / 100 == 5)
        count_up(&facts->replies_5xx);
    if (code == 421)
        count_up(&facts->replies_421);
    else if (code == 452)
        count_up(&facts->replies_452);
    if (banner) {
        facts->banner_seen = true;
        facts->banner_code = code;
        return;
    }
    /* RFC 4954 4: 334 is a challenge within AUTH, never the end of a command. */
    if (code == 334)
        return;
    /* RFC 5321 4.3.2: 354 answers only DATA, so the body goes ahead even when the DATA it
     * answers was forgotten at unseen server bytes. */
    if (code == 354 && session->client_mode == SMTP_CLIENT_DATA)
        session->data_go_ahead = true;
    if (session->client_mode == SMTP_CLIENT_DATA && session->data_go_ahead &&
        pending_empty(session) && code != 354) {
        end_of_data_inferred(session, code);
        return;
    }
    /* RFC 5321 4.3.2, RFC 4954 6: 354 answers only DATA, 221 only QUIT, 235 only AUTH. */
    if (code == 354)
        pending_skip_to(session, SMTP_COMMAND_DATA);
    else if (code == 221)
        pending_skip_to(session, SMTP_COMMAND_QUIT);
    else if (code == 235)
        pending_skip_to(session, SMTP_COMMAND_AUTH);
    if (pending_empty(session)) {
        reply_unattributed(session, code);
        return;
    }
    enum smtp_command command = pending_oldest(session);
    pending_pop(session);
    answer_command(session, command, code);
}

/* Three digits, the first 2 to 5, then SP, '-' or the end of the line (RFC 5321 4.2,
 * 4.2.1). Other codes are no replies: a code 000 would also read as "no reply under way",
 * and the events only carry 200 to 599. */
static bool reply_shaped(const char *text, size_t length)
{
    return length >= 3 && text[0] >= '2' && text[0] <= '5' && ascii_digit(text[1]) &&
           ascii_digit(text[2]) && (length == 3 || text[3] == ' ' || text[3] == '-');
}

/* A reply line: whole, or (cut) the captured start of one whose end was not seen, which
 * counts only when its code and what follows the code were captured. */
static void server_line_complete(struct smtp_session *session, bool cut)
{
    struct smtp_line *line = &session->server_line;
    struct smtp_facts *facts = &session->facts;
    if (!cut)
        line_strip_cr(line);
    if (line->overflow)
        count_up(&facts->long_lines);
    const char *text = line->text;
    if (!reply_shaped(text, line->length) || (cut && line->length < 4)) {
        if (!cut)
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
        if (first_line && cut) {
            /* The greeting's text is its first line's, and that was cut: none is kept. */
            facts->banner_cut = true;
            facts->banner[0] = '\0';
        } else if (first_line)
            store_printable(facts->banner, sizeof(facts->banner), after_code, after_length,
                            SMTP_CASE_KEEP);
    } else if (!first_line && !cut && code / 100 == 2 &&
               pending_oldest(session) == SMTP_COMMAND_EHLO) {
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
    return length >= 4 && p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
           p[2] <= '9' && (p[3] == ' ' || p[3] == '-' || p[3] == '\r');
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
            server_line_complete(session, false);
            line_reset(line);
        }
    }
}

/* Server bytes were not seen. A reply whose end was among them is taken for what was seen
 * of it; the replies of the commands still waiting may have been among them too, so those
 * are forgotten (pending_forget), and reading resumes at the next reply. */
static void server_unseen(struct smtp_session *session)
{
    struct smtp_line *line = &session->server_line;
    count_up(&session->facts.gaps);
    if (session->server_stopped)
        return;
    if (line->length > 0 && !line->discard)
        server_line_complete(session, true);
    if (session->reply_code != 0 && !session->server_stopped) {
        uint16_t code = session->reply_code;
        session->reply_code = 0;
        reply_complete(session, code);
    }
    pending_forget(session);
    session->server_unseen = true;
    session->facts.last_reply_unseen = true;
    line_reset(line);
    line->discard = true;
    line->after_gap = true;
}

void smtp_server_gap(struct smtp_session *session)
{
    server_unseen(session);
}

void smtp_server_missing(struct smtp_session *session, uint32_t length)
{
    if (length > 0)
        server_unseen(session);
}

void smtp_server_joined(struct smtp_session *session)
{
    struct smtp_line *line = &session->server_line;
    if (session->server_stopped)
        return;
    session->server_unseen = true;
    line_reset(line);
    line->discard = true;
    line->after_gap = true;
}
