/*
 * Counts the heap mbedTLS uses on Linux. Debian's mbedTLS is built without
 * MBEDTLS_PLATFORM_MEMORY, so no allocator can be installed at run time;
 * instead the build links mbedTLS statically with -Wl,--wrap=calloc,
 * --wrap=free, which sends the library's calloc/free (and ours) through the
 * functions below. Only blocks allocated or freed while a TLS glue call is
 * running are counted, with the size the allocator reports for the block.
 * Compiled only when the build sets MTC_TLS_HEAP_WRAP.
 */
#if defined(MTC_TLS_HEAP_WRAP)

#include <malloc.h>
#include <stddef.h>

#include "tls_glue.h"

void *__real_calloc(size_t count, size_t size);
void __real_free(void *ptr);
void *__wrap_calloc(size_t count, size_t size);
void __wrap_free(void *ptr);

void *__wrap_calloc(size_t count, size_t size)
{
    void *p = __real_calloc(count, size);
    if (p != NULL && mtc_tls_heap_in_scope())
        mtc_tls_heap_note_alloc(malloc_usable_size(p));
    return p;
}

void __wrap_free(void *ptr)
{
    if (ptr != NULL && mtc_tls_heap_in_scope())
        mtc_tls_heap_note_free(malloc_usable_size(ptr));
    __real_free(ptr);
}

__attribute__((constructor)) static void tls_heap_wrap_announce(void)
{
    mtc_tls_heap_set_counted();
}

#else
/* ISO C forbids an empty translation unit. */
typedef int mtc_tls_heap_wrap_unused;
#endif
