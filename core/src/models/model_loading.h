// What the model classes built on an nn::Model (VqTimbre, CrossmodalVae) share:
// loading a .tmbl file, checking it with the class's validate(), and the
// metadata helpers their checks use. Private to core/src/models.
#pragma once

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

#include "../nn/model_access.h"
#include "timbrel/nn/model_file.h"

namespace timbrel::models::detail {

// A whole number without ".000000", anything else as std::to_string writes it.
inline std::string text_of(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return std::to_string(v);
}

// The model's metadata object (both loaders check that it is one), read in
// place: no text round trip, which would cost allocations per JSON node.
inline const nlohmann::json& metadata_of(const nn::Model& model) {
  return nn::detail::ModelAccess::metadata(model);
}

// The loaded file as a Model (its LoadResult), or the loader's or
// Model::validate()'s message after error_prefix. Never throws.
template <class Model>
typename Model::LoadResult validated(nn::LoadResult loaded, const std::string& error_prefix) {
  if (!loaded.model) return {nullptr, loaded.error};
  if (auto problem = Model::validate(*loaded.model); !problem.empty())
    return {nullptr, error_prefix + problem};
  return {std::make_unique<Model>(std::move(loaded.model)), ""};
}

// Empty when the graph maps in -> out values, else what it maps instead;
// `sizes` says where the expected sizes come from.
inline std::string graph_size_problem(const nn::Graph& graph, const std::string& name, int in,
                                      int out, const std::string& sizes) {
  if (graph.input_size() == in && graph.output_size() == out) return "";
  return "graph '" + name + "' maps " + std::to_string(graph.input_size()) + " -> " +
         std::to_string(graph.output_size()) + " values, expected " + std::to_string(in) + " -> " +
         std::to_string(out) + " (" + sizes + ")";
}

// For the constructors: the model, or std::invalid_argument with validate()'s message.
template <class Model>
const nn::Model& checked(const std::unique_ptr<nn::Model>& model, const char* family) {
  if (!model) throw std::invalid_argument(std::string(family) + ": no model");
  if (auto problem = Model::validate(*model); !problem.empty())
    throw std::invalid_argument(problem);
  return *model;
}

}  // namespace timbrel::models::detail
