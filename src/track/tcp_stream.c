#include "track/tcp_stream.h"

struct tcp_stream_slice tcp_stream_accept(uint32_t *next, const struct tcp_segment *segment)
{
    struct tcp_stream_slice slice = {0, 0, 0, false};
    uint32_t wire = segment->wire;
    uint32_t captured = segment->captured < wire ? segment->captured : wire;
    /* Sequence space wraps (RFC 793 3.3): compare through a signed difference. */
    int32_t ahead = (int32_t)(segment->seq - *next);
    uint32_t already = 0;
    if (ahead > 0)
        slice.gap = true;
    else
        already = (uint32_t)(-(int64_t)ahead);
    if (already >= wire)
        return slice;
    /* The cut is at the segment's end: the new bytes are captured ones, then missing ones. */
    slice.skip = already < captured ? already : captured;
    slice.length = captured - slice.skip;
    slice.missing = (wire - already) - slice.length;
    *next = segment->seq + wire;
    return slice;
}
