// GMVAE note model (Luo, Agres & Herremans, ISMIR 2019): a pitch encoder and
// a timbre encoder with Gaussian-mixture priors and one shared decoder over a
// note's log-mel patch. Family "gmvae", contract docs/gmvae.md (features:
// dsp/mel.h; audio: engine/gmvae_synth.h).
//
// Graphs, each over a whole patch (time-major [T, C] as every graph):
//   pitch_encoder   [43, 256] scaled log-mel -> [1, 32]: mean (16), log-variance (16) of z_pitch
//   timbre_encoder  [43, 256] -> [1, 32]: the same for z_timbre
//   decoder         [1, 32] (z_pitch then z_timbre) -> [43, 256] scaled log-mel (tanh), or
//                   the same values as one [1, 43 * 256] frame (a decoder of linear layers)
// Ops: linear, conv1d (any padding and stride), flatten, unflatten, layer_norm
// and the activations; no gru or vq. The graphs are not streamed: each runs
// over its whole patch through the layers' step() (a convolution's right
// padding fed as zero frames), in buffers sized at construction, so encode()
// and decode() never allocate.
//
// Metadata (docs/gmvae.md): the fixed front end (sample_rate 22050, window
// 2048, hop 256, frames 43, mel_bins 256, fmin 20, fmax 11025, latent 16), the
// level range db_min < db_max, M pitch components (ascending MIDI numbers) and
// K instruments with their ranges, the components' means and sigmas, the
// timbre map and the brightness dimension. validate() checks every field and
// that every number is finite and within bounds (files come from strangers).
//
// Real time: encode(), decode(), sample(), nearest_instrument(), transfer(),
// map_point(), map_coordinates() and set_brightness() are noexcept and never
// allocate, lock or throw. Not thread-safe (the graphs and buffers are
// scratch): one thread drives one Gmvae.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/mel.h"
#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"
#include "timbrel/realtime.h"

namespace timbrel::models {

class Gmvae {
 public:
  static constexpr int kSampleRate = 22050, kWindow = 2048, kHop = 256;
  static constexpr int kFrames = 43, kMelBins = 256, kPatch = kFrames * kMelBins;
  static constexpr int kLatent = 16, kZ = 2 * kLatent;  // z = [z_pitch, z_timbre]
  static constexpr int kMaxPitches = 128, kMaxInstruments = 64;
  static constexpr int kMaxMapPoints = 65536;
  // |value| bounds of the metadata's numbers.
  static constexpr double kMaxLatentValue = 1000.0;  // means, map center, axes, residuals, points
  static constexpr double kMaxDb = 300.0;            // |db_min|, |db_max|
  static constexpr double kMaxGainDb = 60.0;         // |output_gain_db|
  static constexpr double kMaxSigma = 100.0;         // 0 < sigma <= this
  // Multiply-adds of one decode: it runs on the audio thread at note-on (the
  // trained decoder: ~5 M). One encode (offline): 4x that.
  static constexpr std::uint64_t kMaxDecodeWork = std::uint64_t(1) << 24;
  static constexpr std::uint64_t kMaxEncodeWork = std::uint64_t(1) << 26;

  // Empty when `model` satisfies the contract, else what is wrong.
  static std::string validate(const nn::Model& model);

  struct LoadResult {
    std::unique_ptr<Gmvae> model;  // null on error
    std::string error;
  };
  // Never throw.
  static LoadResult load(const std::uint8_t* bytes, std::size_t size);
  static LoadResult load_file(const std::string& path);
  static LoadResult adopt(nn::ImageBlock image);

  // Throws std::invalid_argument with validate()'s message.
  explicit Gmvae(std::unique_ptr<nn::Model> model);
  ~Gmvae();
  Gmvae(const Gmvae&) = delete;
  Gmvae& operator=(const Gmvae&) = delete;

  // --- description ----------------------------------------------------------
  const nn::Model& model() const { return *model_; }
  const std::string& name() const { return model_->name(); }
  int pitches() const { return int(pitch_midi_.size()); }            // M
  int instruments() const { return int(instrument_names_.size()); }  // K
  const std::vector<int>& pitch_midi() const { return pitch_midi_; }
  const std::vector<std::string>& instrument_names() const { return instrument_names_; }
  // Lowest and highest MIDI note instrument k was trained on.
  std::pair<int, int> instrument_range(int instrument) const;
  // The pitch component of a MIDI note, or -1; the instrument called `name`, or -1.
  int pitch_index(int midi) const;
  int instrument_index(const std::string& name) const;
  float db_min() const { return db_min_; }
  float db_max() const { return db_max_; }
  // Linear make-up gain on the decoded magnitudes (metadata output_gain_db, 0 dB when
  // absent): the trainer sets it so that the components' notes play at a listening level.
  float output_gain() const { return output_gain_; }
  float pitch_sigma() const { return pitch_sigma_; }
  float timbre_sigma() const { return timbre_sigma_; }
  const float* pitch_mean(int m) const { return pitch_means_.data() + std::size_t(m) * kLatent; }
  const float* timbre_mean(int k) const { return timbre_means_.data() + std::size_t(k) * kLatent; }

