/* Counting allocator behind mbedTLS (the only heap user in the firmware). */
#ifndef MTC_TLS_HEAP_H
#define MTC_TLS_HEAP_H

#include <stddef.h>

typedef struct {
    size_t in_use;      /* bytes allocated now */
    size_t peak;        /* highest in_use since boot */
    unsigned failures;  /* allocations refused (out of memory) */
} tls_heap_stats;

void *mtc_tls_calloc(size_t count, size_t size);
void mtc_tls_free(void *ptr);
tls_heap_stats tls_heap_get_stats(void);

#endif
