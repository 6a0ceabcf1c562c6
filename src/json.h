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
void json_object_begin(struct json_writer *writer);                  /* { */
void json_object_end(struct json_writer *writer);                    /* } */
void json_key_object_begin(struct json_writer *writer, const char *key);
void json_key_array_begin(struct json_writer *writer, const char *key);
void json_array_end(struct json_writer *writer);
void json_array_string(struct json_writer *writer, const char *value);
void json_key_string(struct json_writer *writer, const char *key, const char *value);
void json_key_string_length(struct json_writer *writer, const char *key, const char *value,
                            size_t length);
void json_key_u64(struct json_writer *writer, const char *key, uint64_t value);
void json_key_i64(struct json_writer *writer, const char *key, int64_t value);
/* Fixed-point with the given number of decimals, so output never depends on locale. */
void json_key_fixed(struct json_writer *writer, const char *key, double value, int decimals);
/* Microseconds as seconds with six decimals ("1.500000"), exactly, without floating point:
 * what json_key_fixed(key, micros / 1e6, 6) prints, at a fraction of its cost. */
void json_key_micros(struct json_writer *writer, const char *key, int64_t micros);
void json_key_bool(struct json_writer *writer, const char *key, bool value);
/* The same string escaping, straight to a stream (the JSON report). */
void json_fput_string(FILE *out, const char *text);
/* Ends the line with '\n' and NUL-terminates; returns false on overflow. */
bool json_finish(struct json_writer *writer);

#endif
