#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "signals.h"
#include "timbrel/simd/kernels.h"

using namespace timbrel;

TEST_CASE("SIMD kernels agree with the plain loops", "[simd][kernels]") {
  INFO("kernel path: " << simd::kernel_path());
  for (int n : {1, 3, 4, 15, 16, 17, 63, 64, 65, 513, 1000}) {
    const auto a = test::white_noise(size_t(n), 1.0, unsigned(n));
    const auto b = test::white_noise(size_t(n), 1.0, unsigned(n + 1000));
    double magnitude = 0.0;
    for (int i = 0; i < n; ++i) magnitude += std::fabs(a[size_t(i)] * b[size_t(i)]);
    INFO("n = " << n);
    CHECK(std::fabs(simd::dot(a.data(), b.data(), n) - simd::plain::dot(a.data(), b.data(), n)) <=
          1e-6 * magnitude + 1e-7);
  }
  const int rows = 37, cols = 131;
  const auto w = test::white_noise(size_t(rows * cols), 0.1, 3);
  const auto x = test::white_noise(size_t(cols), 1.0, 4);
  std::vector<float> fast(rows, 0.5f), slow(rows, 0.5f);
  simd::matvec_accumulate(w.data(), x.data(), fast.data(), rows, cols);
  simd::plain::matvec_accumulate(w.data(), x.data(), slow.data(), rows, cols);
  for (int r = 0; r < rows; ++r) CHECK(fast[size_t(r)] == Approx(slow[size_t(r)]).margin(1e-5));
}
