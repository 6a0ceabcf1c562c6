/* Opens a capture file the way every read loop of the benchmark must, so their ratios compare
 * like with like: with libpcap's own stdio stream, or with a stdio buffer of buffer_size
 * bytes, as op25b-watch gives a file it reads on one core. */
#ifndef OP25B_BENCH_OPEN_H
#define OP25B_BENCH_OPEN_H

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

/* NULL with error filled on failure. *buffer is the stream's buffer (or NULL): free it only
 * after pcap_close has closed the stream. */
static inline pcap_t *bench_open(const char *path, size_t buffer_size, char **buffer,
                                 char error[PCAP_ERRBUF_SIZE])
{
    *buffer = NULL;
    if (buffer_size == 0)
        return pcap_open_offline(path, error);
    FILE *file = fopen(path, "rb");
    char *stream_buffer = malloc(buffer_size);
    if (file == NULL || stream_buffer == NULL) {
        snprintf(error, PCAP_ERRBUF_SIZE, "%s: cannot open", path);
        if (file != NULL)
            fclose(file);
        free(stream_buffer);
        return NULL;
    }
    setvbuf(file, stream_buffer, _IOFBF, buffer_size);
    pcap_t *pcap = pcap_fopen_offline(file, error);
    if (pcap == NULL) {
        fclose(file);
        free(stream_buffer);
        return NULL;
    }
    *buffer = stream_buffer;
    return pcap;
}

#endif