  struct MapPoint {
    float x, y;
    int instrument, midi;
  };
  struct Map {
    std::array<float, kLatent> center{};
    std::array<std::array<float, kLatent>, 2> axes{};
    std::vector<MapPoint> points;
    std::vector<float> residuals;          // K x kLatent
    std::vector<std::array<float, 2>> xy;  // K: each component mean's map coordinates
  };
  const Map& map() const { return map_; }
  struct Brightness {
    int dim;
    float r, low, high, hz_per_unit;
  };
  const Brightness& brightness() const { return brightness_; }

  // What the page needs, one JSON object: {"name", "sampleRate", "frames", "melBins",
  // "latent", "dbMin", "dbMax", "pitches", "instruments", "instrumentRanges",
  // "pitchMeans", "pitchSigma", "timbreMeans", "timbreSigma", "map": {"center", "axes",
  // "points", "residuals", "means": [[x, y] per instrument]}, "brightness": {"dim",
  // "r", "low", "high", "hzPerUnit"}}.
  std::string info_json() const;

  // --- inference (real-time safe) ------------------------------------------
  // patch: kPatch scaled values; each output kLatent values (any may be null).
  void encode(const float* patch, float* mu_pitch, float* logvar_pitch, float* mu_timbre,
              float* logvar_timbre) noexcept TIMBREL_REALTIME;
  // z: kZ values [z_pitch, z_timbre] -> kPatch scaled values.
  void decode(const float* z, float* patch) noexcept TIMBREL_REALTIME;
  // A note's audio (22050 Hz, its first sample the onset; n >= 0) -> the
  // latent point [mu_pitch, mu_timbre] (kZ values). Uses the model's mel
  // analyser and a preallocated patch.
  void encode_audio(const float* samples, std::size_t n, float* z) noexcept TIMBREL_REALTIME;

  // z_p = pitch_means[m] + w pitch_sigma eps_p, z_t = timbre_means[k] + w
  // timbre_sigma eps_t; eps: 32 draws of xorshift32 + Box-Muller (cos then sin
  // of each pair, eps_p first), the state seeded with murmur3's 32-bit
  // finaliser of `seed` (seed 0 selects 0x9E3779B9). Indices are clamped, w to
  // [0, 10] (non-finite: 0). z: kZ values.
  void sample(int instrument, int pitch_index, float spread, std::uint32_t seed,
              float* z) const noexcept TIMBREL_REALTIME;
  // argmax_k -|z_t - timbre_means[k]|^2 (ties to the lowest index).
  int nearest_instrument(const float* z_timbre) const noexcept TIMBREL_REALTIME;
  // The pitch component (index) whose mean is nearest to z_pitch.
  int nearest_pitch(const float* z_pitch) const noexcept TIMBREL_REALTIME;
  // z (kZ) -> out (kZ): z_p kept, z_t + amount (means[target] - means[source]),
  // source = nearest_instrument(z_t); amount clamped to [0, 1]. out may be z.
  void transfer(const float* z, int target, float amount,
                float* out) const noexcept TIMBREL_REALTIME;
  // (x, y) -> z_t (kLatent): center + x axes[0] + y axes[1] + sum_k w_k
  // residuals[k], w = softmax_k(-d_k^2 / 2), d_k the map distance to component k.
  void map_point(float x, float y, float* z_timbre) const noexcept TIMBREL_REALTIME;
  // z_t -> its map coordinates: axes . (z_t - center).
  void map_coordinates(const float* z_timbre, float* x, float* y) const noexcept TIMBREL_REALTIME;
  // z_t[brightness.dim] = b clamped to [low, high].
  void set_brightness(float b, float* z_timbre) const noexcept TIMBREL_REALTIME;

  const dsp::MelSpectrogram& mel() const { return mel_; }

  // How a graph runs over a patch (public for the tests of validate()).
  struct Plan;

 private:
  void run(Plan& plan, const float* in, float* out) noexcept TIMBREL_REALTIME;

  std::unique_ptr<nn::Model> model_;
  std::vector<int> pitch_midi_;
  std::vector<std::string> instrument_names_;
  std::vector<std::pair<int, int>> instrument_ranges_;
  float db_min_ = -100.0f, db_max_ = 60.0f;
  float output_gain_ = 1.0f;
  std::vector<float> pitch_means_, timbre_means_;
  float pitch_sigma_ = 0.1353f, timbre_sigma_ = 1.0f;
  Map map_;
  Brightness brightness_{};
  std::unique_ptr<Plan> pitch_plan_, timbre_plan_, decoder_plan_;
  std::vector<float> buffer_a_, buffer_b_, zeros_, posterior_, patch_;
  dsp::MelSpectrogram mel_;
};

}  // namespace timbrel::models
