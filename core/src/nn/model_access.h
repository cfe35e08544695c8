// What the two ways of making a Model (a .tmbl file, model_file.cpp; a model
// image, model_image.cpp) share: building one, and the rules both check.
// Private to core/src/nn.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"

namespace timbrel::nn {

struct Model::Metadata {
  nlohmann::json json = nlohmann::json::object();
};

namespace detail {

struct ModelAccess {
  static std::unique_ptr<Model> make() { return std::unique_ptr<Model>(new Model()); }
  static void set(Model& m, std::string family, std::string name, nlohmann::json metadata) {
    m.family_ = std::move(family);
    m.name_ = std::move(name);
    m.metadata_->json = std::move(metadata);
  }
  // False when the name is taken.
  static bool add_graph(Model& m, const std::string& name, Graph graph) {
    return m.graphs_.emplace(name, std::move(graph)).second;
  }
  static bool add_prepared(Model& m, const std::string& name, Weights values) {
    return m.prepared_.emplace(name, std::move(values)).second;
  }
  static const nlohmann::json& metadata(const Model& m) { return m.metadata_->json; }
  // The block the layers' weights view: kept alive as long as the model.
  static void own(Model& m, std::unique_ptr<ImageBlock> image) { m.image_ = std::move(image); }
};

// Whether the family is one this build knows (the graphs each needs: model_file.cpp).
bool known_family(const std::string& family);
// Checks the metadata every family shares (sample rate, window, hop): true, or
// false and *problem says what is wrong.
bool check_metadata(const nlohmann::json& meta, const std::string& family, std::string* problem);

}  // namespace detail
}  // namespace timbrel::nn
