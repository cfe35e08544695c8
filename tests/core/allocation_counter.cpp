#include "allocation_counter.h"

#include <cstddef>
#include <cstdlib>
#include <new>

// Two ways to see every allocation (operator new and C's malloc family, since
// speexdsp is C):
// - under AddressSanitizer, its allocation hook: ASan owns malloc and
//   operator new, and replacing them beside it makes it report mismatches;
// - otherwise (glibc), by interposing malloc/calloc/realloc; operator new
//   goes through malloc.
#if defined(__SANITIZE_ADDRESS__)
#define TIMBREL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIMBREL_ASAN 1
#endif
#endif

namespace {
thread_local bool g_counting = false;
thread_local long g_count = 0;

void note_allocation() {
  if (g_counting) ++g_count;
}
}  // namespace

namespace timbrel::test {
AllocationCounter::AllocationCounter() {
  g_count = 0;
  g_counting = true;
}
AllocationCounter::~AllocationCounter() { g_counting = false; }
long AllocationCounter::count() const { return g_count; }
}  // namespace timbrel::test

#if defined(TIMBREL_ASAN)
// From <sanitizer/allocator_interface.h>, which GCC's packages do not ship.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));

namespace {
void on_malloc(const volatile void*, std::size_t) { note_allocation(); }
void on_free(const volatile void*) {}
const int g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}  // namespace

#elif defined(__GLIBC__)
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* malloc(std::size_t size) {
  note_allocation();
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  note_allocation();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  note_allocation();
  return __libc_realloc(p, size);
}
}

#else
#error "allocation counting needs glibc or AddressSanitizer"
#endif
