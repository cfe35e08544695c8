// What every code of a vq_timbre model sounds like, in descriptor units: the
// mapping codes <-> acoustic descriptors of the VQ paper's descriptor-based
// synthesis (thesis lines ~11250-11330 and ~11390-11420). Each codebook vector
// is decoded on its own, held for `hops` hops so the decoder's GRU settles,
// and the output is measured with the core's descriptors (dsp/descriptors.h,
// dsp/yin.h), in both synthesis modes:
//   pitch: conditioning [log2(f_ref / 440), 1, loud_ref], harmonic + noise
//          excitation at f_ref (the geometric centre of the model's f0_range_hz)
//   noise: conditioning [0, 0, loud_ref], filtered noise only
// Every run starts from VqTimbre::reset() with one fixed noise seed, so the
// table is deterministic.
//
// The table lives in the model file as metadata "descriptor_table" (format in
// models/README.md, "Descriptor table"), written once by
// `python -m timbrel.export.code_table MODEL.tmbl` (which runs
// `timbrel analyse-codes`); CodeAnalysis::from_model() reads and checks it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "timbrel/models/vq_timbre.h"

namespace timbrel::models {

// The descriptors a code is measured by and a drawn curve may target.
enum class Descriptor { kCentroid, kBandwidth, kRolloff, kFlatness, kLoudness, kF0 };
constexpr int kDescriptorCount = 6;
constexpr std::array<Descriptor, kDescriptorCount> kAllDescriptors = {
    Descriptor::kCentroid, Descriptor::kBandwidth, Descriptor::kRolloff,
    Descriptor::kFlatness, Descriptor::kLoudness,  Descriptor::kF0};
constexpr int index_of(Descriptor d) { return static_cast<int>(d); }

// "centroid", "bandwidth", "rolloff", "flatness", "loudness", "f0".
const char* descriptor_name(Descriptor d);
// The table's key: "centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness",
// "loudness_db", "f0_hz".
const char* descriptor_key(Descriptor d);
// "Hz", "" (flatness: a ratio in (0, 1]) or "dB" (A-weighted dBFS).
const char* descriptor_unit(Descriptor d);
// Accepts a name or a key; false (d untouched) for anything else.
bool parse_descriptor(const std::string& text, Descriptor* d);

// The descriptors of every code in one synthesis mode.
struct CodeDescriptors {
  // values[index_of(d)][k]: the mean of descriptor d over the measured frames
  // of code k (f0: the mean over the frames YIN calls voiced, 0 when none).
  std::array<std::vector<float>, kDescriptorCount> values;
  std::vector<float> voiced_share;  // share of the measured frames YIN called voiced

  const std::vector<float>& operator[](Descriptor d) const { return values[size_t(index_of(d))]; }
  std::vector<float>& operator[](Descriptor d) { return values[size_t(index_of(d))]; }
  int codes() const { return int(voiced_share.size()); }
  // The columns end to end (the six descriptors in kAllDescriptors order, then
  // voiced_share): how a model image stores them.
  std::vector<float> columns() const;
};

// The loud conditioning the codes are analysed (and, unless the loudness is
// drawn, synthesised) at: 0.3 = a frame RMS of -35 dBFS. Why: the medians of
// loud over the non-silent (> -60 dBFS) frames of the training performances
// (data/full/performance, FluidR3) are violin 0.24, cello 0.17, clarinet 0.26,
// flute 0.37, trumpet 0.37: 0.3 sits in the middle of what every model saw
// most, so no code is decoded at a level it never met in training.
constexpr double kReferenceLoudness = 0.3;

struct CodeAnalysisSettings {
  double f0_hz = 0.0;  // pitch mode's f0; 0: geometric centre of f0_range_hz (440 without one)
  double loudness = kReferenceLoudness;  // loud conditioning, in [-1, 1]
  int hops = 24;                         // each code is decoded for this many hops...
  int measured_hops = 12;                // ...and the frames inside the last ones are measured
  std::uint32_t seed = VqTimbre::kDefaultSeed;
};

struct CodeAnalysis {
  CodeAnalysisSettings reference;  // as used (f0 resolved)
  CodeDescriptors pitch, noise;

  int codes() const { return pitch.codes(); }
  const CodeDescriptors& mode(TransferMode m) const {
    return m == TransferMode::kNoise ? noise : pitch;
  }
  // {"version": 1, "reference": {...}, "pitch": {"centroid_hz": [K], ...,
  //  "voiced_share": [K]}, "noise": {...}}: the metadata "descriptor_table".
  std::string to_json() const;
  // Parses a table (JSON text) and checks it against a model of `codes`
  // codes: "" and *out filled, or what is wrong (a missing key, an entry
  // count other than `codes`, a value that is not a finite number).
  static std::string from_json(const std::string& json, int codes, CodeAnalysis* out);
  // The table stored in the model's metadata (its columns in the model
  // image's prepared arrays below, when the model came from one). Returns ""
  // and fills *out, or what is wrong; *present says whether the metadata has
  // one at all.
  static std::string from_model(const VqTimbre& model, CodeAnalysis* out, bool* present);

  // The prepared arrays (nn::Model::prepared) of a model image: each mode's
  // columns(); the metadata's table then keeps only "version" and "reference".
  static constexpr const char* kPreparedPitch = "vq_timbre.descriptor_table.pitch";
  static constexpr const char* kPreparedNoise = "vq_timbre.descriptor_table.noise";
};

// Frames (1024 samples, hop 256) measured per code: those lying wholly inside
// the last measured_hops hops of output.
int measured_frames(const CodeAnalysisSettings& settings);

// The geometric centre of the model's f0_range_hz (440 Hz without one).
double reference_f0_hz(const VqTimbre& model);

// Analyses every code of a quantized model (throws std::invalid_argument for
// a model without a codebook or bad settings). Allocates; leaves the model
// reset with its mode, octaves and seed as they were. Deterministic.
CodeAnalysis analyse_codes(VqTimbre& model, const CodeAnalysisSettings& settings = {});

// A 2D map of the codebook for the page: the codebook vectors projected on
// their first two principal components, x0, y0, x1, y1, ... (2 K values),
// each axis scaled to [-1, 1]. Deterministic: power iteration from a fixed
// start, each axis's sign chosen so that its largest component is positive.
// A model image stores it (kPreparedCodebookMap), and it is then read back.
std::vector<float> codebook_projection(const VqTimbre& model);
constexpr const char* kPreparedCodebookMap = "vq_timbre.codebook_map";

}  // namespace timbrel::models
