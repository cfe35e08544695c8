// Real FFT of even size over KissFFT (Debian's header-only kissfft.hh).
//
// forward: n real samples -> n/2 + 1 bins, X[k] = sum_n x[n] e^{-2 pi i k n / size}
// inverse: n/2 + 1 bins -> n real samples, scaled by 1/size so that
//          inverse(forward(x)) == x.
// Sizes must be even with n/2 made of factors 2, 3 and 5 only: KissFFT's
// generic-radix butterfly allocates scratch memory, the 2/3/4/5 ones do not.
#pragma once

#include <complex>
#include <memory>
#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

class RealFft {
 public:
  explicit RealFft(int size);  // throws std::invalid_argument on a bad size
  ~RealFft();
  RealFft(RealFft&&) noexcept;
  RealFft& operator=(RealFft&&) noexcept;

  // Real-time safe. in and out must not overlap.
  void forward(const float* in, std::complex<float>* out) const noexcept TIMBREL_REALTIME;
  // Real-time safe. Uses an internal scratch buffer, so one RealFft must not
  // run two inverse transforms at once.
  void inverse(const std::complex<float>* in, float* out) noexcept TIMBREL_REALTIME;

  int size() const { return size_; }
  int bins() const { return size_ / 2 + 1; }
  static bool is_supported_size(int size);

 private:
  struct Kiss;
  int size_;
  std::unique_ptr<Kiss> kiss_;
  std::vector<std::complex<float>> twiddle_;  // e^{+2 pi i k / size}, k < size/2
  std::vector<std::complex<float>> scratch_;  // size/2 + 1
};

}  // namespace timbrel::dsp
