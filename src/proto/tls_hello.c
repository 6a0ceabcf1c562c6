#include "proto/tls_hello.h"

#define RECORD_HEADER 5
#define HANDSHAKE_HEADER 4
#define CONTENT_HANDSHAKE 22     /* RFC 8446 5.1 */
#define HANDSHAKE_CLIENT_HELLO 1 /* RFC 8446 4 */
#define EXTENSION_SERVER_NAME 0  /* RFC 6066 3 */
#define NAME_TYPE_HOST_NAME 0

/* A cursor over the bytes that are there; `end` may lie before where the hello ends. */
struct reader {
    const uint8_t *data;
    size_t at;
    size_t end;
};

static bool take(struct reader *reader, size_t count, const uint8_t **out)
{
    if (count > reader->end - reader->at)
        return false;
    *out = reader->data + reader->at;
    reader->at += count;
    return true;
}

static bool number(struct reader *reader, size_t width, size_t *value)
{
    const uint8_t *bytes;
    if (!take(reader, width, &bytes))
        return false;
    *value = 0;
    for (size_t i = 0; i < width; i++)
        *value = *value << 8 | bytes[i];
    return true;
}

static bool skip_vector(struct reader *reader, size_t width)
{
    size_t length;
    const uint8_t *unused;
    return number(reader, width, &length) && take(reader, length, &unused);
}

static char name_char(uint8_t byte)
{
    if (byte >= 'A' && byte <= 'Z')
        return (char)(byte - 'A' + 'a');
    if ((byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') || byte == '-' ||
        byte == '.' || byte == '_')
        return (char)byte;
    return '?';
}

/* RFC 6066 3: ServerNameList is a list of (NameType, HostName<1..2^16-1>). The first
 * host_name is the one; a list that ends early is malformed. */
static enum tls_hello_result read_server_name(const uint8_t *bytes, size_t length,
                                              struct tls_hello *out)
{
    struct reader list = {.data = bytes, .at = 0, .end = length};
    size_t list_length;
    if (!number(&list, 2, &list_length) || list_length != length - 2)
        return TLS_HELLO_MALFORMED;
    while (list.at < list.end) {
        const uint8_t *type;
        size_t name_length;
        const uint8_t *name;
        if (!take(&list, 1, &type) || !number(&list, 2, &name_length) ||
            !take(&list, name_length, &name))
            return TLS_HELLO_MALFORMED;
        if (type[0] != NAME_TYPE_HOST_NAME || out->has_sni)
            continue;
        if (name_length == 0 || name_length >= TLS_SNI_TEXT_MAX)
            return TLS_HELLO_MALFORMED;
        for (size_t i = 0; i < name_length; i++)
            out->sni[i] = name_char(name[i]);
        out->sni[name_length] = '\0';
        out->has_sni = true;
    }
    return TLS_HELLO_OK;
}

/* What the first bytes tell: "not a hello" is decided before "need more". TLS_HELLO_OK
 * when the record and handshake headers are all there and start a ClientHello. */
static enum tls_hello_result check_start(const uint8_t *data, size_t length, bool final)
{
    if (length >= 1 && data[0] != CONTENT_HANDSHAKE)
        return TLS_HELLO_NOT_HELLO;
    if (length >= 2 && data[1] != 3)
        return TLS_HELLO_NOT_HELLO;
    if (length >= RECORD_HEADER + 1 && data[RECORD_HEADER] != HANDSHAKE_CLIENT_HELLO)
        return TLS_HELLO_NOT_HELLO;
    if (length < RECORD_HEADER + HANDSHAKE_HEADER)
        return final ? TLS_HELLO_NOT_HELLO : TLS_HELLO_NEED_MORE;
    return TLS_HELLO_OK;
}

/* The extensions, until the server name: cut, the bytes are not all here yet; split, the
 * hello goes on in a second record. */
static enum tls_hello_result read_extensions(struct reader *reader, bool cut, bool split,
                                             bool final, struct tls_hello *out)
{
    size_t extensions_length = 0;
    bool read = number(reader, 2, &extensions_length);
    if (read && !cut && !split && reader->at + extensions_length != reader->end)
        return TLS_HELLO_MALFORMED;
    while (read && !out->has_sni && reader->at < reader->end) {
        size_t type, extension_length;
        const uint8_t *body;
        read = number(reader, 2, &type) && number(reader, 2, &extension_length) &&
               take(reader, extension_length, &body);
        if (read && type == EXTENSION_SERVER_NAME &&
            read_server_name(body, extension_length, out) != TLS_HELLO_OK)
            return TLS_HELLO_MALFORMED;
    }
    if (out->has_sni)
        return TLS_HELLO_OK;
    if (cut)
        return final ? TLS_HELLO_OK : TLS_HELLO_NEED_MORE;
    /* Within a complete record the lengths must add up, unless the hello goes on. */
    return read || split ? TLS_HELLO_OK : TLS_HELLO_MALFORMED;
}

enum tls_hello_result tls_hello_parse(const uint8_t *data, size_t length, bool final,
                                      struct tls_hello *out)
{
    out->has_sni = false;
    out->sni[0] = '\0';
    out->record_version = out->client_version = 0;
    enum tls_hello_result start = check_start(data, length, final);
    if (start != TLS_HELLO_OK)
        return start;
    out->record_version = (uint16_t)(data[1] << 8 | data[2]);
    size_t record_length = (size_t)data[3] << 8 | data[4];
    size_t hello_length = (size_t)data[6] << 16 | (size_t)data[7] << 8 | data[8];
    /* A ClientHello spread over several records (RFC 8446 5.1 allows it) is read as far as
     * the first record goes. */
    if (record_length < HANDSHAKE_HEADER)
        return TLS_HELLO_MALFORMED;
    size_t in_record = record_length - HANDSHAKE_HEADER;
    bool split = hello_length > in_record; /* the hello goes on in a second record */
    size_t hello_end = RECORD_HEADER + HANDSHAKE_HEADER + (split ? in_record : hello_length);
    bool cut = hello_end > length; /* the bytes up to hello_end are not all here yet */
    struct reader reader = {
        .data = data, .at = RECORD_HEADER + HANDSHAKE_HEADER, .end = cut ? length : hello_end};

    size_t version;
    const uint8_t *unused;
    bool read = number(&reader, 2, &version) && take(&reader, 32, &unused) &&
                skip_vector(&reader, 1) && skip_vector(&reader, 2) && skip_vector(&reader, 1);
    if (read)
        out->client_version = (uint16_t)version;
    /* TLS 1.2 and before may send no extensions at all (RFC 5246 7.4.1.2). */
    if (read && reader.at == reader.end && !cut)
        return TLS_HELLO_OK;
    if (!read)
        return cut     ? (final ? TLS_HELLO_OK : TLS_HELLO_NEED_MORE)
               : split ? TLS_HELLO_OK
                       : TLS_HELLO_MALFORMED;
    return read_extensions(&reader, cut, split, final, out);
}
