#include "track/tcp_stream.h"

struct tcp_stream_slice tcp_stream_accept(uint32_t *next, uint32_t seq, uint32_t length)
{
    struct tcp_stream_slice slice = {0, 0, false};
    /* Sequence space wraps (RFC 793 3.3): compare through a signed difference. */
    int32_t ahead = (int32_t)(seq - *next);
    if (ahead > 0) {
        slice.gap = true;
        slice.length = length;
        *next = seq + length;
        return slice;
    }
    uint32_t already = (uint32_t)(-(int64_t)ahead);
    if (already >= length)
        return slice;
    slice.skip = already;
    slice.length = length - already;
    *next = seq + length;
    return slice;
}
