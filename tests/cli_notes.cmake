# CTest script: `timbrel notes sample | transfer | info` end to end with the
# oracle GMVAE (tests/golden/gmvae/oracle.tmbl: its components' means decode to
# harmonic tones; its encoders are random, so the transfer is plumbing only).
#   cmake -DTIMBREL=... -DMODEL=oracle.tmbl -DWORK=dir -P cli_notes.cmake
if(NOT EXISTS "${MODEL}")
  message(FATAL_ERROR "model ${MODEL} is missing (tests/golden/gmvae/ is written by "
                      "PYTHONPATH=scripts python3 -m timbrel.golden --only gmvae)")
endif()
file(MAKE_DIRECTORY "${WORK}")

# A float32 WAV of the samples the command reports: 4 bytes a sample after a 44-80 byte header.
function(check_wav output out)
  if(NOT EXISTS "${output}")
    message(FATAL_ERROR "timbrel notes wrote no ${output}")
  endif()
  if(NOT out MATCHES "wrote [^\n]*: ([0-9]+) samples \\([0-9.]+ s\\) at 22050 Hz")
    message(FATAL_ERROR "timbrel notes did not report what it wrote")
  endif()
  math(EXPR data_bytes "${CMAKE_MATCH_1} * 4")
  file(SIZE "${output}" size)
  math(EXPR header_bytes "${size} - ${data_bytes}")
  if(header_bytes LESS 44 OR header_bytes GREATER 80)
    message(FATAL_ERROR "${output} is ${size} bytes, not ${CMAKE_MATCH_1} float32 samples and a header")
  endif()
endfunction()

# sample: oboe A4 from the components' means sounds at A4 (YIN, within 20 cents).
set(sample "${WORK}/oboe-a4.wav")
file(REMOVE "${sample}")
execute_process(COMMAND "${TIMBREL}" notes sample --model "${MODEL}" --instrument oboe --pitch A4
                        --seconds 1.5 --out "${sample}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "timbrel notes sample failed (${rc}): ${err}")
endif()
check_wav("${sample}" "${out}")
if(NOT out MATCHES "f0: [0-9.]+ Hz \\(YIN median of [0-9]+ voiced frames\\), ([-+][0-9.]+) cents from A4")
  message(FATAL_ERROR "timbrel notes sample reported no f0")
endif()
set(cents "${CMAKE_MATCH_1}")
if(cents GREATER 20 OR cents LESS -20)
  message(FATAL_ERROR "oboe A4 sounds ${cents} cents from A4")
endif()
if(NOT out MATCHES "level: peak -[0-9.]+ dBFS, RMS -[0-9.]+ dBFS" OR NOT out MATCHES "real-time factor")
  message(FATAL_ERROR "timbrel notes sample did not report the level and the compute time")
endif()

# sample with a spread, a seed and RTPGHI; a MIDI number as the pitch.
execute_process(COMMAND "${TIMBREL}" notes sample --model "${MODEL}" --instrument piano --pitch 62
                        --spread 0.5 --seed 3 --phase rtpghi --out "${WORK}/piano-d4.wav"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "note: piano D4 \\(MIDI 62\\), spread 0.50, seed 3")
  message(FATAL_ERROR "timbrel notes sample --spread --seed --phase rtpghi failed (${rc}): ${out}${err}")
endif()
check_wav("${WORK}/piano-d4.wav" "${out}")

# transfer the sampled note to the horn.
set(moved "${WORK}/oboe-a4-horn.wav")
file(REMOVE "${moved}")
execute_process(COMMAND "${TIMBREL}" notes transfer --model "${MODEL}" --in "${sample}"
                        --to french_horn --amount 1 --out "${moved}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "timbrel notes transfer failed (${rc}): ${err}")
endif()
check_wav("${moved}" "${out}")
if(NOT out MATCHES "nearest timbre component: [a-z_]+" OR NOT out MATCHES "-> french_horn, amount 1.00")
  message(FATAL_ERROR "timbrel notes transfer did not say what it moved")
endif()

# info: JSON with the instruments, pitches and sizes.
execute_process(COMMAND "${TIMBREL}" notes info --model "${MODEL}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "timbrel notes info failed (${rc}): ${err}")
endif()
string(JSON instruments GET "${out}" instruments)
string(JSON first GET "${out}" instruments 0)
string(JSON pitches LENGTH "${out}" pitches)
string(JSON frames GET "${out}" sizes frames)
string(JSON mel GET "${out}" sizes melBins)
string(JSON latent GET "${out}" sizes latent)
string(JSON decoder_out GET "${out}" sizes graphs decoder outputSize)
if(NOT first STREQUAL "oboe" OR NOT pitches EQUAL 12 OR NOT frames EQUAL 43 OR NOT mel EQUAL 256
   OR NOT latent EQUAL 16 OR NOT decoder_out EQUAL 11008)
  message(FATAL_ERROR "timbrel notes info: unexpected JSON ${out}")
endif()

# Errors: a message on stderr and a failing exit status, nothing written.
foreach(case
        "sample;--instrument;tuba;--pitch;A4;the model has no instrument 'tuba' \\(it has: oboe, french_horn, piano\\)"
        "sample;--instrument;oboe;--pitch;A2;--pitch A2 \\(45\\) is not one of the model's pitch components \\(C4 to B4, 12 pitches\\)"
        "sample;--instrument;oboe;--pitch;H4;--pitch must be a note name"
        "sample;--instrument;oboe;--pitch;A4;--spread;-1;--spread must be within 0-10"
        "transfer;--in;${WORK}/no-such.wav;--to;piano;no-such.wav"
        "transfer;--in;${sample};--to;tuba;--to: the model has no instrument 'tuba'")
  list(GET case -1 pattern)
  list(REMOVE_AT case -1)
  set(never "${WORK}/never-written.wav")
  file(REMOVE "${never}")
  execute_process(COMMAND "${TIMBREL}" notes ${case} --model "${MODEL}" --out "${never}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "${pattern}" OR EXISTS "${never}")
    message(FATAL_ERROR "timbrel notes ${case}: expected a failure saying '${pattern}', got ${rc}: ${err}")
  endif()
endforeach()
