#include "allocation_counter.h"

#include <cstdlib>
#include <new>

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
#define TIMBREL_COUNT_MALLOC 1
#elif defined(__GLIBC__) && defined(__has_feature)
#if !__has_feature(address_sanitizer)
#define TIMBREL_COUNT_MALLOC 1
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

void* operator new(std::size_t size) {
#ifndef TIMBREL_COUNT_MALLOC
  note_allocation();  // otherwise malloc below counts it
#endif
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

#ifdef TIMBREL_COUNT_MALLOC
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
// Interpose glibc's allocator: operator new above goes through here too.
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
namespace timbrel::test {
bool counts_c_allocations() { return true; }
}
#else
namespace timbrel::test {
bool counts_c_allocations() { return false; }
}
#endif
