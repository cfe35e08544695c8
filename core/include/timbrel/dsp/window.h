#pragma once

#include <vector>

namespace timbrel::dsp {

// Periodic Hann window, w[n] = 0.5 - 0.5 cos(2 pi n / size): sums to a constant
// at 50 % and 75 % overlap, and is what the STFT and descriptors use.
std::vector<float> periodic_hann(int size);

}  // namespace timbrel::dsp
