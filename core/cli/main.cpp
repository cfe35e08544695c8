// timbrel: the native command-line tool.
//   timbrel analyse IN.wav [-o OUT.csv] [--window N] [--hop H]
//   timbrel resample IN.wav --rate HZ -o OUT.wav
//   timbrel transfer IN.wav --model NAME_OR_PATH -o OUT.wav [--mode pitch|noise]
//                   [--octaves auto|N] [--seed S]
//   timbrel analyse-codes NAME_OR_PATH [-o TABLE.json]
//   timbrel draw --model NAME_OR_PATH --target DESCRIPTOR=CURVE.csv ... -o OUT.wav
//   timbrel transcribe IN.wav --model NAME_OR_PATH -o OUT.mid [--frames FRAMES.csv] [--gate DB]
//   timbrel render-midi SONG.mid --model NAME_OR_PATH -o OUT.wav [--temperature T]
//                   [--interpolation none|linear|cubic] [--phase griffin-lim|rtpghi]
//                   [--iterations N] [--seed S]
//   timbrel phase-eval IN.wav [--iterations 30] [--csv OUT.csv]
//   timbrel midi-info SONG.mid [--notes N]
//   timbrel notes sample | transfer | info ...
//   timbrel grains info | hit | beatbox | path ...
// The commands live in one file per group (commands.h); this file dispatches.
#include <exception>
#include <iostream>
#include <string>

#include "commands.h"

