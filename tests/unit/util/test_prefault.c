/* prefault: the pages are there before they are written (no fault per page after it, on a
 * kernel that has MADV_POPULATE_WRITE), and nothing they hold changes. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "util/prefault.h"

static long minor_faults(void)
{
    struct rusage usage;
    cr_assert_eq(getrusage(RUSAGE_SELF, &usage), 0);
    return usage.ru_minflt;
}

/* Not instrumented under AddressSanitizer: its checks would touch (and fault in) shadow
 * pages of their own, which are not what is counted here. */
__attribute__((no_sanitize_address)) static void touch_pages(unsigned char *memory, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 4096)
        memory[i] = 1;
}

Test(prefault, pages_written_after_it_do_not_fault)
{
    const size_t bytes = (size_t)8 << 20;
    unsigned char *memory =
        mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(memory, MAP_FAILED);
    /* Not page-aligned at either end: the pages holding the range are taken whole. */
    prefault(memory + 100, bytes - 200);
    long before = minor_faults();
    touch_pages(memory, bytes);
    long faults = minor_faults() - before;
#ifdef MADV_POPULATE_WRITE
    if (madvise(memory, 4096, MADV_POPULATE_WRITE) == 0)
        cr_assert_lt(faults, 16, "%ld faults writing 2,048 prefaulted pages", faults);
    else
        cr_log_warn("this kernel has no MADV_POPULATE_WRITE: pages fault as before");
#endif
    (void)faults;
    munmap(memory, bytes);
}

Test(prefault, contents_stay_and_empty_ranges_are_nothing)
{
    static unsigned char buffer[3 * 4096];
    for (size_t i = 0; i < sizeof(buffer); i++)
        buffer[i] = (unsigned char)(i * 7);
    prefault(buffer + 1, sizeof(buffer) - 2);
    prefault(buffer, 0);
    prefault(NULL, 4096);
    for (size_t i = 0; i < sizeof(buffer); i++)
        cr_assert_eq(buffer[i], (unsigned char)(i * 7), "byte %zu", i);
}
