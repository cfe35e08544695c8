// The command-line tool's shared pieces: the argument parser and option
// readers, model names, note names and the timing line. Each command group has
// its own file (commands.h lists them); main.cpp dispatches.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "timbrel/io/wav.h"

namespace timbrel::cli {

constexpr int kModelRate = 22050;
// The longest input clip the commands take (README, "Reliability").
constexpr double kMaxClipSeconds = 600.0;

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;                    // the last value of each
  std::vector<std::pair<std::string, std::string>> all_options;  // every one, in order
  std::vector<std::string> flags;                                // options without a value
};

// argv[2..]: positional arguments, options with a value, flags (--analyse).
Args parse(int argc, char** argv);
bool has_flag(const Args& args, const std::string& a, const std::string& b);
std::vector<std::string> options_named(const Args& args, const std::string& name);
// The value of option a (or its other spelling b), else fallback.
std::string option(const Args& args, const std::string& a, const std::string& b,
                   const std::string& fallback);
// A whole number / a finite number, else std::runtime_error naming the option.
long parse_long(const std::string& text, const char* what);
double parse_double(const std::string& text, const std::string& what);

// A model argument of a command whose engine takes models of `family`: an
// existing file, else NAME's file in that family's folder of models/ under the
// current directory, then under the source tree: vq_timbre models/NAME/NAME.tmbl,
// crossmodal_vae models/crossmodal/NAME/NAME.tmbl, gmvae models/NAME/NAME.tmbl (so `render-midi
// --model flute` finds the cross-modal flute, `transfer --model flute` the voice one).
// std::runtime_error listing what was tried.
// read_wav, refused (with the file, its length and the limit) past kMaxClipSeconds.
io::Audio read_clip(const std::string& path);
// What a model made, through the engines' output guard (dsp/output_guard.h),
// then written: finite, inside [-1, 1], true peak at most -1 dBTP. When the
// guard mutes (the model's output stayed non-finite or above +12 dBFS for
// 100 ms) nothing is written and it throws, naming the problem.
void write_guarded(const std::string& path, io::Audio audio);

std::string resolve_model(const std::string& name_or_path, const std::string& family);

// "A4", "C#3", "Bb2" (octave = MIDI / 12 - 1) or a MIDI number; -1 when neither.
int parse_pitch(const std::string& text);
// "C4" for 60 (middle C; octave = key / 12 - 1).
std::string note_name(int pitch);

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
// "<what>: C s of compute for S s of audio<detail>, real-time factor C / S"
void print_compute(const char* what, double compute_s, double audio_s,
                   const std::string& detail = "");

}  // namespace timbrel::cli
