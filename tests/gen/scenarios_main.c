/* Writes the scenario captures of pcaps/. Deterministic: the same build writes the same bytes
 * every run, and the test suite checks that the committed captures are exactly what this
 * program writes.
 *
 * usage: scenarios OUTDIR */
#include <stdio.h>

#include "scenario.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: scenarios OUTDIR\n");
        return 2;
    }
    scenario_output_dir = argv[1];
    /* Append new families at the end: see scenario.h. */
    scenarios_core();
    scenarios_evasion();
    scenarios_submission();
    scenarios_bots();
    scenarios_capture();
    scenarios_stacks();
    scenarios_fleet();
    scenarios_abuse();
    scenarios_collateral();
    scenarios_migration();
    return 0;
}
