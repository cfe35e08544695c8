// Neural granular model (Bitton, Esling & Harada, ICMC 2020): a grain VAE and
// a sequence VAE over the grain latents of drum one-shots. Family "grains",
// contract docs/grains.md (shapes, graphs, synthesis steps 1-5, metadata);
// audio: engine/grain_synth.h.
//
// Graphs (T is the grain axis except in the grain encoder; c is the class
// conditioning, C values, appended after the latent):
//   grain_encoder     one windowed grain, [2048, 1] -> [1, 2 d_z]: mu, log-variance
//                     (conv1d with any padding and stride, residual, flatten, linear,
//                     layer_norm, activations; run over the whole grain)
//   grain_decoder     [z (d_z), c] -> 1025 filter magnitudes (frame-wise ops only)
//   sequence_encoder  [z, c] per grain -> S (streams: GRU, frame-wise ops)
//   embedding         the last step of sequence_encoder, S -> 2 d_e: mu_e, log-variance
//   sequence_decoder  exactly GRU(d_e + C -> G) then Linear(G -> d_z): one step per
//                     grain from [e, c]; the core keeps one GRU state per voice, so
//                     it runs the GRU from the layers' weights with the caller's state
//
// Metadata: the fixed synthesis constants (sample_rate 22050, grain 2048, hop
// 512, bins 1025, the window, normalisation, filter and noise descriptions),
// grains g and samples (g - 1) 512 + 2048, latent d_z, embedding d_e, classes
// (names, one-hot order), pitch_conditioning (pitched models only: c = [one-hot
// class, pitch code], the code exp(-((p - m_k) / width)^2 / 2) over MIDI centres
// m_k) with class_pitches (per class the lowest, typical and highest MIDI pitch
// of its training notes), the FIR post-filter taps, and what the engine's
// voices need: grain_map (the plane of the training grains' first two
// principal axes), onset_centroids (per class, the mean mu_z of the training
// one-shots' first grain) and class_embeddings (per class, the mean mu_e of
// its training one-shots). validate() checks every field, size and number
// (files come from strangers); limits below.
//
// Real time: decode_filter(), sequence_input(), sequence_step(),
// encode_grain(), nearest_onset_class(), map_point() are noexcept and never
// allocate, lock or throw. Not thread-safe (graphs and buffers are scratch):
// one thread drives one GrainsModel. encode_clip() is offline (allocates).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"
#include "timbrel/realtime.h"

namespace timbrel::models {

class GrainsModel {
 public:
  static constexpr int kSampleRate = 22050, kGrain = 2048, kHop = 512;
  static constexpr int kBins = kGrain / 2 + 1, kOverlap = kGrain / kHop;
  static constexpr std::uint32_t kDefaultNoiseSeed = 0x6A09E667u;
  // Limits of what a file may ask for (models/README.md).
  static constexpr int kMaxGrains = 1024;     // one-shot of 23.8 s
  static constexpr int kMaxLatent = 1024;     // d_z
  static constexpr int kMaxEmbedding = 1024;  // d_e
  static constexpr int kMaxClasses = 128;
  static constexpr int kMaxPitchCentres = 128;  // pitch code values
  static constexpr int kMaxTaps = 1024;         // post-filter taps
  static constexpr double kMaxValue = 1000.0;   // |metadata numbers| (taps, map, centroids)
  // Multiply-adds per voice and hop (grain decoder + one sequence step): the
  // engine runs up to 9 voices per 512-sample hop (small: 0.73 M).
  static constexpr std::uint64_t kMaxHopWork = std::uint64_t(1) << 23;
  // Multiply-adds of one grain encoding (at each beat-box onset; small: 0.5 M).
  static constexpr std::uint64_t kMaxEncodeWork = std::uint64_t(1) << 24;

  // Empty when `model` satisfies the contract, else what is wrong.
  static std::string validate(const nn::Model& model);

  struct LoadResult {
    std::unique_ptr<GrainsModel> model;  // null on error
    std::string error;
  };
  // Never throw.
  static LoadResult load(const std::uint8_t* bytes, std::size_t size);
  static LoadResult load_file(const std::string& path);
  static LoadResult adopt(nn::ImageBlock image);

  // Throws std::invalid_argument with validate()'s message.
  explicit GrainsModel(std::unique_ptr<nn::Model> model);
  ~GrainsModel();
  GrainsModel(const GrainsModel&) = delete;
  GrainsModel& operator=(const GrainsModel&) = delete;

  // --- description ----------------------------------------------------------
  const nn::Model& model() const { return *model_; }
  const std::string& name() const { return model_->name(); }
  int grains() const { return grains_; }                         // g
  int samples() const { return (grains_ - 1) * kHop + kGrain; }  // L
  int latent() const { return latent_; }                         // d_z
  int embedding() const { return embedding_; }                   // d_e
  int classes() const { return int(class_names_.size()); }       // C
  // Pitched models (the note corpus's instruments): c also holds a pitch code.
  bool pitched() const { return !pitch_centres_.empty(); }
  int conditions() const { return classes() + int(pitch_centres_.size()); }  // values of c
  const std::vector<float>& pitch_centres() const { return pitch_centres_; }
  float pitch_width() const { return pitch_width_; }
  // Pitched models: {lowest, typical, highest} MIDI pitch of class k's
  // training notes; others: {60, 60, 60} (the pitch is ignored).
  std::array<float, 3> class_pitches(int k) const;
  int sequence_hidden() const { return sequence_hidden_; }  // G
  const std::vector<std::string>& class_names() const { return class_names_; }
  int class_index(const std::string& name) const;  // -1 when unknown
  std::uint32_t noise_seed() const { return noise_seed_; }
  // h[0..T-1] of the causal FIR post-filter (empty: none).
  const std::vector<float>& post_filter() const { return post_filter_; }

