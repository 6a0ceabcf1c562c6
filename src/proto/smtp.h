/* SMTP dialogue state machine (RFC 5321, pipelining RFC 2920, AUTH RFC 4954, STARTTLS
 * RFC 3207, CHUNKING RFC 3030). It is fed each direction's bytes in stream order (the
 * caller removes TCP retransmissions and reports what it could not see: a gap of unknown
 * length, or bytes of known length cut off by the snap length) and records the facts OP25B
 * verdicts and detections need. Fixed size, no allocation: one session per dialogue.
 *
 * What was not seen is never guessed: a line cut short gives its command or reply code but
 * no text, the bytes after unseen ones are read on only from the next command or reply, and
 * the facts below say which counts the unseen bytes may have made too low (commands_unseen,
 * *_answers_unseen). */
#ifndef OP25B_SMTP_H
#define OP25B_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX 512   /* RFC 5321 4.5.3.1.4/4.5.3.1.5: command and reply line limit */
#define SMTP_HELO_MAX 128   /* EHLO/HELO argument kept, truncated beyond */
#define SMTP_BANNER_MAX 128 /* greeting text kept, truncated beyond */
#define SMTP_DOMAIN_MAX 128 /* MAIL FROM domain kept, truncated beyond */
#define SMTP_MECHANISM_MAX 24
#define SMTP_PENDING_MAX 32 /* runs of pipelined commands of one kind awaiting replies */

/* What the dialogue showed. Strings are NUL-terminated, printable ASCII only (other bytes
 * are replaced with '?'), and empty when not seen. */
struct smtp_facts {
    bool banner_seen; /* the server's first reply (220 greeting, or 554) */
    bool banner_cut;  /* its first line was cut: the code is known, the text not */
    uint16_t banner_code;
    char banner[SMTP_BANNER_MAX]; /* greeting text after the code; "" when cut */

    bool helo_seen;            /* an EHLO or HELO line was seen whole */
    bool ehlo;                 /* the last one seen whole was EHLO (false: HELO) */
    uint32_t helo_count;       /* EHLO/HELO commands, whole or cut */
    char helo[SMTP_HELO_MAX];  /* argument of the last EHLO/HELO seen whole */
    bool ehlo_offers_auth;     /* an EHLO reply listed AUTH */
    bool ehlo_offers_starttls; /* an EHLO reply listed STARTTLS */

    bool auth_attempted; /* the client sent AUTH */
    bool auth_success;   /* the server answered 235 */
    bool auth_failed;    /* the server answered AUTH with 4xx/5xx */
    char auth_mechanism[SMTP_MECHANISM_MAX];

    bool starttls_requested; /* the client sent STARTTLS */
    bool starttls_accepted;  /* 220 to STARTTLS, or the client began TLS after asking */
    bool encrypted;          /* parsing stopped: what follows is TLS */

    uint32_t mail_count;                    /* MAIL FROM commands */
    uint32_t mail_accepted;                 /* ... answered 2xx */
    bool mail_from_null;                    /* the first MAIL FROM was <> (bounce) */
    char mail_from_domain[SMTP_DOMAIN_MAX]; /* domain of the first MAIL FROM, lower case */

    uint32_t rcpt_count;    /* RCPT TO commands */
    uint32_t rcpt_accepted; /* ... answered 2xx */
    uint32_t rcpt_rejected; /* ... answered 4xx or 5xx */

    uint32_t data_count;        /* DATA or BDAT commands */
    uint32_t data_accepted;     /* DATA answered 354, or BDAT answered 2xx */
    uint32_t messages_accepted; /* end of message (DATA's final dot, BDAT LAST) answered 2xx */

    bool quit_seen;
    uint16_t last_reply_code;
    uint32_t replies_4xx;
    uint32_t replies_5xx;
    uint32_t invalid_commands; /* client lines that are no SMTP command */
    uint32_t invalid_replies;  /* server lines that are no SMTP reply */
    uint32_t long_lines;       /* lines longer than SMTP_LINE_MAX (kept cut) */
    uint32_t gaps;             /* times the caller reported lost bytes (gaps and cuts) */

