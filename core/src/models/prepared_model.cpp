#include "timbrel/models/prepared_model.h"

#include <nlohmann/json.hpp>

#include "model_loading.h"
#include "timbrel/models/code_analysis.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/models/gmvae.h"
#include "timbrel/models/grains.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/nn/model_image.h"

namespace timbrel::models {

namespace {

PreparedModel prepare_vq_timbre(const std::uint8_t* bytes, std::size_t size) {
  auto loaded = VqTimbre::load(bytes, size);
  if (!loaded.model) return {{}, "", loaded.error};
  const VqTimbre& model = *loaded.model;
  nn::ImageExtras extras;
  // A table that does not check out stays in the metadata as it was: the
  // adopted model then fails in DescriptorSynth exactly as the file does.
  CodeAnalysis table;
  bool present = false;
  if (CodeAnalysis::from_model(model, &table, &present).empty() && present) {
    nlohmann::json meta = detail::metadata_of(model.model());
    nlohmann::json& stored = meta["descriptor_table"];
    stored = {{"version", stored["version"]}, {"reference", stored["reference"]}};
    extras.metadata_json = meta.dump();
    extras.arrays[CodeAnalysis::kPreparedPitch] = table.pitch.columns();
    extras.arrays[CodeAnalysis::kPreparedNoise] = table.noise.columns();
  }
  if (model.quantized()) extras.arrays[kPreparedCodebookMap] = codebook_projection(model);
  return {nn::write_model_image(model.model(), extras), model.info_json(), ""};
}

PreparedModel prepare_crossmodal_vae(const std::uint8_t* bytes, std::size_t size) {
  auto loaded = CrossmodalVae::load(bytes, size);
  if (!loaded.model) return {{}, "", loaded.error};
  nn::ImageExtras extras;
  extras.arrays = loaded.model->prepared_arrays();
  return {nn::write_model_image(loaded.model->model(), extras), loaded.model->info_json(), ""};
}

PreparedModel prepare_gmvae(const std::uint8_t* bytes, std::size_t size) {
  auto loaded = Gmvae::load(bytes, size);
  if (!loaded.model) return {{}, "", loaded.error};
  return {nn::write_model_image(loaded.model->model()), loaded.model->info_json(), ""};
}

PreparedModel prepare_grains(const std::uint8_t* bytes, std::size_t size) {
  auto loaded = GrainsModel::load(bytes, size);
  if (!loaded.model) return {{}, "", loaded.error};
  return {nn::write_model_image(loaded.model->model()), loaded.model->info_json(), ""};
}

}  // namespace

PreparedModel prepare_model(const std::uint8_t* bytes, std::size_t size,
                            const std::string& family) {
  if (family == "vq_timbre") return prepare_vq_timbre(bytes, size);
  if (family == "crossmodal_vae") return prepare_crossmodal_vae(bytes, size);
  if (family == "gmvae") return prepare_gmvae(bytes, size);
  if (family == "grains") return prepare_grains(bytes, size);
  return {
      {},
      "",
      "unknown model family '" + family + "' (known: vq_timbre, crossmodal_vae, gmvae, grains)"};
}

}  // namespace timbrel::models
