#include "timbrel/dsp/fft.h"

#include <cmath>
#include <kissfft.hh>
#include <stdexcept>
#include <string>

namespace timbrel::dsp {

struct RealFft::Kiss {
  // Half-size complex transforms: the real transform packs even/odd samples.
  kissfft<float> forward;
  kissfft<float> inverse;
  explicit Kiss(int half) : forward(half, false), inverse(half, true) {}
};

bool RealFft::is_supported_size(int size) {
  if (size < 4 || size % 2 != 0) return false;
  int half = size / 2;
  for (int p : {2, 3, 5})
    while (half % p == 0) half /= p;
  return half == 1;
}

RealFft::RealFft(int size) : size_(size) {
  if (!is_supported_size(size))
    throw std::invalid_argument("FFT size " + std::to_string(size) +
                                " is not supported: it must be even, with size/2 a "
                                "product of 2, 3 and 5");
  const int half = size / 2;
  kiss_ = std::make_unique<Kiss>(half);
  twiddle_.resize(static_cast<size_t>(half));
  const double pi = std::acos(-1.0);
  for (int k = 0; k < half; ++k) {
    const double phase = 2.0 * pi * k / size;
    twiddle_[static_cast<size_t>(k)] = {static_cast<float>(std::cos(phase)),
                                        static_cast<float>(std::sin(phase))};
  }
  scratch_.resize(static_cast<size_t>(half) + 1);
}

RealFft::~RealFft() = default;
RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;

void RealFft::forward(const float* in, std::complex<float>* out) const noexcept {
  const int half = size_ / 2;
  kiss_->forward.transform_real(in, out);
  // KissFFT packs DC and Nyquist (both real) into out[0].
  const float dc = out[0].real();
  const float nyquist = out[0].imag();
  out[0] = {dc, 0.0f};
  out[half] = {nyquist, 0.0f};
}

void RealFft::inverse(const std::complex<float>* in, float* out) noexcept {
  // Z[k] = E[k] + i O[k] is the half-size spectrum of z[m] = x[2m] + i x[2m+1],
  // with E[k] = (X[k] + conj X[M-k]) / 2, O[k] = (X[k] - conj X[M-k]) / 2 e^{2 pi i k / N}.
  const int half = size_ / 2;
  const std::complex<float> i_unit(0.0f, 1.0f);
  for (int k = 0; k < half; ++k) {
    const std::complex<float> a = in[k];
    const std::complex<float> b = std::conj(in[half - k]);
    const std::complex<float> even = 0.5f * (a + b);
    const std::complex<float> odd = 0.5f * (a - b) * twiddle_[static_cast<size_t>(k)];
    scratch_[static_cast<size_t>(k)] = even + i_unit * odd;
  }
  auto* z = reinterpret_cast<std::complex<float>*>(out);  // x[2m], x[2m+1] pairs
  kiss_->inverse.transform(scratch_.data(), z);
  const float scale = 1.0f / static_cast<float>(half);
  for (int n = 0; n < size_; ++n) out[n] *= scale;
}

}  // namespace timbrel::dsp
