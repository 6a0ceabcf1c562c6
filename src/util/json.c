#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

void json_init(struct json_writer *writer, char *buffer, size_t size)
{
    writer->buffer = buffer;
    writer->size = size;
    writer->length = 0;
    writer->overflow = size == 0;
    writer->need_comma = false;
}

static void put(struct json_writer *writer, const char *text, size_t length)
{
    if (writer->overflow)
        return;
    /* Keep one byte for the terminating NUL. */
    if (length >= writer->size - writer->length) {
        writer->overflow = true;
        return;
    }
    memcpy(writer->buffer + writer->length, text, length);
    writer->length += length;
}

static void put_char(struct json_writer *writer, char c)
{
    put(writer, &c, 1);
}

/* One escaping for event lines and the JSON report (RFC 8259 7): the quoted string is
 * handed to `emit` in runs, so a buffer and a FILE share the rules. */
static void escape_string(const char *value, size_t length,
                          void (*emit)(void *context, const char *bytes, size_t count),
                          void *context)
{
    static const char hex[] = "0123456789abcdef";
    emit(context, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        emit(context, value + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            emit(context, "\\\"", 2);
            break;
        case '\\':
            emit(context, "\\\\", 2);
            break;
        case '\n':
            emit(context, "\\n", 2);
            break;
        case '\r':
            emit(context, "\\r", 2);
            break;
        case '\t':
            emit(context, "\\t", 2);
            break;
        default: {
            char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            emit(context, escape, sizeof(escape));
        }
        }
    }
    emit(context, value + run, length - run);
    emit(context, "\"", 1);
}

static void emit_to_writer(void *context, const char *bytes, size_t count)
{
    put(context, bytes, count);
}

static void emit_to_file(void *context, const char *bytes, size_t count)
{
    fwrite(bytes, 1, count, context);
}

/* Nearly every string an event carries (names, addresses, times, verdicts) needs no
 * escaping: found so in one pass, it is copied whole instead of run by run. */
static bool is_plain_byte(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* Eight bytes at a time (SWAR): a byte below 0x20, a quote or a backslash sets the top
 * bit of its lane. (x - 0x20) borrows into the top bit exactly for lanes below 0x20 when
 * no lane has its top bit set, which ~x masks; a lane equal to c is a zero lane of x ^ c. */
static bool is_plain(const char *value, size_t length)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t x;
        memcpy(&x, value + i, sizeof(x));
        uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
        uint64_t found = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) |
                         ((backslash - ones) & ~backslash);
        if (found & high) {
            /* A borrow can mark a clean lane after a marked one: decide byte by byte. */
            for (size_t j = i; j < i + 8; j++)
                if (!is_plain_byte((unsigned char)value[j]))
                    return false;
        }
    }
    for (; i < length; i++)
        if (!is_plain_byte((unsigned char)value[i]))
            return false;
    return true;
}

/* A quoted plain string in one copy. */
static void put_quoted_plain(struct json_writer *writer, const char *value, size_t length)
{
    if (writer->overflow)
        return;
    if (length + 2 >= writer->size - writer->length) {
        writer->overflow = true;
        return;
    }
    char *out = writer->buffer + writer->length;
    *out++ = '"';
    memcpy(out, value, length);
    out += length;
    *out++ = '"';
    writer->length = (size_t)(out - writer->buffer);
}

static void put_escaped(struct json_writer *writer, const char *value, size_t length)
{
    if (is_plain(value, length))
        put_quoted_plain(writer, value, length);
    else
        escape_string(value, length, emit_to_writer, writer);
}

void json_fput_string(FILE *out, const char *text)
{
    escape_string(text, strlen(text), emit_to_file, out);
}

void json_object_begin(struct json_writer *writer)
{
    if (writer->need_comma)
        put_char(writer, ',');
    put_char(writer, '{');
    writer->need_comma = false;
}

void json_object_end(struct json_writer *writer)
{
    put_char(writer, '}');
    writer->need_comma = true;
}

void json_value_object_begin(struct json_writer *writer)
{
    put_char(writer, '{');
    writer->need_comma = false;
}

void json_value_array_begin(struct json_writer *writer)
{
    put_char(writer, '[');
    writer->need_comma = false;
}

void json_array_end(struct json_writer *writer)
{
    put_char(writer, ']');
    writer->need_comma = true;
}

void json_array_string(struct json_writer *writer, const char *value)
{
    if (writer->need_comma)
        put_char(writer, ',');
    put_escaped(writer, value, strlen(value));
    writer->need_comma = true;
}

void json_members(struct json_writer *writer, const char *text, size_t length)
{
    if (writer->need_comma)
        put_char(writer, ',');
    put(writer, text, length);
    writer->need_comma = true;
}

void json_value_string(struct json_writer *writer, const char *value, size_t length)
{
    put_escaped(writer, value, length);
}

void json_value_plain(struct json_writer *writer, const char *value, size_t length)
{
    put_quoted_plain(writer, value, length);
}

/* Counters are most of an event's numbers: digits by hand, without snprintf's parsing, two
 * at a time from a table (one division for two digits), and a lone digit (a count of 0 or
 * 1, a version) without a copy. */
