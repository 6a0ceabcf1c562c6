/* Runs a command and reports its wall time, peak resident set size and exit status.
 *
 * Linux keeps a process's peak RSS across exec, and a child forked from a big process
 * (the Python driver) starts with that process's RSS as its own peak, so wait4 in the
 * driver would report at least the driver's size. Forked from this small program instead,
 * the figure is the command's own.
 *
 * usage: measure RESULT_FILE COMMAND [ARG...]
 * Writes "EXIT_STATUS SECONDS PEAK_RSS_KIB" to RESULT_FILE; exits 0 unless it could not
 * run the command (standard input, output and error pass through to the command). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_clock.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULT_FILE COMMAND [ARG...]\n");
        return 2;
    }
    FILE *result = fopen(argv[1], "w");
    if (result == NULL) {
        fprintf(stderr, "measure: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    double started = monotonic_seconds();
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "measure: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage usage;
    while (wait4(child, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
            return 1;
        }
    }
    double seconds = monotonic_seconds() - started;
    int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(result, "%d %.6f %ld\n", exit_status, seconds, usage.ru_maxrss);
    return fclose(result) == 0 ? 0 : 1;
}
