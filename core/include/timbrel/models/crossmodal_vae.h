// Cross-modal VAE (Chemla-Romeu-Santos et al., DAFx 2019): constant-Q frames
// and note symbols share one latent space. Family "crossmodal_vae", contract in
// models/README.md ("Family `crossmodal_vae`").
//
// Four graphs, pointwise in time:
//   signal_encoder  409 features -> 2 * 32 (mean, log-variance)
//   signal_decoder  32 -> 409 features (callers clamp at >= 0 before from_features)
//   symbol_encoder  24 * M one-hot -> 2 * 32 (mean, log-variance)
//   symbol_decoder  32 -> 24 * M logits (softmax per group)
// Symbol layout per instrument triplet (24 values): 12 pitch classes C..B,
// 9 octaves 0..8 (octave = midi / 12 - 1), 3 dynamics pp, mf, ff. M triplets
// in the order of metadata.instruments.
//
// The constructor prepares every buffer; the per-frame methods never allocate,
// lock, throw or log. Not thread-safe (the graphs carry scratch): one thread
// drives one CrossmodalVae.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"
#include "timbrel/realtime.h"

namespace timbrel::models {

struct NoteLabel {
  int pitch_class;  // 0..11 (C..B)
  int octave;       // 0..8
  int dynamics;     // 0..2 (pp, mf, ff)
};

// Pitch class and octave of a MIDI note (octave clamped to 0..8), and the
// dynamics class whose velocity in `dynamics_velocity` (ascending, one per
// class) is nearest to `velocity` (ties to the softer class).
NoteLabel label_from_midi(int pitch, int velocity, const std::vector<int>& dynamics_velocity);
// (octave + 1) * 12 + pitch_class
int midi_from_label(const NoteLabel& label);

class CrossmodalVae {
 public:
  static constexpr int kLatent = 32, kBins = 409, kSymbolsPerInstrument = 24;
  static constexpr int kPitchClasses = 12, kOctaves = 9, kDynamics = 3;
  static constexpr int kSampleRate = 22050, kWindow = 2048, kHop = 256;
  // Most instruments (triplets) a model may have: the paper mixes at most 3.
  static constexpr int kMaxInstruments = 8;
  // Set-up runs symbol_encoder up to 324 times and signal_decoder up to 108
  // times (the XY pad's anchors): their weights together are limited so that
  // a load costs at most ~0.7 G multiply-adds (models/README.md, "Limits").
  static constexpr std::uint64_t kMaxSetupParameters = std::uint64_t(1) << 21;

  // Empty when `model` satisfies the contract, else what is wrong (family,
  // metadata, a missing graph, a graph whose input/output size does not fit).
  static std::string validate(const nn::Model& model);

  struct LoadResult {
    std::unique_ptr<CrossmodalVae> model;  // null on error
    std::string error;                     // the loader's or validate()'s message
  };
  // Loads a .tmbl file (bytes or path) and checks it: never throws.
  static LoadResult load(const std::uint8_t* bytes, std::size_t size);
  static LoadResult load_file(const std::string& path);
  // Adopts a model image (nn/model_image.h, written by models/prepared_model.h)
  // and checks it as load() does; its stored anchors and pad level replace the
  // graph runs that load() makes. Never throws.
  static LoadResult adopt(nn::ImageBlock image);

  // Names of the arrays a model image stores for this family (nn::Model::prepared):
  // the anchors, (4 + kLatent) values each (pitch, dynamics, x, y, z), and the pad level.
  static constexpr const char* kPreparedAnchors = "crossmodal_vae.latent_anchors";
  static constexpr const char* kPreparedPadReference = "crossmodal_vae.pad_reference";
  // What a model image of this model stores: the two arrays above.
  std::map<std::string, std::vector<float>> prepared_arrays();

  // Throws std::invalid_argument with validate()'s message.
  explicit CrossmodalVae(std::unique_ptr<nn::Model> model);
  ~CrossmodalVae();
  CrossmodalVae(const CrossmodalVae&) = delete;
  CrossmodalVae& operator=(const CrossmodalVae&) = delete;