void json_value_u64(struct json_writer *writer, uint64_t value)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    if (value < 10) {
        put_char(writer, (char)('0' + value));
        return;
    }
    char text[20];
    size_t start = sizeof(text);
    while (value >= 100) {
        unsigned pair = (unsigned)(value % 100);
        value /= 100;
        start -= 2;
        text[start] = pairs[2 * pair];
        text[start + 1] = pairs[2 * pair + 1];
    }
    if (value >= 10) {
        start -= 2;
        text[start] = pairs[2 * value];
        text[start + 1] = pairs[2 * value + 1];
    } else {
        text[--start] = (char)('0' + value);
    }
    put(writer, text + start, sizeof(text) - start);
}

void json_value_i64(struct json_writer *writer, int64_t value)
{
    char text[24];
    int length = snprintf(text, sizeof(text), "%lld", (long long)value);
    put(writer, text, (size_t)length);
}

void json_value_fixed(struct json_writer *writer, double value, int decimals)
{
    char text[48];
    /* JSON has no NaN or infinity. */
    if (!isfinite(value))
        value = 0;
    int length = snprintf(text, sizeof(text), "%.*f", decimals, value);
    if (length < 0 || (size_t)length >= sizeof(text))
        writer->overflow = true;
    else
        put(writer, text, (size_t)length);
}

void json_value_micros(struct json_writer *writer, int64_t micros)
{
    /* From the end: six fraction digits, the point, the whole seconds, the sign. */
    char text[32];
    size_t start = sizeof(text);
    uint64_t magnitude = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
    uint64_t fraction = magnitude % 1000000;
    uint64_t whole = magnitude / 1000000;
    for (int i = 0; i < 6; i++) {
        text[--start] = (char)('0' + fraction % 10);
        fraction /= 10;
    }
    text[--start] = '.';
    do {
        text[--start] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole != 0);
    if (micros < 0)
        text[--start] = '-';
    put(writer, text + start, sizeof(text) - start);
}

void json_value_bool(struct json_writer *writer, bool value)
{
    if (value)
        put(writer, "true", 4);
    else
        put(writer, "false", 5);
}

bool json_finish(struct json_writer *writer)
{
    put_char(writer, '\n');
    if (writer->overflow) {
        if (writer->size > 0)
            writer->buffer[0] = '\0';
        return false;
    }
    writer->buffer[writer->length] = '\0';
    return true;
}

/* ---- A document written to a stream ---- */

void json_stream_init(struct json_stream *stream, FILE *out)
{
    memset(stream, 0, sizeof(*stream));
    stream->out = out;
}

void json_stream_member(struct json_stream *stream, const char *key)
{
    if (stream->comma[stream->depth])
        fputc(',', stream->out);
    stream->comma[stream->depth] = true;
    fputc('\n', stream->out);
    for (int i = 0; i < stream->depth; i++)
        fputs("  ", stream->out);
    if (key != NULL) {
        json_fput_string(stream->out, key);
        fputs(": ", stream->out);
    }
}

static void stream_open(struct json_stream *stream, const char *key, char bracket)
{
    json_stream_member(stream, key);
    fputc(bracket, stream->out);
    if (stream->depth + 1 < JSON_STREAM_DEPTH_MAX)
        stream->depth++;
    stream->comma[stream->depth] = false;
}

static void stream_close(struct json_stream *stream, char bracket)
{
    bool had_members = stream->comma[stream->depth];
    stream->depth--;
    if (had_members) {
        fputc('\n', stream->out);
        for (int i = 0; i < stream->depth; i++)
            fputs("  ", stream->out);
    }
    fputc(bracket, stream->out);
}

void json_stream_object(struct json_stream *stream, const char *key)
{
    stream_open(stream, key, '{');
}

void json_stream_array(struct json_stream *stream, const char *key)
{
    stream_open(stream, key, '[');
}

void json_stream_object_end(struct json_stream *stream)
{
    stream_close(stream, '}');
}

void json_stream_array_end(struct json_stream *stream)
{
    stream_close(stream, ']');
}

void json_stream_string(struct json_stream *stream, const char *key, const char *value)
{
    json_stream_member(stream, key);
    if (value == NULL)
        fputs("null", stream->out);
    else
        json_fput_string(stream->out, value);
}

void json_stream_u64(struct json_stream *stream, const char *key, uint64_t value)
{
    json_stream_member(stream, key);
    fprintf(stream->out, "%llu", (unsigned long long)value);
}

void json_stream_bool(struct json_stream *stream, const char *key, bool value)
{
    json_stream_member(stream, key);
    fputs(value ? "true" : "false", stream->out);
}

void json_stream_fixed(struct json_stream *stream, const char *key, bool known, double value,
                       int decimals)
{
    json_stream_member(stream, key);
    if (known)
        fprintf(stream->out, "%.*f", decimals, value);
    else
        fputs("null", stream->out);
}

void json_stream_raw(struct json_stream *stream, const char *key, const char *json)
{
    json_stream_member(stream, key);
    fputs(json, stream->out);
}
