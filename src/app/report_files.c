#include "app/report_files.h"

#include "util/log.h"

int write_report_files(const struct report *report, const char *const *paths, size_t count)
{
    int status = 0;
    for (size_t i = 0; i < count; i++) {
        char error[512];
        if (report_write(report, paths[i], error, sizeof(error)) != 0) {
            log_message(LOG_FAILURE, "%s", error);
            status = -1;
        }
    }
    return status;
}