  // --- description ----------------------------------------------------------
  int instruments() const { return int(instrument_names_.size()); }  // M
  int symbols() const { return instruments() * kSymbolsPerInstrument; }
  const std::vector<std::string>& instrument_names() const { return instrument_names_; }
  // Lowest and highest MIDI pitch of instrument i's training notes.
  std::pair<int, int> pitch_range(int instrument) const;
  // MIDI velocity of pp, mf, ff (ascending).
  const std::vector<int>& dynamics_velocity() const { return dynamics_velocity_; }
  const nn::Model& model() const { return *model_; }
  const std::string& name() const { return model_->name(); }
  // The page's description of the model, one JSON object: {"name", "instruments",
  // "pitchRanges", "dynamicsVelocity", "projection": {"extent"}, "points": [{"pitch",
  // "dynamics", "x", "y", "pitches"}]}: every training label on the XY pad
  // (latent_anchors(); "pitches" holds each slot's pitch). Numbers are written
  // so that JSON.parse gives exactly the values the core holds.
  std::string info_json() const;

  // The XY pad (metadata.latent_projection): z = mean + x axes[0] + y axes[1],
  // x within extent[0], y within extent[1].
  struct LatentProjection {
    std::array<float, kLatent> mean{};
    std::array<std::array<float, kLatent>, 2> axes{};
    std::array<std::array<float, 2>, 2> extent{};  // {{xmin, xmax}, {ymin, ymax}}
  };
  const LatentProjection& latent_projection() const { return projection_; }
  // Every training label of the first instrument's range (a mixture's other
  // slots at the same dynamics and their nearest pitch): its q(z|y) mean and
  // where that lands on the pad. Computed once at load.
  struct LatentAnchor {
    int pitch;
    int dynamics;
    float x, y;
    std::array<float, kLatent> z;
  };
  const std::vector<LatentAnchor>& latent_anchors() const { return anchors_; }
  // The pad's latent point at (x, y). Not mean + x axes[0] + y axes[1] alone:
  // the other 30 dimensions at the projection mean decode to a faint, blurred
  // spectrum (6-35 dB under an A4 mf note on the shipped violin). Instead the inverse-distance
  // blend of the kPadNeighbours anchors nearest to that plane point (in the
  // full latent space), moved along the two axes so that its coordinates are
  // exactly (x, y): the pad stays among real notes, and on an anchor's spot
  // it plays that note.
  // Real-time safe.
  static constexpr int kPadNeighbours = 4;
  void latent_from_point(float x, float y, float* z) const noexcept TIMBREL_REALTIME;
  // The XY pad's reference level: the median over the mf anchors of the L2
  // norm of their decoded constant-Q magnitudes (engine/note_synth.h
  // normalises the pad to it). Decodes the anchors on first use (tens of graph
  // runs) unless the model image stored it.
  float pad_reference();

  // --- per frame (real-time safe) -------------------------------------------
  void encode_signal(const float* features, float* mean, float* logvar) noexcept TIMBREL_REALTIME;
  void decode_signal(const float* z, float* features) noexcept TIMBREL_REALTIME;
  void encode_symbols(const float* one_hot, float* mean,
                      float* logvar) noexcept TIMBREL_REALTIME;                  // 24 M inputs
  void decode_symbols(const float* z, float* logits) noexcept TIMBREL_REALTIME;  // 24 M outputs
  // labels: M entries (values clamped to their ranges); out: 24 M values.
  void one_hot(const NoteLabel* labels, float* out) const noexcept TIMBREL_REALTIME;
  // Argmax per group (ties to the lowest index) and, per instrument, the
  // product of the softmax probabilities of its three winners.
  void labels_from_logits(const float* logits, NoteLabel* labels,
                          float* confidence) const noexcept TIMBREL_REALTIME;

 private:
  void compute_anchors();
  std::unique_ptr<nn::Model> model_;
  nn::Graph* signal_encoder_;
  nn::Graph* signal_decoder_;
  nn::Graph* symbol_encoder_;
  nn::Graph* symbol_decoder_;
  std::vector<std::string> instrument_names_;
  std::vector<std::pair<int, int>> pitch_ranges_;
  std::vector<int> dynamics_velocity_;
  LatentProjection projection_;
  std::vector<float> posterior_;  // 2 kLatent: an encoder's output
  std::vector<LatentAnchor> anchors_;
  float pad_reference_ = -1.0f;  // < 0: not computed yet
};

}  // namespace timbrel::models
