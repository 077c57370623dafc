/*
 * Counting calloc/free for mbedTLS. Each block carries its size in a header
 * so free() can subtract it. Runs only in the main loop (lwip_poll
 * architecture), so the counters need no lock.
 */
#include "tls_heap.h"

#include <stdint.h>
#include <stdlib.h>

typedef union {
    size_t size;
    max_align_t align;
} block_header;

static tls_heap_stats heap_stats;

void *mtc_tls_calloc(size_t count, size_t size)
{
    if (count != 0 && size > (SIZE_MAX - sizeof(block_header)) / count) {
        heap_stats.failures++;
        return NULL;
    }
    size_t bytes = count * size;
    block_header *h = calloc(1, sizeof(block_header) + bytes);
    if (h == NULL) {
        heap_stats.failures++;
        return NULL;
    }
    h->size = bytes;
    heap_stats.in_use += bytes;
    if (heap_stats.in_use > heap_stats.peak)
        heap_stats.peak = heap_stats.in_use;
    return h + 1;
}

void mtc_tls_free(void *ptr)
{
    if (ptr == NULL)
        return;
    block_header *h = (block_header *)ptr - 1;
    heap_stats.in_use -= h->size;
    free(h);
}

tls_heap_stats tls_heap_get_stats(void)
{
    return heap_stats;
}
