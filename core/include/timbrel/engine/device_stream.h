// The audio-device side the streaming engines (VoiceTransfer, MidiPlayer,
// DrawPlayer, ListenAnalyzer) share: the device's sample rate and the largest
// block the caller hands over.
#pragma once

#include <cmath>
#include <string>

namespace timbrel::engine {

inline int whole_rate(double rate) { return int(std::lround(rate)); }

// Empty when device_rate is a whole number of Hz from 8000 to 192000 and
// max_block is 1-8192 samples, else what is wrong.
inline std::string validate_device_stream(double device_rate, int max_block) {
  if (!(device_rate >= 8000.0 && device_rate <= 192000.0) ||
      std::fabs(device_rate - whole_rate(device_rate)) > 1e-6)
    return "the audio device runs at " +
           (std::isfinite(device_rate) ? std::to_string(whole_rate(device_rate)) : "NaN") +
           " Hz; supported rates are whole numbers from 8000 to 192000 Hz";
  if (max_block < 1 || max_block > 8192)
    return "audio block size must be between 1 and 8192 samples, got " + std::to_string(max_block);
  return "";
}

}  // namespace timbrel::engine
