/* The outputs, checked before anything is opened: no output is an input (a capture given
 * to -r, read while it is written), none is another output, and every --report can be
 * written at the end by the user that writes it then (-u's, if given). */
#ifndef OP25B_APP_OUTPUT_PATHS_H
#define OP25B_APP_OUTPUT_PATHS_H

#include "app/options.h"

/* EXIT_DONE, or EXIT_USAGE with the paths named on stderr. */
int output_paths_check(const struct options *options);

#endif
