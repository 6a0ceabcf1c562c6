#include <criterion/criterion.h>

#include <pcap/pcap.h>
#include <string.h>

#include "decode/decode.h"
#include "proto/mail_login.h"
#include "track/tcp_stream.h"

/* One side of a dialogue: 'C' client or 'S' server, and its bytes. */
struct turn {
    char side;
    const char *text;
    size_t length; /* 0: strlen(text) */
};

/* Plays the dialogue in chunks of at most `chunk` bytes (0: each turn whole). */
static void play(struct mail_login_session *session, const struct turn *turns, size_t count,
                 size_t chunk)
{
    for (size_t i = 0; i < count; i++) {
        const uint8_t *bytes = (const uint8_t *)turns[i].text;
        size_t length = turns[i].length != 0 ? turns[i].length : strlen(turns[i].text);
        size_t step = chunk == 0 ? length : chunk;
        for (size_t at = 0; at < length; at += step) {
            size_t piece = length - at < step ? length - at : step;
            if (turns[i].side == 'C')
                mail_login_client_bytes(session, bytes + at, piece);
            else
                mail_login_server_bytes(session, bytes + at, piece);
        }
    }
}

/* The same dialogue whole and byte by byte must give the same facts. */
static struct mail_login_facts run(enum mail_login_protocol protocol, const struct turn *turns,
                                   size_t count)
{
    struct mail_login_session whole, bytewise;
    mail_login_init(&whole, protocol);
    mail_login_init(&bytewise, protocol);
    play(&whole, turns, count, 0);
    play(&bytewise, turns, count, 1);
    cr_assert_eq(whole.facts.login_success, bytewise.facts.login_success);
    cr_assert_eq(whole.facts.login_failures, bytewise.facts.login_failures);
    cr_assert_eq(whole.facts.encrypted, bytewise.facts.encrypted);
    cr_assert_str_eq(whole.facts.mechanism, bytewise.facts.mechanism);
    return whole.facts;
}

#define RUN(protocol, turns) run(protocol, turns, sizeof(turns) / sizeof(turns[0]))