namespace {

const char* kUsage =
    "usage:\n"
    "  timbrel analyse IN.wav [-o OUT.csv] [--window 1024] [--hop 256]\n"
    "      per-frame descriptors at 22050 Hz (frame m = samples [m hop, m hop + window))\n"
    "  timbrel resample IN.wav --rate HZ -o OUT.wav\n"
    "  timbrel transfer IN.wav --model NAME_OR_PATH -o OUT.wav [--mode pitch|noise]\n"
    "                  [--octaves auto|N] [--seed S]\n"
    "      voice -> instrument with a vq_timbre model (--octaves auto, the default: the input's\n"
    "      median pitch moved nearest the middle of the model's range, as the page suggests);\n"
    "      NAME is models/NAME/NAME.tmbl under\n"
    "      the current directory, else under the source tree; the output keeps IN's rate\n"
    "  timbrel analyse-codes NAME_OR_PATH [-o TABLE.json]\n"
    "      decode every code of a vq_timbre model on its own and measure it (pitch and noise\n"
    "      mode): the descriptor table as JSON (store it in the model with\n"
    "      `PYTHONPATH=scripts python3 -m timbrel.export.code_table MODEL.tmbl`)\n"
    "  timbrel draw --model NAME_OR_PATH --target DESCRIPTOR=CURVE.csv [--target ...] -o OUT.wav\n"
    "               [--weight DESCRIPTOR=W] [--gain GAIN.csv] [--duration S] [--smooth HOPS]\n"
    "               [--hysteresis X] [--mode pitch|noise] [--loudness codes|conditioning]\n"
    "               [--steady-loudness W] [--seed S] [--analyse] [--codes CODES.csv]\n"
    "      descriptor-based synthesis at 22050 Hz: the code nearest to the targets per hop\n"
    "      (256 samples). DESCRIPTOR: centroid, bandwidth, rolloff (Hz), flatness (0-1),\n"
    "      loudness (dB, A-weighted), f0 (Hz; pitch mode: drives the excitation). CURVE:\n"
    "      `time_s,value` rows (interpolated; the length defaults to the last time) or one\n"
    "      value per hop. GAIN: a linear factor per row/hop. --smooth: one-pole time\n"
    "      constant of the targets. --hysteresis X: keep the code unless another is nearer\n"
    "      by X (in units of the model's 5-95 % range). --steady-loudness W: without a\n"
    "      loudness target, also aim at the model's median level with weight W (default\n"
    "      0.25; 0: off) so the level does not jump. --analyse: a model without a\n"
    "      descriptor table is analysed for this run. --codes: the code of every hop\n"
    "  timbrel transcribe IN.wav --model NAME_OR_PATH -o OUT.mid [--frames FRAMES.csv]\n"
    "                    [--gate DB]\n"
    "      audio -> notes with a crossmodal_vae model (NAME: models/crossmodal/NAME/NAME.tmbl;\n"
    "      one note list per instrument of the\n"
    "      model): prints the notes and writes a format 0 MIDI file (instrument i on channel\n"
    "      i); --frames: time, level, gate, flux and the label of every 11.6 ms frame; --gate:\n"
    "      the level (dBFS, default -50) above which frames count as playing\n"
    "  timbrel render-midi SONG.mid --model NAME_OR_PATH -o OUT.wav [--temperature T]\n"
    "                    [--interpolation none|linear|cubic] [--phase griffin-lim|rtpghi]\n"
    "                    [--iterations N] [--seed S]\n"
    "      a MIDI file played by a crossmodal_vae model (NAME: models/crossmodal/NAME/NAME.tmbl)\n"
    "      at 22050 Hz (up to 8 voices, drums\n"
    "      skipped, notes out of range moved by octaves): --temperature: spread of each\n"
    "      note's latent draw (default 0: the mean); --interpolation: latent path between\n"
    "      successive notes of a voice (default cubic); --phase: Griffin-Lim (default, 30\n"
    "      --iterations) or RTPGHI (the live synth's); --seed: of the latent draws\n"
    "  timbrel phase-eval IN.wav [--iterations 30] [--csv OUT.csv]\n"
    "      phase reconstruction at 22050 Hz (window 2048, hop 256) of the file's STFT\n"
    "      magnitudes and of their constant-Q back-projection: spectral convergence and\n"
    "      time of RTPGHI (with and without look-ahead) and Griffin-Lim from zero phase or\n"
    "      from RTPGHI, classic or fast (momentum 0.99)\n"
    "  timbrel midi-info SONG.mid [--notes N]\n"
    "      a Standard MIDI File's format, tracks, timing, tempo map, duration, notes, pitch\n"
    "      range and its first N notes (default 10; channels counted 1-16)\n"
    "  timbrel notes sample --model NAME_OR_PATH --instrument NAME --pitch NOTE -o OUT.wav\n"
    "                       [--spread W] [--seed S] [--seconds HELD] [--velocity V]\n"
    "                       [--phase griffin-lim|rtpghi] [--iterations N]\n"
    "      a note of a GMVAE note model (NAME: models/NAME/NAME.tmbl, e.g. gmvae): pitch and\n"
    "      timbre drawn from their components (--spread: 0, the default, is the components'\n"
    "      means; --seed: of the draw), held --seconds (default 1) then released (150 ms),\n"
    "      at 22050 Hz; prints its level and f0. NOTE: A4, C#3, Bb2 or a MIDI number\n"
    "  timbrel notes transfer --model NAME_OR_PATH --in NOTE.wav --to INSTRUMENT -o OUT.wav\n"
    "                         [--amount A] [--seconds HELD] [--velocity V] [--phase ...]\n"
    "      a recorded note (its first sample the onset) encoded, its timbre moved from its\n"
    "      nearest instrument component to INSTRUMENT's (--amount 0-1, default 1), its pitch\n"
    "      kept, decoded and rendered (held for the input's length by default)\n"
    "  timbrel notes info --model NAME_OR_PATH\n"
    "      the model's instruments, pitches and sizes as JSON\n"
    "  timbrel grains info --model M.tmbl\n"
    "      a neural granular model's classes (and a pitched one's pitches), sizes and live\n"
    "      latencies as JSON\n"
    "  timbrel grains hit --model M.tmbl --class NAME -o OUT.wav [--morph-to NAME [--mix 0.5]]\n"
    "                     [--temperature 1] [--centre prior|class] [--seed S] [--gain G]\n"
    "                     [--pitch NOTE] [--rate HZ]\n"
    "      one hit (1.58 s) as the page's drum machine plays it: conditioning (1 - mix) CLASS +\n"
    "      mix MORPH, embedding drawn at --temperature around the prior (0, as the page) or the\n"
    "      class's mean embedding, --seed replays a hit; at 22050 Hz unless --rate. A pitched\n"
    "      model (instruments) plays --pitch (A4, C#3 or MIDI; default: the class's typical)\n"
    "  timbrel grains beatbox IN.wav --model M.tmbl -o OUT.wav [--events EVENTS.json]\n"
    "                         [--threshold 0.05] [--floor-db -50] [--gain G] [--rate HZ]\n"
    "                         [--kit kick,closed_hat,snare] [--classifier sound|centroid]\n"
    "                         [--morph 1]\n"
    "      the input's onsets (resampled to 22050 Hz; 8-192 kHz taken), each heard as one of a\n"
    "      beat-box's three sounds (boom, tss, ka: by what it is made of; or centroid: the\n"
    "      model's nearest onset centroid among the kit's classes) and replaced by a hit of the\n"
    "      class --kit gives that sound (mean embedding; default kick, closed_hat, snare).\n"
    "      --morph below 1 moves each hit's grain latents toward the onset's own encoded grain\n"
    "      by (1 - morph)(its mu - the class's onset centroid): 0 puts the hit's attack there.\n"
    "      The live engine starts a hit a fixed beatbox latency after its onset (the 2048-sample\n"
    "      grain the encoder needs, one block, the resamplers: 2722 frames at 22050 Hz, 6332 at\n"
    "      48 kHz with 128-frame blocks); offline that latency is compensated: each hit starts\n"
    "      on its onset's sample, so OUT (at IN's rate unless --rate) lines up with IN sample\n"
    "      for sample and runs one hit longer. --events: JSON of each onset's time (s), sound,\n"
    "      class and the sound's features\n"
    "  timbrel grains path --model M.tmbl --class NAME -o OUT.wav [--shape circle|line|spiral]\n"
    "                      [--seconds 4] [--pitch NOTE] [--rate HZ]\n"
    "      the path voice: grains decoded along a shape on the model's grain map (inside the\n"
    "      box of 99 % of the training grains), one point per 512-sample hop\n";

struct Command {
  const char* name;
  const char* other_spelling;  // or null
  int (*run)(const timbrel::cli::Args&);
};

const Command kCommands[] = {
    {"analyse", "analyze", timbrel::cli::analyse_command},
    {"resample", nullptr, timbrel::cli::resample_command},
    {"transfer", nullptr, timbrel::cli::transfer_command},
    {"analyse-codes", "analyze-codes", timbrel::cli::analyse_codes_command},
    {"draw", nullptr, timbrel::cli::draw_command},
    {"transcribe", nullptr, timbrel::cli::transcribe_command},
    {"render-midi", nullptr, timbrel::cli::render_midi_command},
    {"phase-eval", nullptr, timbrel::cli::phase_eval_command},
    {"midi-info", nullptr, timbrel::cli::midi_info_command},
    {"notes", nullptr, timbrel::cli::notes_command},
    {"grains", nullptr, timbrel::cli::grains_command},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  try {
    const auto args = timbrel::cli::parse(argc, argv);
    for (const Command& c : kCommands)
      if (command == c.name || (c.other_spelling && command == c.other_spelling))
        return c.run(args);
    std::cerr << "timbrel: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "timbrel: " << e.what() << "\n";
    return 1;
  }
}
