#include "util/prefault.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

void prefault(void *memory, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
    if (memory == NULL || bytes == 0)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)memory & ~(page - 1);
    uintptr_t last = ((uintptr_t)memory + bytes + page - 1) & ~(page - 1);
    (void)madvise((void *)first, last - first, MADV_POPULATE_WRITE);
#else
    (void)memory;
    (void)bytes;
#endif
}
