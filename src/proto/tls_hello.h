/* The first bytes a TLS client sends: is it a ClientHello, and which server name does it ask
 * for (SNI, RFC 6066 section 3)? Enough to see a subscriber reach an MSA on port 465
 * (implicit TLS, RFC 8314) and name it. Bounds-checked, no allocation. */
#ifndef OP25B_TLS_HELLO_H
#define OP25B_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_SNI_TEXT_MAX 256 /* a host_name is at most 255 bytes (RFC 6066 section 3) */

enum tls_hello_result {
    TLS_HELLO_OK = 0,    /* a ClientHello: out is filled */
    TLS_HELLO_NEED_MORE, /* a ClientHello so far, cut short: call again with more bytes */
    TLS_HELLO_NOT_HELLO, /* the bytes are no TLS handshake record starting a ClientHello */
    TLS_HELLO_MALFORMED, /* a ClientHello whose lengths do not add up */
};

struct tls_hello {
    uint16_t record_version; /* of the record layer: 0x0301 for most clients */
    uint16_t client_version; /* legacy_version of the ClientHello */
    bool has_sni;
    /* The first host_name, lower case; bytes other than letters, digits, '-', '.', '_'
     * are written as '?'. */
    char sni[TLS_SNI_TEXT_MAX];
};

/* data: the client's bytes from the start of the connection. With `final` set no more bytes
 * will come (the caller's buffer is full): a hello cut short then gives TLS_HELLO_OK with
 * what could be read, SNI only if it was within the bytes. */
enum tls_hello_result tls_hello_parse(const uint8_t *data, size_t length, bool final,
                                      struct tls_hello *out);

#endif
