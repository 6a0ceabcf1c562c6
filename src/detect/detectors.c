#include "detect/detector.h"
#include "detect/detect_evasion.h"
#include "detect/detect_bot.h"
#include "detect/detect_submission.h"
#include "detect/detect_collateral.h"
#include "detect/detect_migration.h"

/* One line per detection family, in the order they see each packet. */
static const detector_constructor constructors[] = {
    NULL, /* keeps the array non-empty until the first family lands */
    detect_evasion_new,
    detect_submission_new,
    detect_bot_new,
    detect_collateral_new,
    /* After the submission family: its connections end (and are counted) before an interval
     * is written. */
    detect_migration_new,
};

int detectors_create(const struct detector_context *context, struct detector **detectors,
                     size_t capacity)
{
    size_t count = 0;
    for (size_t i = 0; i < sizeof(constructors) / sizeof(constructors[0]); i++) {
        if (constructors[i] == NULL)
            continue;
        bool disabled = false;
        struct detector *detector = constructors[i](context, &disabled);
        if (detector == NULL && disabled)
            continue;
        if (detector == NULL || count == capacity) {
            for (size_t d = 0; d < count; d++)
                detectors[d]->ops->free(detectors[d]);
            if (detector != NULL)
                detector->ops->free(detector);
            return -1;
        }
        detectors[count++] = detector;
    }
    return (int)count;
}
