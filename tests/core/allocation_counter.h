// Counts heap allocations made by this thread between start and stop, to prove
// that real-time code does not allocate. Covers operator new and
// malloc/calloc/realloc (speexdsp is C), natively and under AddressSanitizer.
#pragma once

namespace timbrel::test {

class AllocationCounter {
 public:
  AllocationCounter();   // starts counting
  ~AllocationCounter();  // stops counting
  long count() const;
};

}  // namespace timbrel::test
