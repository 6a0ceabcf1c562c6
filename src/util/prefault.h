/* Pages asked for in one call before they are written: a large table touched for the
 * first time otherwise takes one page fault per 4 KiB, a few microseconds each in a virtual
 * machine (a tenth of a SYN flood's time). Advice only: where the kernel cannot
 * (MADV_POPULATE_WRITE is Linux 5.14), the pages fault one by one as before. */
#ifndef OP25B_PREFAULT_H
#define OP25B_PREFAULT_H

#include <stddef.h>

/* The pages holding [memory, memory + bytes), made present and writable. Their contents do
 * not change: only for memory the caller is about to write anyway. */
void prefault(void *memory, size_t bytes);

#endif
