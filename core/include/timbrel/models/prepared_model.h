// Preparing a model for a real-time engine off the real-time thread: the page
// reads a .tmbl file in a Worker (or on its main thread), and the AudioWorklet
// adopts the result, a model image (nn/model_image.h), in well under a
// millisecond instead of parsing the file itself (20-40 ms).
//
// Besides the graphs (fused as the loader fuses them), the image holds what
// each family otherwise computes per model when it loads:
//   vq_timbre: the descriptor table's columns (models/code_analysis.h; parsing
//     them from the metadata JSON scales with the codebook) and the codebook's
//     2D map; the metadata keeps the table's small "reference" object.
//   crossmodal_vae: the XY pad's anchors (every training label through the
//     symbol encoder) and the pad's reference level (the mf labels through the
//     signal decoder): hundreds of graph runs.
//   gmvae, grains: nothing besides the graphs (no tables computed at load).
// Adopted, a model behaves bit for bit as the same file loaded with the
// family's load() (tests/core/test_model_image.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace timbrel::models {

struct PreparedModel {
  std::vector<std::uint8_t> image;  // empty on error
  // What the engines' kernels say about the model once loaded, as JSON text:
  // VqTimbre::info_json() (the Voice and Draw panels' modelInfo()) or
  // CrossmodalVae::info_json() (the MIDI panel's describe()) or
  // Gmvae::info_json() (the Notes panel's info()) or GrainsModel::info_json().
  std::string info;
  std::string error;  // empty on success: the loader's or the family's message
};

// family: "vq_timbre", "crossmodal_vae", "gmvae" or "grains". Loads and checks the file as the
// family's load() does. Never throws.
PreparedModel prepare_model(const std::uint8_t* bytes, std::size_t size, const std::string& family);

}  // namespace timbrel::models
