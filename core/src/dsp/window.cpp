#include "timbrel/dsp/window.h"

#include <cmath>

namespace timbrel::dsp {

std::vector<float> periodic_hann(int size) {
  std::vector<float> w(static_cast<size_t>(size));
  const double pi = std::acos(-1.0);
  for (int n = 0; n < size; ++n)
    w[static_cast<size_t>(n)] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * pi * n / size));
  return w;
}

}  // namespace timbrel::dsp
