// Descriptors and pitch of every full frame of a signal, offline: frame m
// covers samples [m hop, m hop + window), its time is that of its centre,
// (m hop + window / 2) / sample_rate. The convention of `timbrel analyse` and
// the evaluation toolkit (scripts/timbrel/eval/core.py); used by the code
// analysis and by the page to draw what a render measures over its target.
#pragma once

#include <cstddef>
#include <vector>

#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/yin.h"

namespace timbrel::dsp {

struct FrameAnalysis {
  double time_s = 0.0;
  SpectralDescriptors descriptors;
  PitchEstimate pitch;  // YIN, 50-2000 Hz, threshold 0.15
};

// window: an FFT size (even, factors 2, 3, 5); 1 <= hop. Allocates.
std::vector<FrameAnalysis> analyse_frames(const float* x, std::size_t n, double sample_rate,
                                          int window = 1024, int hop = 256);

}  // namespace timbrel::dsp
