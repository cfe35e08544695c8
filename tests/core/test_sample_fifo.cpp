#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

#include "allocation_counter.h"
#include "timbrel/dsp/sample_fifo.h"

using namespace timbrel;

TEST_CASE("SampleFifo returns samples in order across the ring's wrap, without allocating",
          "[sample_fifo][realtime]") {
  // Pushes of 7, 3, 6 and pops of 4, 6, 6 samples into a 9-sample ring move
  // the read and write positions through every offset of the ring.
  dsp::SampleFifo fifo(9);
  const std::size_t push_sizes[] = {7, 3, 6}, pop_sizes[] = {4, 6, 6};
  std::vector<float> in(7), out(6), got;
  float next = 1.0f;
  long allocations = 0;
  for (int round = 0; round < 30; ++round) {
    const std::size_t pushing = push_sizes[round % 3], popping = pop_sizes[round % 3];
    std::iota(in.begin(), in.end(), next);
    next += float(pushing);
    test::AllocationCounter counter;
    const std::size_t pushed = fifo.push(in.data(), pushing);
    const std::size_t missing = fifo.pop(out.data(), popping);
    allocations += counter.count();
    REQUIRE(pushed == pushing);
    REQUIRE(missing == 0);
    got.insert(got.end(), out.begin(), out.begin() + std::ptrdiff_t(popping));
  }
  CHECK(allocations == 0);
  CHECK(fifo.empty());
  std::vector<float> expected(got.size());
  std::iota(expected.begin(), expected.end(), 1.0f);
  CHECK(got == expected);
}

TEST_CASE("SampleFifo drops what does not fit and pads an underrun with silence", "[sample_fifo]") {
  dsp::SampleFifo fifo(4);
  const float in[6] = {1, 2, 3, 4, 5, 6};
  CHECK(fifo.push(in, 3) == 3);
  CHECK(fifo.push(in + 3, 3) == 1);  // room for one more: 5 and 6 are dropped
  CHECK(fifo.size() == 4);
  CHECK(fifo.push(in, 1) == 0);

  float out[6] = {-1, -1, -1, -1, -1, -1};
  CHECK(fifo.pop(out, 6) == 2);  // two samples missing
  CHECK(std::vector<float>(out, out + 6) == std::vector<float>{1, 2, 3, 4, 0, 0});
  CHECK(fifo.empty());
  CHECK(fifo.pop(out, 2) == 2);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
}

TEST_CASE("SampleFifo reset empties it and queues a head start of silence", "[sample_fifo]") {
  dsp::SampleFifo fifo(8);
  const float in[5] = {1, 2, 3, 4, 5};
  fifo.push(in, 5);
  float out[3];
  fifo.pop(out, 3);  // the read position is now mid-ring
  fifo.reset(3);
  CHECK(fifo.size() == 3);
  fifo.push(in, 2);
  float all[5] = {-1, -1, -1, -1, -1};
  CHECK(fifo.pop(all, 5) == 0);
  CHECK(std::vector<float>(all, all + 5) == std::vector<float>{0, 0, 0, 1, 2});

  fifo.reset(100);  // more than the capacity: the FIFO is full of silence
  CHECK(fifo.size() == fifo.capacity());
  fifo.reset();
  CHECK(fifo.empty());
}

TEST_CASE("SampleFifo of capacity 0 holds nothing", "[sample_fifo]") {
  dsp::SampleFifo fifo(0);
  const float in[2] = {1, 2};
  CHECK(fifo.push(in, 2) == 0);
  float out[2] = {-1, -1};
  CHECK(fifo.pop(out, 2) == 2);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
  fifo.reset(4);
  CHECK(fifo.empty());
}