  struct GrainMap {
    std::vector<float> mean;          // d_z
    std::vector<float> axes;          // 2 x d_z
    std::array<float, 4> extent{};    // x0, x1, y0, y1
    std::vector<float> class_points;  // C x 2
  };
  const GrainMap& grain_map() const { return map_; }
  const float* onset_centroid(int k) const {
    return onset_centroids_.data() + std::size_t(k) * std::size_t(latent_);
  }
  const float* class_embedding(int k) const {
    return class_embeddings_.data() + std::size_t(k) * std::size_t(embedding_);
  }
  // Multiply-adds per voice and hop (grain decoder + one sequence step) and of one encoding.
  std::uint64_t hop_work() const { return hop_work_; }
  std::uint64_t encode_work() const { return encode_work_; }

  // What the page needs, one JSON object: {"name", "sampleRate", "grain", "hop",
  // "grains", "samples", "latent", "embedding", "classes", "conditions", "pitched",
  // "pitchCentres", "pitchWidth", "classPitches" ([lo, typical, hi] per class), "postFilterTaps",
  // "noiseSeed", "grainMap": {"mean", "axes", "extent", "classPoints"},
  // "onsetCentroids", "classEmbeddings", "hopWork", "encodeWork"}.
  std::string info_json() const;

  // --- inference (real-time safe) ------------------------------------------
  // c (conditions() values): (1 - mix) onehot(class_a) + mix onehot(class_b)
  // (indices clamped to the classes, mix to [0, 1]), then, pitched, the pitch
  // code of `pitch` (MIDI, clamped to [0, 127]; non-finite or negative: the two
  // classes' typical pitches mixed the same way).
  void condition(int class_a, int class_b, float mix, float pitch,
                 float* c) const noexcept TIMBREL_REALTIME;
  // [z (d_z), c (conditions())] -> kBins filter magnitudes (clamped to >= 0; non-finite: 0).
  void decode_filter(const float* zc, float* magnitudes) noexcept TIMBREL_REALTIME;
  // The sequence decoder's GRU input projection of [e (d_e), c]: 3 G values
  // (constant over a one-shot, so a voice computes it once).
  void sequence_input(const float* ec, float* projected) const noexcept TIMBREL_REALTIME;
  // One sequence-decoder step: GRU state h (G values, zero at note-on) updated
  // from the projected input, then z (d_z values) = Linear(h).
  void sequence_step(const float* projected, float* h, float* z) noexcept TIMBREL_REALTIME;
  // One windowed grain (kGrain samples: a_i x the grain; the exporter folds
  // encoder_input_gain into the first convolution, metadata encoder_gain_folded,
  // and a file with it false gets the gain here) -> mu (d_z),
  // logvar (d_z, clamped to [-12, 6]); either may be null.
  void encode_grain(const float* windowed, float* mu, float* logvar) noexcept TIMBREL_REALTIME;
  // argmin_k |mu - onset_centroids[k]|^2 (ties to the lowest index).
  int nearest_onset_class(const float* mu) const noexcept TIMBREL_REALTIME;
  // z (d_z) = mean + x axes[0] + y axes[1] (non-finite coordinates count as 0).
  void map_point(float x, float y, float* z) const noexcept TIMBREL_REALTIME;
  // a_i of docs/grains.md step 3 (kGrain values): periodic Hann, the first half
  // flat at 1 when flat_start (grain 0), the second half when flat_end (grain g - 1).
  static void grain_window(bool flat_start, bool flat_end, float* window) noexcept TIMBREL_REALTIME;
  // Its inverse on the plane: x = axes[0] . (z - mean) / |axes[0]|^2 (the
  // exporter's axes are orthonormal, then this is the projection).
  void map_coordinates(const float* z, float* x, float* y) const noexcept TIMBREL_REALTIME;

  // --- offline ----------------------------------------------------------------
  struct EncodedClip {
    int grains = 0;
    std::vector<float> mu;        // grains x d_z (grain i windowed by a_i)
    std::vector<float> mu_e;      // d_e: the sequence encoder over [mu, c], then embedding
    std::vector<float> logvar_e;  // d_e, clamped to [-12, 6]
    int onset_class = 0;          // nearest_onset_class(mu of grain 0)
  };
  // audio at 22050 Hz (n >= 0; cut or zero-padded to grains() grains), the
  // conditioning c (conditions() values; null: condition() of onset_class,
  // found first, at its typical pitch).
  EncodedClip encode_clip(const float* audio, std::size_t n, const float* conditioning);

  // How the grain encoder runs over a grain (public for validate()).
  struct Plan;

 private:
  std::unique_ptr<nn::Model> model_;
  int grains_ = 0, latent_ = 0, embedding_ = 0, sequence_hidden_ = 0;
  std::vector<std::string> class_names_;
  std::vector<float> pitch_centres_, class_pitches_;  // class_pitches_: C x 3
  float pitch_width_ = 0.0f;
  std::uint32_t noise_seed_ = kDefaultNoiseSeed;
  std::vector<float> post_filter_;
  GrainMap map_;
  std::vector<float> onset_centroids_, class_embeddings_;
  std::uint64_t hop_work_ = 0, encode_work_ = 0;
  nn::Graph* grain_decoder_ = nullptr;
  const nn::Layer* sequence_gru_ = nullptr;
  nn::Layer* sequence_linear_ = nullptr;
  std::unique_ptr<Plan> encoder_plan_;
  std::vector<float> buffer_a_, buffer_b_, posterior_, gh_;
  float input_gain_ = 1.0f;    // encoder_input_gain when not folded into the weights
  std::vector<float> scaled_;  // the grain times input_gain_ (unfolded files only)
};

}  // namespace timbrel::models
