/* POP3 (RFC 1939, RFC 2449, AUTH RFC 5034, STLS RFC 2595) and IMAP (RFC 9051: LOGIN,
 * AUTHENTICATE, STARTTLS, literals) login parsers: fed each direction's bytes in stream
 * order, they tell whether a login succeeded, which is what POP-before-SMTP rests on (draft
 * section 4.2: "MSAs MUST NOT serve POP before SMTP"). Names and passwords are never kept.
 * Fixed size, no allocation; parsing stops once the login is decided or TLS begins. */
#ifndef OP25B_MAIL_LOGIN_H
#define OP25B_MAIL_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAIL_LOGIN_LINE_MAX 256 /* enough for a tag, a command and its first arguments */
#define MAIL_LOGIN_TAG_MAX 32
#define MAIL_LOGIN_MECHANISM_MAX 24
#define MAIL_LOGIN_PENDING_MAX 8 /* POP3 commands awaiting a status (RFC 2449 PIPELINING) */

enum mail_login_protocol { MAIL_LOGIN_POP3 = 0, MAIL_LOGIN_IMAP };

struct mail_login_facts {
    bool greeting_seen;
    bool greeting_ok;        /* +OK, or IMAP * OK / * PREAUTH */
    bool login_attempted;    /* USER/PASS, APOP, AUTH, LOGIN or AUTHENTICATE was sent */
    bool login_success;      /* the server accepted one (or greeted with PREAUTH) */
    uint32_t login_failures; /* logins the server refused */
    /* How: "USER", "APOP", "LOGIN", "PREAUTH", or the SASL mechanism (upper case). */
    char mechanism[MAIL_LOGIN_MECHANISM_MAX];
    bool starttls_requested; /* STLS (POP3) or STARTTLS (IMAP) */
    bool encrypted;          /* TLS began: nothing after it is readable */
};

struct mail_login_line {
    uint16_t length;
    bool overflow; /* longer than MAIL_LOGIN_LINE_MAX: the rest was dropped */
    bool discard;  /* skip to the next LF (after a gap) */
    char text[MAIL_LOGIN_LINE_MAX];
};

struct mail_login_session {
    struct mail_login_facts facts;

    /* Internal state; read facts only. */
    uint8_t protocol;      /* enum mail_login_protocol */
    uint8_t client_mode;   /* commands, SASL responses, or stopped */
    bool done;             /* the login is decided or TLS began: nothing more is read */
    bool server_multiline; /* POP3: inside a multi-line response, up to "." */
    bool client_continues; /* IMAP: the line after a literal continues the command */
    bool server_continues;
    uint32_t client_literal; /* IMAP literal bytes still to skip (RFC 9051 4.3) */
    uint32_t server_literal;
    uint8_t pending[MAIL_LOGIN_PENDING_MAX];
    uint8_t pending_head;
    uint8_t pending_count;
    char login_tag[MAIL_LOGIN_TAG_MAX];    /* IMAP: the LOGIN/AUTHENTICATE awaiting its end */
    char starttls_tag[MAIL_LOGIN_TAG_MAX]; /* IMAP: the STARTTLS awaiting its end */
    struct mail_login_line client_line;
    struct mail_login_line server_line;
};

void mail_login_init(struct mail_login_session *session, enum mail_login_protocol protocol);
/* Bytes the client (the side that opened the connection) sent, in stream order. */
void mail_login_client_bytes(struct mail_login_session *session, const uint8_t *data,
                             size_t length);
void mail_login_server_bytes(struct mail_login_session *session, const uint8_t *data,
                             size_t length);
/* Bytes of that direction were lost: the partial line is dropped. */
void mail_login_client_gap(struct mail_login_session *session);
void mail_login_server_gap(struct mail_login_session *session);

const char *mail_login_protocol_name(enum mail_login_protocol protocol);

#endif
