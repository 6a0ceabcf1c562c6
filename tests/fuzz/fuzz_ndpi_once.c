/* Linked into fuzz_sensor with -Wl,--wrap for the three calls below (tests/fuzz/fuzz.mk).
 * The target builds a fresh sensor for every input, so that an input replays alone the way
 * it ran; but nDPI's detection module (its host and address lists) takes about 30 ms to
 * build under AddressSanitizer, which would hold the target to a few dozen runs a second.
 * The module is built once per process and handed out again; only nDPI's own caches carry
 * over from one input to the next, as they do between flows in a long capture. */
#include <ndpi_api.h>
#include <stdbool.h>

struct ndpi_detection_module_struct *__real_ndpi_init_detection_module(ndpi_init_prefs prefs);
void __real_ndpi_finalize_initialization(struct ndpi_detection_module_struct *module);
void __real_ndpi_exit_detection_module(struct ndpi_detection_module_struct *module);

struct ndpi_detection_module_struct *__wrap_ndpi_init_detection_module(ndpi_init_prefs prefs);
void __wrap_ndpi_finalize_initialization(struct ndpi_detection_module_struct *module);
void __wrap_ndpi_exit_detection_module(struct ndpi_detection_module_struct *module);

static struct ndpi_detection_module_struct *shared;
static ndpi_init_prefs shared_prefs;
static bool shared_finalized;

struct ndpi_detection_module_struct *__wrap_ndpi_init_detection_module(ndpi_init_prefs prefs)
{
    /* Other preferences make another module: only the same one can be shared. */
    if (shared != NULL && prefs != shared_prefs)
        return __real_ndpi_init_detection_module(prefs);
    if (shared == NULL) {
        shared = __real_ndpi_init_detection_module(prefs);
        shared_prefs = prefs;
    }
    return shared;
}

void __wrap_ndpi_finalize_initialization(struct ndpi_detection_module_struct *module)
{
    if (module != shared) {
        __real_ndpi_finalize_initialization(module);
        return;
    }
    if (!shared_finalized)
        __real_ndpi_finalize_initialization(module);
    shared_finalized = true;
}

void __wrap_ndpi_exit_detection_module(struct ndpi_detection_module_struct *module)
{
    if (module != shared)
        __real_ndpi_exit_detection_module(module);
}
