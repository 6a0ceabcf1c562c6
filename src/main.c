/* op25b-watch: the command line read, the policy loaded, then one of three jobs: print the
 * policy (--check, app/check.c), run one sensor process (app/run.c), or supervise
 * --workers' processes (app/supervise.c). */
#include "app/check.h"
#include "app/options.h"
#include "app/output_paths.h"
#include "app/run.h"
#include "app/supervise.h"
#include "app/worker_spool.h"
#include "policy/policy.h"
#include "util/log.h"

static void set_log_level(int verbosity)
{
    if (verbosity < 0)
        log_set_level(LOG_ERROR);
    else if (verbosity > 0)
        log_set_level(verbosity == 1 ? LOG_INFO : LOG_DEBUG);
}

/* A capture run: the outputs checked before anything is opened, then one sensor process or
 * --workers' processes. */
static int start(const struct options *options, struct policy *policy)
{
    int status = output_paths_check(options);
    if (status != EXIT_DONE)
        return status;
    if (options->spool != NULL)
        warn_unused_worker_spools(options->spool, options->workers);
    if (options->workers > 1)
        return supervise_workers(options, policy);
    struct run_role alone = RUN_ROLE_ALONE;
    return run_process(options, policy, &alone);
}

int main(int argc, char **argv)
{
    struct options options;
    if (options_parse(argc, argv, &options) != 0) {
        options_usage_hint();
        return EXIT_USAGE;
    }
    set_log_level(options.verbosity);

    char error[1024];
    struct policy *policy = policy_load(options.policy_path, error, sizeof(error));
    if (policy == NULL) {
        log_line("%s", error);
        return EXIT_USAGE;
    }
    if (options.flows > 0)
        policy->limits.flows = (uint32_t)options.flows;
    int status;
    if (options.check) {
        check_print(policy, stdout);
        status = EXIT_DONE;
    } else {
        status = start(&options, policy);
    }
    policy_free(policy);
    return status;
}
