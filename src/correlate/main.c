/* op25b-correlate: the fleet's one verdict per attempt. Reads the sensors' events as a
 * member of a Kafka consumer group, joins the reports of different sensors about one
 * attempt, and writes fleet_attempt and fleet_coverage (docs/fleet.md). The command line
 * read and the fleet policy loaded, then --check or the run. */
#include "correlate/check.h"
#include "correlate/options.h"
#include "correlate/run.h"
#include "policy/policy.h"
#include "util/log.h"

int main(int argc, char **argv)
{
    log_set_program("op25b-correlate");
    struct correlate_options options;
    if (correlate_options_parse(argc, argv, &options) != 0) {
        correlate_usage_hint();
        return CORRELATE_USAGE;
    }
    if (options.verbosity < 0)
        log_set_level(LOG_ERROR);
    else if (options.verbosity > 0)
        log_set_level(options.verbosity == 1 ? LOG_INFO : LOG_DEBUG);

    char error[1024];
    struct policy *policy = policy_load_fleet(options.policy_path, error, sizeof(error));
    if (policy == NULL) {
        log_line("%s", error);
        return CORRELATE_USAGE;
    }
    /* By default a sensor's silence counts once its clock is past an attempt by the longest
     * a sensor keeps an attempt open before reporting it, plus the skew. */
    if (options.window == 0) {
        packet_time longest = policy->timeouts.syn > policy->timeouts.smtp_idle
                                  ? policy->timeouts.syn
                                  : policy->timeouts.smtp_idle;
        options.window = longest + options.skew;
    }
    int status = CORRELATE_DONE;
    if (options.check)
        correlate_check_print(policy, stdout);
    else
        status = correlate_run(&options, policy);
    policy_free(policy);
    return status;
}
