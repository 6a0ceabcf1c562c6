#include "workers/worker_share.h"

#include <string.h>
#include <sys/mman.h>

/* Each worker takes its inboxes before every packet; these are what the others may post
 * while it is behind (a capture block, or off its core when there are more workers than
 * cores). Spoofed SYNs come in floods: 32,768 cells of 72 bytes, 2.3 MiB a worker, whose
 * pages are only touched as the ring comes round. Mail connections and open MSAs are few. */
static const struct worker_share_sizes default_sizes = {
    .syns = 32768,
    .servers = 2048,
    .findings = 16384,
};

bool worker_share_init(struct worker_share *share, unsigned workers, size_t segments,
                       const struct worker_share_sizes *sizes)
{
    if (sizes == NULL)
        sizes = &default_sizes;
    memset(share, 0, sizeof(*share));
    share->syns = inbox_set_new(workers, sizes->syns, sizeof(struct shared_syn));
    share->servers = inbox_set_new(workers, sizes->servers, sizeof(struct shared_server_note));
    share->findings = once_share_new(sizes->findings);
    share->flag_bytes = 2 * (segments + 1) * sizeof(bool);
    void *flags =
        mmap(NULL, share->flag_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (flags != MAP_FAILED) {
        share->return_seen = flags;
        share->outbound_seen = share->return_seen + segments + 1;
    }
    if (share->syns == NULL || share->servers == NULL || share->findings == NULL ||
        share->return_seen == NULL) {
        worker_share_free(share);
        return false;
    }
    return true;
}

void worker_share_set_worker(struct worker_share *share, unsigned worker)
{
    if (share->syns != NULL)
        inbox_set_worker(share->syns, worker);
    if (share->servers != NULL)
        inbox_set_worker(share->servers, worker);
}

void worker_share_free(struct worker_share *share)
{
    inbox_set_free(share->syns);
    inbox_set_free(share->servers);
    once_share_free(share->findings);
    if (share->return_seen != NULL)
        munmap(share->return_seen, share->flag_bytes);
    memset(share, 0, sizeof(*share));
}
