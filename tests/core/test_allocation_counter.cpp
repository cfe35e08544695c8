// The zero-allocation checks are only worth something if the counter sees
// allocations: prove it does, for operator new and for C's malloc.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <vector>

#include "allocation_counter.h"

TEST_CASE("The allocation counter sees operator new and malloc", "[alloc]") {
  {
    timbrel::test::AllocationCounter counter;
    auto p = std::make_unique<std::vector<int>>(100);
    CHECK(counter.count() >= 2);
  }
  {
    timbrel::test::AllocationCounter counter;
    void* volatile p = std::malloc(64);
    std::free(p);
    CHECK(counter.count() == 1);
  }
}