    /* What unseen bytes (a gap, a cut, a capture that joined midway) leave unknown. */
    bool commands_unseen;        /* client bytes that may have held commands were not seen,
                                    or a reply answered no command seen: the command counts
                                    (helo, mail, rcpt, data) are lower bounds */
    bool mail_answers_unseen;    /* a MAIL FROM's reply may have been unseen */
    bool rcpt_answers_unseen;    /* an RCPT TO's reply may have been unseen */
    bool message_answers_unseen; /* a DATA, BDAT or end of message reply may have been unseen */
    bool last_reply_unseen;      /* server bytes after the last reply seen were not seen */

    /* What the MSA abuse and cleartext AUTH findings read. */
    bool auth_credentials_sent; /* the client sent an AUTH initial response or a SASL response
                                   line (RFC 4954 4): a secret crossed before any TLS, since
                                   nothing is read after it. The bytes themselves are wiped
                                   once their line is read, never kept */
    uint32_t auth_rejected;     /* AUTH answered 535, credentials invalid (RFC 4954 6) */
    uint32_t replies_421;       /* 421 replies, the greeting's included: the server closes,
                                   often at a per-client connection or rate limit */
    uint32_t replies_452;       /* 452 replies: too many recipients or no room (a quota) */
};

enum smtp_client_mode {
    SMTP_CLIENT_COMMAND = 0,
    SMTP_CLIENT_AUTH,   /* lines are AUTH responses (base64), not commands */
    SMTP_CLIENT_DATA,   /* message body until a line holding only "." */
    SMTP_CLIENT_BDAT,   /* a counted BDAT chunk */
    SMTP_CLIENT_TLS,    /* encrypted: nothing more is read */
    SMTP_CLIENT_RESYNC, /* a BDAT chunk lost bytes: skip lines until one is a command */
};

struct smtp_line {
    uint16_t length; /* bytes held in text */
    bool overflow;   /* the line ran past SMTP_LINE_MAX: the rest is dropped */
    bool discard;    /* skip to the next LF (resynchronise after a gap) */
    bool after_gap;  /* discard was set by a gap: a reply-shaped start cancels it */
    char text[SMTP_LINE_MAX];
};

struct smtp_session {
    struct smtp_facts facts;

    /* Internal state; read facts only. */
    uint8_t client_mode;
    bool server_stopped; /* the server side is encrypted */
    bool body_started;   /* bytes of the current DATA body seen */
    bool data_go_ahead;  /* the body being read was answered 354 */
    uint32_t bdat_remaining;
    bool bdat_last;
    /* Commands awaiting replies, oldest first, as runs of one kind (a pipelined group of
     * 100 RCPT TO is one run), in a ring. */
    struct smtp_pending {
        uint8_t command; /* enum smtp_command (smtp.c) */
        uint16_t count;  /* commands in the run, at least 1 */
    } pending[SMTP_PENDING_MAX];
    uint8_t pending_head;
    uint8_t pending_count;     /* runs in the ring */
    uint32_t pending_dropped;  /* commands that did not fit the ring */
    uint32_t pending_overflow; /* of those, still awaiting replies (queued after the ring) */
    uint32_t replies_owed;     /* replies to commands forgotten at unseen server bytes */
    bool server_unseen;        /* server bytes went unseen (or the stream joined midway) */
    uint16_t reply_code;       /* code of the multi-line reply being read, 0 if none */
    struct smtp_line client_line;
    struct smtp_line server_line;
};

void smtp_session_init(struct smtp_session *session);
/* Bytes the client (the side that opened the connection) sent, in stream order. */
void smtp_client_bytes(struct smtp_session *session, const uint8_t *data, size_t length);
/* Bytes the server sent, in stream order. */
void smtp_server_bytes(struct smtp_session *session, const uint8_t *data, size_t length);
/* Some bytes of that direction were lost, how many is not known: the partial line is taken
 * for what it shows (a cut line), and reading resumes at the next command or reply. */
void smtp_client_gap(struct smtp_session *session);
void smtp_server_gap(struct smtp_session *session);
/* "length" bytes of that direction were sent but not captured (the snap length cut the
 * segment): as a gap, except that a BDAT chunk keeps its count through them. */
void smtp_client_missing(struct smtp_session *session, uint32_t length);
void smtp_server_missing(struct smtp_session *session, uint32_t length);
/* The capture joined the connection midway: read on from the next well-formed command. */
void smtp_client_joined(struct smtp_session *session);
/* The server's stream was caught midway (its SYN-ACK was not seen): the first reply is not
 * taken for the greeting unless it can only be one. */
void smtp_server_joined(struct smtp_session *session);

#endif
