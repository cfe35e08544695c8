// Counts heap allocations made by this thread between start and stop, to prove
// that real-time code does not allocate. Covers operator new and, outside
// AddressSanitizer builds, malloc/calloc/realloc (speexdsp is C).
#pragma once

namespace timbrel::test {

class AllocationCounter {
 public:
  AllocationCounter();   // starts counting
  ~AllocationCounter();  // stops counting
  long count() const;
};

// True when C allocations (malloc) are counted too.
bool counts_c_allocations();

}  // namespace timbrel::test
