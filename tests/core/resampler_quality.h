// Measures a resampler the way its test and the benchmark report it: sine
// tones through the streaming path, a least-squares sinusoid fit per tone.
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "timbrel/dsp/resampler.h"

namespace timbrel::test {

inline std::vector<float> sine(double f, double rate, size_t n) {
  std::vector<float> x(n);
  const double pi = std::acos(-1.0);
  for (size_t t = 0; t < n; ++t) x[t] = float(0.5 * std::sin(2.0 * pi * f * double(t) / rate));
  return x;
}

inline std::vector<float> stream(dsp::StreamingResampler& r, const std::vector<float>& x,
                                 int block) {
  std::vector<float> y, out(size_t(r.max_output(block)));
  for (size_t s = 0; s < x.size(); s += size_t(block)) {
    const int n = int(std::min(x.size() - s, size_t(block)));
    const int produced = r.process(x.data() + s, n, out.data());
    y.insert(y.end(), out.begin(), out.begin() + produced);
  }
  return y;
}

// Least-squares fit of a sinusoid at frequency f (plus DC) over y[begin, end):
// returns its amplitude and the RMS of what is left.
struct Fit {
  double amplitude;
  double residual_rms;
};
inline Fit fit_sine(const std::vector<float>& y, double f, double rate, size_t begin, size_t end) {
  const double pi = std::acos(-1.0);
  double ss = 0, sc = 0, cc = 0, sy = 0, cy = 0, s1 = 0, c1 = 0, y1 = 0;
  const double count = double(end - begin);
  for (size_t t = begin; t < end; ++t) {
    const double s = std::sin(2 * pi * f * double(t) / rate),
                 c = std::cos(2 * pi * f * double(t) / rate);
    ss += s * s;
    sc += s * c;
    cc += c * c;
    sy += s * y[t];
    cy += c * y[t];
    s1 += s;
    c1 += c;
    y1 += y[t];
  }
  // Solve the 3x3 normal equations [ss sc s1; sc cc c1; s1 c1 n] [a b d] = [sy cy y1].
  const double m[3][4] = {{ss, sc, s1, sy}, {sc, cc, c1, cy}, {s1, c1, count, y1}};
  double a[3][4];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) a[i][j] = m[i][j];
  for (int i = 0; i < 3; ++i)
    for (int k = i + 1; k < 3; ++k) {
      const double factor = a[k][i] / a[i][i];
      for (int j = i; j < 4; ++j) a[k][j] -= factor * a[i][j];
    }
  double sol[3];
  for (int i = 2; i >= 0; --i) {
    double v = a[i][3];
    for (int j = i + 1; j < 3; ++j) v -= a[i][j] * sol[j];
    sol[i] = v / a[i][i];
  }
  double residual = 0.0;
  for (size_t t = begin; t < end; ++t) {
    const double model = sol[0] * std::sin(2 * pi * f * double(t) / rate) +
                         sol[1] * std::cos(2 * pi * f * double(t) / rate) + sol[2];
    residual += (y[t] - model) * (y[t] - model);
  }
  return {std::hypot(sol[0], sol[1]), std::sqrt(residual / count)};
}

inline double rms(const std::vector<float>& y, size_t begin, size_t end) {
  double sum = 0.0;
  for (size_t t = begin; t < end; ++t) sum += double(y[t]) * y[t];
  return std::sqrt(sum / double(end - begin));
}

inline double db(double ratio) { return 20.0 * std::log10(ratio); }

struct ResamplerQuality {
  double passband_ripple_db = 0.0;    // max |gain| over tones 100 Hz..9 kHz
  double worst_spurious_db = -300.0;  // whatever is not the tone (images, artefacts)
  double worst_alias_db = -300.0;     // downsampling: tones above the output Nyquist + 675 Hz
};

inline ResamplerQuality measure_resampler(int in_rate, int out_rate) {
  ResamplerQuality q;
  const double tone_rms = 0.5 / std::sqrt(2.0);
  for (double f = 100.0; f <= 9000.0; f += 377.0) {
    dsp::StreamingResampler r(in_rate, out_rate, 128);
    const auto y = stream(r, sine(f, in_rate, size_t(in_rate)), 128);
    const auto fit = fit_sine(y, f, out_rate, size_t(out_rate / 10), y.size() - 400);
    q.passband_ripple_db = std::max(q.passband_ripple_db, std::fabs(db(fit.amplitude / 0.5)));
    q.worst_spurious_db = std::max(q.worst_spurious_db, db(fit.residual_rms / tone_rms));
  }
  if (in_rate > out_rate) {
    // Speex's transition band ends just above the output Nyquist frequency.
    for (double f = out_rate / 2.0 + 675.0; f < in_rate / 2.0 - 200.0; f += 613.0) {
      dsp::StreamingResampler r(in_rate, out_rate, 128);
      const auto y = stream(r, sine(f, in_rate, size_t(in_rate)), 128);
      q.worst_alias_db =
          std::max(q.worst_alias_db, db(rms(y, size_t(out_rate / 10), y.size() - 400) / tone_rms));
    }
  }
  return q;
}

}  // namespace timbrel::test
