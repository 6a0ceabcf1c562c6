/* --version: the sensor's version and those of the libraries it runs with, each asked of
 * the library itself at run time (not the headers it was built against), so a report of a
 * problem names what actually ran. */
#ifndef OP25B_VERSION_H
#define OP25B_VERSION_H

#include <stdio.h>

void version_print(FILE *out);

#endif
