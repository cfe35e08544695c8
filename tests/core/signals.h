// Test signals generated in C++ (the golden ones come from Python).
#pragma once

#include <cmath>
#include <random>
#include <vector>

namespace timbrel::test {

inline std::vector<float> harmonic_tone(double f0, double rate, double seconds, int harmonics = 1,
                                        double amplitude = 0.5) {
  std::vector<float> x(size_t(seconds * rate));
  const double pi = std::acos(-1.0);
  double norm = 0.0;
  for (int h = 1; h <= harmonics; ++h) norm += 1.0 / h;
  for (size_t n = 0; n < x.size(); ++n) {
    double v = 0.0;
    for (int h = 1; h <= harmonics; ++h) {
      if (h * f0 >= rate / 2) break;
      v += std::sin(2.0 * pi * h * f0 * double(n) / rate + 0.3 * h) / h;
    }
    x[n] = float(amplitude * v / norm);
  }
  return x;
}

inline std::vector<float> white_noise(size_t n, double stddev, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, float(stddev));
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  return x;
}

}  // namespace timbrel::test
