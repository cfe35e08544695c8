# CTest script: `timbrel grains info | hit | beatbox | path` end to end with the
# golden grains model (tests/golden/grains/model_pp.tmbl: random weights, 3
# classes kick, snare, hat; plumbing, timing and refusals only).
#   cmake -DTIMBREL=... -DMODEL=model_pp.tmbl -DWORK=dir -P cli_grains.cmake
if(NOT EXISTS "${MODEL}")
  message(FATAL_ERROR "model ${MODEL} is missing (tests/golden/grains/ is written by "
                      "PYTHONPATH=scripts python3 -m timbrel.golden --only grains)")
endif()
file(MAKE_DIRECTORY "${WORK}")

function(run_ok name)
  execute_process(COMMAND "${TIMBREL}" grains ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "grains ${ARGN}:\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "timbrel grains ${ARGN} failed (${rc}): ${err}")
  endif()
  set(${name} "${out}" PARENT_SCOPE)
endfunction()

# A float32 WAV holding the samples the command reported: 4 bytes a sample after a 44-80 byte header.
function(check_wav output out rate)
  if(NOT EXISTS "${output}")
    message(FATAL_ERROR "timbrel grains wrote no ${output}")
  endif()
  if(NOT out MATCHES "wrote [^\n]*: ([0-9]+) samples \\([0-9.]+ s\\) at ${rate} Hz")
    message(FATAL_ERROR "timbrel grains did not report writing ${output} at ${rate} Hz")
  endif()
  if(CMAKE_MATCH_1 LESS 1000)
    message(FATAL_ERROR "${output}: only ${CMAKE_MATCH_1} samples")
  endif()
  math(EXPR data_bytes "${CMAKE_MATCH_1} * 4")
  file(SIZE "${output}" size)
  math(EXPR header_bytes "${size} - ${data_bytes}")
  if(header_bytes LESS 44 OR header_bytes GREATER 80)
    message(FATAL_ERROR "${output} is ${size} bytes, not ${CMAKE_MATCH_1} float32 samples and a header")
  endif()
endfunction()

# The peak of a written file as the reader sees it (beat-box input line): audible and at most 0 dBFS.
# The reader maps non-finite samples to 0, so a NaN-filled render would read as silent and fail.
function(check_level wav)
  execute_process(COMMAND "${TIMBREL}" grains beatbox "${wav}" --model "${MODEL}"
                          -o "${WORK}/level-probe.wav"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT out MATCHES "peak (-[0-9]+\\.[0-9]) dBFS\n")
    message(FATAL_ERROR "${wav}: no peak reported (${rc}): ${out}${err}")
  endif()
  if(CMAKE_MATCH_1 LESS -60)
    message(FATAL_ERROR "${wav}: peak ${CMAKE_MATCH_1} dBFS, nearly silent")
  endif()
endfunction()

# info: classes, sizes, latencies.
run_ok(out info --model "${MODEL}")
string(JSON classes LENGTH "${out}" classes)
string(JSON second GET "${out}" classes 1)
string(JSON samples GET "${out}" sizes samples)
string(JSON latent GET "${out}" sizes latent)
string(JSON taps GET "${out}" sizes postFilterTaps)
string(JSON hit_latency GET "${out}" latency hit22050 frames)
string(JSON beatbox_latency GET "${out}" latency beatbox22050 frames)
if(NOT classes EQUAL 3 OR NOT second STREQUAL "snare" OR NOT samples EQUAL 34816
   OR NOT latent EQUAL 8 OR NOT taps EQUAL 64 OR NOT hit_latency EQUAL 544
   OR beatbox_latency LESS 2048)
  message(FATAL_ERROR "timbrel grains info: unexpected JSON ${out}")
endif()

# hit: a snare morphed towards the hat, at 22050 Hz; a kick at 48 kHz.
set(hit "${WORK}/snare-hat.wav")
file(REMOVE "${hit}")
run_ok(out hit --model "${MODEL}" --class snare --morph-to hat --mix 0.5 --temperature 1
       --seed 7 -o "${hit}")
check_wav("${hit}" "${out}" 22050)
if(NOT out MATCHES "wrote [^\n]*: 34816 samples" OR NOT out MATCHES "snare -> hat, mix 0.50"
   OR NOT out MATCHES "real-time factor")
  message(FATAL_ERROR "timbrel grains hit: unexpected report ${out}")
endif()
check_level("${hit}")
set(kick48 "${WORK}/kick-48k.wav")
run_ok(out hit --model "${MODEL}" --class kick --centre class --temperature 0.5 --rate 48000
       -o "${kick48}")
check_wav("${kick48}" "${out}" 48000)

# beatbox on the 48 kHz kick: resampled in, one onset at the start, the output at the input's
# rate and one hit longer than the input; the events file lists it.
set(beat "${WORK}/beatbox.wav")
set(events "${WORK}/events.json")
file(REMOVE "${beat}" "${events}")
run_ok(out beatbox "${kick48}" --model "${MODEL}" -o "${beat}" --events "${events}")
check_wav("${beat}" "${out}" 48000)
if(NOT out MATCHES "resampled to 22050 Hz" OR NOT out MATCHES "onsets: 1 \\("
   OR NOT out MATCHES "offline compensated")
  message(FATAL_ERROR "timbrel grains beatbox: unexpected report ${out}")
endif()
file(READ "${events}" json)
string(JSON count LENGTH "${json}" events)
string(JSON time GET "${json}" events 0 time_s)
string(JSON name GET "${json}" events 0 class)
if(NOT count EQUAL 1 OR time GREATER 0.005 OR NOT name MATCHES "^(kick|snare|hat)$")
  message(FATAL_ERROR "timbrel grains beatbox: unexpected events ${json}")
endif()
check_level("${beat}")

# The kit: each sound plays the class --kit gives it; the events say which sound was heard.
run_ok(out beatbox "${kick48}" --model "${MODEL}" -o "${beat}" --events "${events}"
       --kit snare,-,kick)
if(NOT out MATCHES "kit: boom -> snare, tss -> hat, ka -> kick \\(told apart by what")
  message(FATAL_ERROR "timbrel grains beatbox --kit: unexpected report ${out}")
endif()
file(READ "${events}" json)
string(JSON sound GET "${json}" events 0 sound)
string(JSON name GET "${json}" events 0 class)
string(JSON wanted GET "${json}" kit "${sound}")
string(JSON flatness GET "${json}" events 0 features flatness)
if(NOT name STREQUAL wanted OR NOT sound MATCHES "^(boom|tss|ka)$" OR flatness LESS 0)
  message(FATAL_ERROR "timbrel grains beatbox --kit: the event's class is not its sound's: ${json}")
endif()
run_ok(out beatbox "${kick48}" --model "${MODEL}" -o "${beat}" --classifier centroid)
if(NOT out MATCHES "boom -> kick, tss -> hat, ka -> snare \\(nearest of the kit")
  message(FATAL_ERROR "timbrel grains beatbox --classifier centroid: unexpected report ${out}")
endif()

# --morph: the hit moves toward the voice's grain; the events record the setting.
set(morphed "${WORK}/beatbox-morph.wav")
run_ok(out beatbox "${kick48}" --model "${MODEL}" -o "${beat}")
run_ok(out beatbox "${kick48}" --model "${MODEL}" -o "${morphed}" --events "${events}" --morph 0.25)
check_level("${morphed}")
file(READ "${events}" json)
string(JSON morph GET "${json}" morph)
file(SHA256 "${beat}" plain_hash)
file(SHA256 "${morphed}" morphed_hash)
if(NOT morph EQUAL 0.25 OR plain_hash STREQUAL morphed_hash)
  message(FATAL_ERROR "timbrel grains beatbox --morph 0.25: morph ${morph}, the output unchanged")
endif()

# path: a spiral on the grain map.
set(spiral "${WORK}/spiral.wav")
run_ok(out path --model "${MODEL}" --class hat --shape spiral --seconds 2 -o "${spiral}")
check_wav("${spiral}" "${out}" 22050)
check_level("${spiral}")

# A pitched model (model_pitched.tmbl beside MODEL: c = [class, pitch code]): info lists the
# classes' pitches; --pitch changes the hit; the default is the class's typical pitch.
get_filename_component(golden_dir "${MODEL}" DIRECTORY)
set(PITCHED "${golden_dir}/model_pitched.tmbl")
execute_process(COMMAND "${TIMBREL}" grains info --model "${PITCHED}" OUTPUT_VARIABLE out)
string(JSON is_pitched GET "${out}" pitched)
string(JSON typical GET "${out}" classPitches snare typical)
if(NOT is_pitched OR NOT typical STREQUAL "D#4")
  message(FATAL_ERROR "timbrel grains info (pitched): unexpected JSON ${out}")
endif()
set(g4 "${WORK}/pitched-g4.wav")
set(d4 "${WORK}/pitched-typical.wav")
run_ok(out hit --model "${PITCHED}" --class snare --pitch G4 --seed 8 -o "${g4}")
if(NOT out MATCHES "hit: snare, pitch G4")
  message(FATAL_ERROR "timbrel grains hit --pitch G4: unexpected report ${out}")
endif()
check_level("${g4}")
run_ok(out hit --model "${PITCHED}" --class snare --seed 8 -o "${d4}")
if(NOT out MATCHES "pitch D#4 \\(the class's typical\\)")
  message(FATAL_ERROR "timbrel grains hit (pitched, no --pitch): unexpected report ${out}")
endif()
file(SHA256 "${g4}" g4_hash)
file(SHA256 "${d4}" d4_hash)
if(g4_hash STREQUAL d4_hash)
  message(FATAL_ERROR "timbrel grains hit: --pitch G4 and the typical D#4 rendered the same")
endif()
run_ok(out path --model "${PITCHED}" --class hat --pitch 80 --seconds 1 -o "${WORK}/pitched-path.wav")
execute_process(COMMAND "${TIMBREL}" grains hit --model "${PITCHED}" --class snare --pitch H4
                        -o "${WORK}/never.wav" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "--pitch must be a note name")
  message(FATAL_ERROR "timbrel grains hit --pitch H4: expected a refusal, got ${rc}: ${err}")
endif()

# A silent input (a hit at gain 0) and a malformed WAV.
set(silent "${WORK}/silent.wav")
run_ok(out hit --model "${MODEL}" --class kick --gain 0 -o "${silent}")
set(malformed "${WORK}/malformed.wav")
file(WRITE "${malformed}" "RIFF1234WAVEjunk: not a wave file at all")

# Errors: a message on stderr and a failing exit status, nothing written.
foreach(case
        "hit;--class;clap;--class: the model has no class 'clap' \\(it has: kick, snare, hat\\)"
        "hit;--class;kick;--morph-to;tom;--morph-to: the model has no class 'tom' \\(it has: kick, snare, hat\\)"
        "hit;--class;kick;--mix;0.5;--mix needs --morph-to"
        "hit;--class;kick;--temperature;-1;--temperature must be within 0-10"
        "hit;--class;kick;--rate;4000;--rate must be within 8000-192000 Hz"
        "path;--class;kick;--shape;square;--shape must be circle, line or spiral"
        "beatbox;${malformed};malformed.wav: "
        "beatbox;${silent};silent.wav: the input is silent"
        "beatbox;${WORK}/no-such.wav;no-such.wav"
        "beatbox;--model needs an input;grains beatbox needs an input"
        "beatbox;${kick48};--kit;kick,hat;--kit takes three classes, for the boom, the tss and the ka"
        "beatbox;${kick48};--kit;kick,tom,snare;--kit: the model has no class 'tom' \\(it has: kick, snare, hat\\)"
        "beatbox;${kick48};--classifier;latent;--classifier must be sound or centroid"
        "beatbox;${kick48};--morph;1.5;--morph must be within 0-1"
        "hit;--class;kick;--pitch;C4;--pitch: this model's classes are not pitched")
  list(GET case -1 pattern)
  list(REMOVE_AT case -1)
  if(case STREQUAL "beatbox;--model needs an input")
    set(case beatbox)
  endif()
  set(never "${WORK}/never-written.wav")
  file(REMOVE "${never}")
  execute_process(COMMAND "${TIMBREL}" grains ${case} --model "${MODEL}" --out "${never}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "${pattern}" OR EXISTS "${never}")
    message(FATAL_ERROR "timbrel grains ${case}: expected a failure saying '${pattern}', got ${rc}: ${err}")
  endif()
endforeach()
