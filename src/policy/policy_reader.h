/* Reading the site policy's YAML with FILE:LINE messages: the nodes, values, mappings and
 * names every section of the loader reads with (policy_load.c and the section files). For
 * src/policy/ only. */
#ifndef OP25B_POLICY_READER_H
#define OP25B_POLICY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "policy/policy.h"

/* Longest piece of a user's text quoted back in a message. */
#define QUOTE "%.200s"
#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))
/* Draft section 3.2: one subscriber gets a /48 to a /64. */
#define DEFAULT_IPV6_SUBSCRIBER_LENGTH 64

/* The names of one list, hashed so that checking they are unique and resolving references
 * to them stays linear however many a file declares. */
struct name_slot {
    const char *name; /* NULL for a free slot */
    int index;
    int line;
};

struct name_index {
    struct name_slot *slots;
    size_t mask; /* slot count - 1; the count is a power of two at least twice the names */
};

struct loader {
    const char *name;
    char *error;
    size_t error_size;
    yaml_document_t document;
    struct policy *policy;
    /* The line of each prefix, parallel to the policy's prefix arrays, so a duplicate can
     * say where the first one is. */
    int *own_lines;
    int *resolver_lines;
    int **pool_lines;
    int **msa_lines;
    struct name_index pool_names;
    struct name_index msa_names;
    struct name_index point_names;
    struct name_index segment_names;
    struct name_index sensor_names;
    /* Loading a fleet policy (op25b-correlate): sensors required, sensor optional. */
    bool fleet;
};

/* One expected key of a mapping, and what read_mapping found for it. */
struct field {
    const char *key;
    bool required;
    const yaml_node_t *key_node;
    const yaml_node_t *value;
};

/* The spellings of the policy's choices, in enum order (policy.c). */
extern const char *const policy_pool_type_names[2];
extern const char *const policy_position_names[2];
extern const char *const policy_level_names[4];
extern const char *const policy_state_names[2];
extern const char *const policy_reject_names[3];

/* Writes "NAME:LINE: message" (or "NAME: message" for line 0) and returns -1. */
int __attribute__((format(printf, 3, 4)))
fail_line(struct loader *loader, int line, const char *format, ...);
#define fail_at(loader, node, ...) fail_line((loader), line_of(node), __VA_ARGS__)

int line_of(const yaml_node_t *node);
int fail_memory(struct loader *loader);
void format_choices(const char *const *names, size_t count, char *buffer, size_t size);
const yaml_node_t *node_at(struct loader *loader, int index);
bool is_null(const yaml_node_t *node);
const char *kind_of(const yaml_node_t *node);
size_t list_length(const yaml_node_t *node);
const yaml_node_t *list_item(struct loader *loader, const yaml_node_t *node, size_t index);
int expect_list(struct loader *loader, const yaml_node_t *node, const char *what);
int read_text(struct loader *loader, const yaml_node_t *node, const char *what, const char **out);
int read_name(struct loader *loader, const yaml_node_t *node, const char *what, char **out);
int read_choice(struct loader *loader, const yaml_node_t *node, const char *what,
                const char *const *names, size_t count, int *out);
int read_number(struct loader *loader, const yaml_node_t *node, const char *what, uint64_t min,
                uint64_t max, uint64_t *out);
int read_duration(struct loader *loader, const yaml_node_t *node, const char *what,
                  packet_time *out);
int match_keys(struct loader *loader, const yaml_node_t *node, const char *what,
               struct field *fields, size_t field_count);
int require_key(struct loader *loader, const yaml_node_t *node, const char *what,
                const struct field *field);
int read_mapping(struct loader *loader, const yaml_node_t *node, const char *what,
                 struct field *fields, size_t field_count);
int name_index_init(struct loader *loader, struct name_index *index, size_t count);
int name_index_find(const struct name_index *index, const char *name);
int claim_name(struct loader *loader, struct name_index *index, const yaml_node_t *node,
               const char *what, const char *name, size_t position);
int read_pool_names(struct loader *loader, const yaml_node_t *node, const char *what,
                    bool allow_empty, const char *owner, int **indexes, size_t *count);
/* The sensors: section (policy_sensors.c). */
int read_fleet_sensors(struct loader *loader, const yaml_node_t *node);
/* The events: section (policy_events.c). */
int read_events(struct loader *loader, const yaml_node_t *node);
int check_stream(struct loader *loader, const unsigned char *text, size_t length);
int load_document(struct loader *loader, const unsigned char *text, size_t length);

#endif