Test(pop3, user_pass)
{
    static const struct turn turns[] = {
        {'S', "+OK POP3 server ready\r\n"},
        {'C', "USER bob\r\n"},
        {'S', "+OK\r\n"},
        {'C', "PASS hunter2\r\n"},
        {'S', "+OK maildrop has 2 messages\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, turns);
    cr_assert(facts.greeting_seen && facts.greeting_ok);
    cr_assert(facts.login_attempted);
    cr_assert(facts.login_success);
    cr_assert_eq(facts.login_failures, 0);
    cr_assert_str_eq(facts.mechanism, "USER");
    cr_assert(!facts.encrypted);
}

/* No password is left in the session once its line is read, whole or in pieces. */
static void expect_forgotten(const struct turn *turns, size_t count,
                             enum mail_login_protocol protocol, const char *secret)
{
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        struct mail_login_session session;
        mail_login_init(&session, protocol);
        play(&session, turns, count, chunk);
        cr_expect_null(memmem(&session, sizeof(session), secret, strlen(secret)),
                       "the password is still in the session (chunks of %zu)", chunk);
    }
}

Test(mail_login, passwords_are_wiped_once_read)
{
    static const struct turn pop3[] = {
        {'S', "+OK POP3 server ready\r\n"}, {'C', "USER bob\r\n"}, {'S', "+OK\r\n"},
        {'C', "PASS hunter2\r\n"},          {'S', "-ERR no\r\n"},  {'C', "PASS hunter3\r\n"},
    };
    expect_forgotten(pop3, 4, MAIL_LOGIN_POP3, "hunter2");
    expect_forgotten(pop3, 6, MAIL_LOGIN_POP3, "hunter3");
    static const struct turn imap[] = {
        {'S', "* OK IMAP4rev1 ready\r\n"},
        {'C', "a1 LOGIN bob s3cretpass\r\n"},
    };
    expect_forgotten(imap, 2, MAIL_LOGIN_IMAP, "s3cretpass");
}

Test(pop3, wrong_password_then_right)
{
    static const struct turn turns[] = {
        {'S', "+OK ready\r\n"},
        {'C', "USER bob\r\n"},
        {'S', "+OK\r\n"},
        {'C', "PASS nope\r\n"},
        {'S', "-ERR [AUTH] invalid password\r\n"},
        {'C', "USER bob\r\n"},
        {'S', "+OK\r\n"},
        {'C', "PASS right\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, turns);
    cr_assert(!facts.login_success, "no answer to the second PASS yet");
    cr_assert_eq(facts.login_failures, 1);
    struct mail_login_session session;
    mail_login_init(&session, MAIL_LOGIN_POP3);
    play(&session, turns, sizeof(turns) / sizeof(turns[0]), 0);
    mail_login_server_bytes(&session, (const uint8_t *)"+OK\r\n", 5);
    cr_assert(session.facts.login_success);
}

Test(pop3, the_user_reply_is_no_login)
{
    static const struct turn turns[] = {
        {'S', "+OK ready\r\n"}, {'C', "USER bob\r\n"}, {'S', "+OK send PASS\r\n"},
        {'C', "QUIT\r\n"},      {'S', "+OK bye\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, turns);
    cr_assert(!facts.login_attempted);
    cr_assert(!facts.login_success);
}

Test(pop3, apop_and_error_greeting)
{
    static const struct turn apop[] = {
        {'S', "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"},
        {'C', "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"},
        {'S', "+OK mrose's maildrop has 2 messages (320 octets)\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, apop);
    cr_assert(facts.login_success);
    cr_assert_str_eq(facts.mechanism, "APOP");
    static const struct turn busy[] = {{'S', "-ERR too many connections\r\n"}};
    facts = RUN(MAIL_LOGIN_POP3, busy);
    cr_assert(facts.greeting_seen);
    cr_assert(!facts.greeting_ok);
}

Test(pop3, sasl_with_challenges)
{
    /* RFC 5034 6 example shape: AUTH LOGIN answered by two challenges. */
    static const struct turn turns[] = {
        {'S', "+OK ready\r\n"},      {'C', "AUTH login\r\n"},     {'S', "+ VXNlcm5hbWU6\r\n"},
        {'C', "Ym9i\r\n"},           {'S', "+ UGFzc3dvcmQ6\r\n"}, {'C', "K09LIGhhaGE=\r\n"},
        {'S', "+OK Logged in.\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, turns);
    cr_assert(facts.login_success);
    cr_assert_str_eq(facts.mechanism, "LOGIN");
    /* An initial response and a refusal; the client carries on with commands. */
    static const struct turn refused[] = {
        {'S', "+OK ready\r\n"},
        {'C', "AUTH PLAIN AGJvYgBodW50ZXIy\r\n"},
        {'S', "-ERR authentication failed\r\n"},
        {'C', "USER bob\r\nPASS hunter2\r\n"},
        {'S', "+OK\r\n+OK\r\n"},
    };
    facts = RUN(MAIL_LOGIN_POP3, refused);
    cr_assert_eq(facts.login_failures, 1);
    cr_assert(facts.login_success, "pipelined USER and PASS after a failed AUTH");
    cr_assert_str_eq(facts.mechanism, "USER");
}

Test(pop3, multiline_answers_are_skipped)
{
    /* CAPA's lines and a bare AUTH's mechanism list must not pass for statuses. */
    static const struct turn turns[] = {
        {'S', "+OK ready\r\n"},
        {'C', "CAPA\r\nAUTH\r\n"},
        {'S', "+OK Capability list follows\r\n+OK-looking IMPLEMENTATION line\r\nUSER\r\n"
              ".\r\n+OK\r\nPLAIN\r\n-ERR\r\n.\r\n"},
        {'C', "PASS x\r\n"},
        {'S', "-ERR\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, turns);
    cr_assert(!facts.login_success);
    cr_assert_eq(facts.login_failures, 1);
}

Test(pop3, stls_stops_the_parser)
{
    static const struct turn turns[] = {
        {'S', "+OK ready\r\n"},
        {'C', "STLS\r\n"},
        {'S', "+OK Begin TLS negotiation\r\n"},
        {'C', "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10},
        {'C', "PASS x\r\n"},
        {'S', "+OK\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_POP3, turns);
    cr_assert(facts.starttls_requested);
    cr_assert(facts.encrypted);
    cr_assert(!facts.login_attempted);
    cr_assert(!facts.login_success);
}

Test(pop3, a_gap_forgets_the_pending_answers)
{
    struct mail_login_session session;
    mail_login_init(&session, MAIL_LOGIN_POP3);
    static const struct turn before[] = {{'S', "+OK ready\r\n"}, {'C', "USER bob\r\nPASS x\r\n"}};
    play(&session, before, 2, 0);
    /* The server's answers to USER and PASS were lost: a later +OK answers nothing known. */
    mail_login_server_gap(&session);
    mail_login_server_bytes(&session, (const uint8_t *)"OK\r\n+OK\r\n", 9);
    cr_assert(!session.facts.login_success);
    cr_assert(session.facts.login_attempted);
}

Test(imap, login)
{
    static const struct turn turns[] = {
        {'S', "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready\r\n"},
        {'C', "a1 CAPABILITY\r\n"},
        {'S', "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n"},
        {'C', "a2 login bob hunter2\r\n"},
        {'S', "a2 OK [CAPABILITY IMAP4rev1] Logged in\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, turns);
    cr_assert(facts.greeting_seen && facts.greeting_ok);
    cr_assert(facts.login_success);
    cr_assert_str_eq(facts.mechanism, "LOGIN");
}

Test(imap, refused_and_other_tags)
{
    static const struct turn turns[] = {
        {'S', "* OK ready\r\n"},
        {'C', "a2 LOGIN bob wrong\r\n"},
        {'S', "a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"},
        {'C', "a3 LOGIN bob right\r\na4 NOOP\r\n"},
        /* Another command's OK, and an untagged OK, are not the login's. */
        {'S', "* OK still here\r\na4 OK NOOP done\r\nA3 OK not the same tag\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, turns);
    cr_assert_eq(facts.login_failures, 1);
    cr_assert(!facts.login_success);
}

Test(imap, authenticate)
{
    static const struct turn turns[] = {
        {'S', "* OK ready\r\n"},       {'C', "x AUTHENTICATE plain\r\n"}, {'S', "+ \r\n"},
        {'C', "AGJvYgBodW50ZXIy\r\n"}, {'S', "x OK Success\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, turns);
    cr_assert(facts.login_success);
    cr_assert_str_eq(facts.mechanism, "PLAIN");
}

Test(imap, literals_are_skipped)
{
    /* The client's password is a literal that looks like a command, the server's untagged
     * answer carries a literal that looks like the login's OK. */
    static const struct turn turns[] = {
        {'S', "* OK ready\r\n"},
        {'C', "t1 LOGIN {3}\r\n"},
        {'S', "+ go ahead\r\n"},
        {'C', "bob {11}\r\nt2 STARTTLS\r\n"},
        {'S', "* ID (\"name\" {11}\r\nt1 OK fake)\r\n"},
        {'S', "t1 NO wrong\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, turns);
    cr_assert(!facts.starttls_requested, "a literal was read as a command");
    cr_assert(!facts.login_success, "a literal was read as the login's answer");
    cr_assert_eq(facts.login_failures, 1);
}

Test(imap, preauth_and_starttls)
{
    static const struct turn preauth[] = {{'S', "* PREAUTH IMAP4rev1 server logged in as bob\r\n"}};
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, preauth);
    cr_assert(facts.login_success);
    cr_assert(!facts.login_attempted);
    cr_assert_str_eq(facts.mechanism, "PREAUTH");
    static const struct turn tls[] = {
        {'S', "* OK ready\r\n"},
        {'C', "s STARTTLS\r\n"},
        {'S', "s OK Begin TLS negotiation now\r\n"},
        {'C', "a LOGIN bob x\r\n"},
        {'S', "a OK\r\n"},
    };
    facts = RUN(MAIL_LOGIN_IMAP, tls);
    cr_assert(facts.encrypted);
    cr_assert(!facts.login_success);
}

/* Feeds both directions of every TCP connection to `port` in a corpus capture, in stream
 * order, to one session. */
static struct mail_login_facts replay(const char *relative_path, uint16_t port,
                                      enum mail_login_protocol protocol)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcaps/%s", OP25B_CORPUS_DIR, relative_path);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    cr_assert_not_null(capture, "%s", error);
    struct mail_login_session session;
    mail_login_init(&session, protocol);
    uint32_t next[2] = {0, 0};
    bool started[2] = {false, false};
    struct pcap_pkthdr *header;
    const u_char *data;
    while (pcap_next_ex(capture, &header, &data) == 1) {
        struct packet packet;
        memset(&packet, 0, sizeof(packet));
        if (decode_packet(pcap_datalink(capture), data, header->caplen, &packet) != DECODE_OK ||
            packet.proto != IPPROTO_NUMBER_TCP ||
            (packet.dst_port != port && packet.src_port != port))
            continue;
        int side = packet.dst_port == port ? 0 : 1;
        if (packet.tcp_flags & TCP_SYN) {
            next[side] = packet.seq + 1;
            started[side] = true;
            continue;
        }
        if (!started[side] || packet.payload_length == 0)
            continue;
        struct tcp_segment segment = tcp_segment_of(&packet);
        struct tcp_stream_slice slice = tcp_stream_accept(&next[side], &segment);
        if (slice.length == 0)
            continue;
        if (side == 0)
            mail_login_client_bytes(&session, packet.payload + slice.skip, slice.length);
        else
            mail_login_server_bytes(&session, packet.payload + slice.skip, slice.length);
    }
    pcap_close(capture);
    return session.facts;
}

Test(imap, corpus_starttls)
{
    /* Zeek and nDPI both see this IMAP session go to TLS after STARTTLS (their oracles in
     * corpus/expected/ndpi__imap-starttls). */
    struct mail_login_facts facts = replay("other/ndpi__imap-starttls.pcap", 143, MAIL_LOGIN_IMAP);
    cr_assert(facts.greeting_seen);
    cr_assert(facts.greeting_ok);
    cr_assert(facts.starttls_requested);
    cr_assert(facts.encrypted);
    cr_assert(!facts.login_attempted);
    cr_assert(!facts.login_success);
}

/* Arbitrary bytes in arbitrary pieces, both ways: the parsers stay in bounds (the sanitizer
 * build makes that an assertion) and what they keep stays a short, terminated string. */
Test(mail_login, arbitrary_bytes)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    static const char *const seeds[] = {"+OK ",    "-ERR ",  "* OK ",       "a1 OK ",
                                        "{5}\r\n", "+ \r\n", "AUTH PLAIN ", "a LOGIN x y\r\n",
                                        "\r\n",    ".\r\n"};
    for (int round = 0; round < 2000; round++) {
        struct mail_login_session session;
        mail_login_init(&session, round % 2 ? MAIL_LOGIN_IMAP : MAIL_LOGIN_POP3);
        for (int piece = 0; piece < 40; piece++) {
            uint8_t bytes[600];
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t length = (size_t)(state >> 33) % sizeof(bytes);
            for (size_t i = 0; i < length; i++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                bytes[i] = (uint8_t)(state >> 56);
            }
            const char *seed = seeds[(state >> 20) % (sizeof(seeds) / sizeof(seeds[0]))];
            size_t seed_length = strlen(seed) < length ? strlen(seed) : length;
            memcpy(bytes, seed, seed_length);
            if ((state >> 40) % 17 == 0)
                mail_login_client_gap(&session);
            if ((state >> 44) % 2)
                mail_login_client_bytes(&session, bytes, length);
            else
                mail_login_server_bytes(&session, bytes, length);
        }
        cr_assert_lt(strlen(session.facts.mechanism), MAIL_LOGIN_MECHANISM_MAX);
        cr_assert_lt(strlen(session.login_tag), MAIL_LOGIN_TAG_MAX);
    }
}

Test(imap, long_tag_still_matches_its_completion)
{
    /* Tags longer than the 31 characters kept are matched on that prefix. */
    static const struct turn turns[] = {
        {'S', "* OK ready\r\n"},
        {'C', "client-tag-0123456789-0123456789-0123456789 LOGIN bob hunter2\r\n"},
        {'S', "client-tag-0123456789-0123456789-0123456789 OK Logged in\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, turns);
    cr_assert(facts.login_success);
}

Test(imap, another_tags_completion_is_not_the_login)
{
    static const struct turn turns[] = {
        {'S', "* OK ready\r\n"},
        {'C', "a7 LOGIN bob hunter2\r\n"},
        {'S', "a77 OK done\r\na OK done\r\n"},
    };
    struct mail_login_facts facts = RUN(MAIL_LOGIN_IMAP, turns);
    cr_assert(!facts.login_success);
}
