/* A JSON object writer into a caller's fixed buffer: no allocation, so events are built on
 * the stack. Output that would not fit marks the writer as overflowed instead of writing
 * past the end; the caller then drops the line and counts it. */
#ifndef OP25B_JSON_H
#define OP25B_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_writer {
    char *buffer;
    size_t size;
    size_t length;
    bool overflow;
    bool need_comma; /* a value was written at the current nesting level */
};

void json_init(struct json_writer *writer, char *buffer, size_t size);
void json_object_begin(struct json_writer *writer); /* { */
void json_object_end(struct json_writer *writer);   /* } */
void json_array_end(struct json_writer *writer);
void json_array_string(struct json_writer *writer, const char *value);

/* Values: each follows a json_key() (or starts an array element). */
void json_value_object_begin(struct json_writer *writer); /* { after a key */
void json_value_array_begin(struct json_writer *writer);  /* [ after a key */
void json_value_string(struct json_writer *writer, const char *value, size_t length);
/* A string that needs no escaping by construction, copied without looking at it: only text
 * the program formatted itself (times, addresses, Community IDs) or its own names. */
void json_value_plain(struct json_writer *writer, const char *value, size_t length);
void json_value_u64(struct json_writer *writer, uint64_t value);
void json_value_i64(struct json_writer *writer, int64_t value);
void json_value_fixed(struct json_writer *writer, double value, int decimals);
void json_value_micros(struct json_writer *writer, int64_t micros);
void json_value_bool(struct json_writer *writer, bool value);

/* Members the caller formatted once with this writer and keeps ("key":value,... without
 * a leading comma), written again as they are: the comma when a value came before. */
void json_members(struct json_writer *writer, const char *text, size_t length);

/* Writes ,"key": (the comma when a value came before). Keys are the program's own names,
 * plain ASCII, so they are copied as they are, never escaped. Inline because events are
 * mostly keys: a literal key's length is then known when compiling, and the copy is a few
 * moves instead of a call, a strlen and a scan. */
static inline void json_key(struct json_writer *writer, const char *key)
{
    size_t length = __builtin_strlen(key);
    size_t need = length + 3 + (writer->need_comma ? 1 : 0);
    /* Keep one byte for the terminating NUL. */
    if (writer->overflow || need >= writer->size - writer->length) {
        writer->overflow = true;
        return;
    }
    char *out = writer->buffer + writer->length;
    if (writer->need_comma)
        *out++ = ',';
    *out++ = '"';
    __builtin_memcpy(out, key, length);
    out += length;
    *out++ = '"';
    *out++ = ':';
    writer->length = (size_t)(out - writer->buffer);
    writer->need_comma = true;
}

static inline void json_key_object_begin(struct json_writer *writer, const char *key)
{
    json_key(writer, key);
    json_value_object_begin(writer);
}

static inline void json_key_array_begin(struct json_writer *writer, const char *key)
{
    json_key(writer, key);
    json_value_array_begin(writer);
}

static inline void json_key_string_length(struct json_writer *writer, const char *key,
                                          const char *value, size_t length)
{
    json_key(writer, key);
    json_value_string(writer, value, length);
}

static inline void json_key_plain(struct json_writer *writer, const char *key, const char *value,
                                  size_t length)
{
    json_key(writer, key);
    json_value_plain(writer, value, length);
}

static inline void json_key_string(struct json_writer *writer, const char *key, const char *value)
{
    json_key(writer, key);
    json_value_string(writer, value, __builtin_strlen(value));
}

static inline void json_key_u64(struct json_writer *writer, const char *key, uint64_t value)
{
    json_key(writer, key);
    json_value_u64(writer, value);
}

static inline void json_key_i64(struct json_writer *writer, const char *key, int64_t value)
{
    json_key(writer, key);
    json_value_i64(writer, value);
}

/* Fixed-point with the given number of decimals, so output never depends on locale. */
static inline void json_key_fixed(struct json_writer *writer, const char *key, double value,
                                  int decimals)
{
    json_key(writer, key);
    json_value_fixed(writer, value, decimals);
}

/* Microseconds as seconds with six decimals ("1.500000"), exactly, without floating point:
 * what json_key_fixed(key, micros / 1e6, 6) prints, at a fraction of its cost. */
static inline void json_key_micros(struct json_writer *writer, const char *key, int64_t micros)
{
    json_key(writer, key);
    json_value_micros(writer, micros);
}

static inline void json_key_bool(struct json_writer *writer, const char *key, bool value)
{
    json_key(writer, key);
    json_value_bool(writer, value);
}

/* The same string escaping, straight to a stream. */
void json_fput_string(FILE *out, const char *text);

/* ---- A document written to a stream, indented two spaces a level ----
 * The audit report's JSON: unbounded, for a person to read too, with the same escaping
 * and number formats as the lines above. Members start on their own indented line; a key
 * is NULL inside an array. */
#define JSON_STREAM_DEPTH_MAX 16

struct json_stream {
    FILE *out;
    int depth;
    bool comma[JSON_STREAM_DEPTH_MAX];
};

void json_stream_init(struct json_stream *stream, FILE *out);
/* Starts a member: the comma, the new indented line and the key. Write its value next
 * (with json_stream_value_* or by hand). */
void json_stream_member(struct json_stream *stream, const char *key);
void json_stream_object(struct json_stream *stream, const char *key);
void json_stream_array(struct json_stream *stream, const char *key);
void json_stream_object_end(struct json_stream *stream);
void json_stream_array_end(struct json_stream *stream);
void json_stream_string(struct json_stream *stream, const char *key,
                        const char *value); /* NULL: null */
void json_stream_u64(struct json_stream *stream, const char *key, uint64_t value);
void json_stream_bool(struct json_stream *stream, const char *key, bool value);
/* decimals places; or null when known is false. */
void json_stream_fixed(struct json_stream *stream, const char *key, bool known, double value,
                       int decimals);
/* A value that is already JSON text. */
void json_stream_raw(struct json_stream *stream, const char *key, const char *json);
/* Ends the line with '\n' and NUL-terminates; returns false on overflow. */
bool json_finish(struct json_writer *writer);

#endif
