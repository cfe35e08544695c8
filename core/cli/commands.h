// The commands of the native tool, one file per group:
//   dsp_commands.cpp         analyse, resample, phase-eval
//   voice_commands.cpp       transfer
//   draw_commands.cpp        analyse-codes, draw
//   midi_commands.cpp        render-midi, midi-info
//   transcribe_commands.cpp  transcribe
//   notes_commands.cpp       notes sample | transfer | info
//   grains_commands.cpp      grains info | hit | beatbox | path
// Each returns the exit status and reports a problem by throwing
// std::runtime_error (main.cpp prints it).
#pragma once

#include "args.h"

namespace timbrel::cli {

int analyse_command(const Args& args);
int resample_command(const Args& args);
int phase_eval_command(const Args& args);
int transfer_command(const Args& args);
int analyse_codes_command(const Args& args);
int draw_command(const Args& args);
int render_midi_command(const Args& args);
int midi_info_command(const Args& args);
int transcribe_command(const Args& args);
int notes_command(const Args& args);
int grains_command(const Args& args);

}  // namespace timbrel::cli
