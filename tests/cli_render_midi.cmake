# CTest script: the `timbrel render-midi` command end to end.
#   cmake -DTIMBREL=... -DSONG=song.mid -DMODEL=model.tmbl -DWORK=dir -P cli_render_midi.cmake
# Renders SONG with MODEL through both phase methods (Griffin-Lim with few
# iterations, to stay quick) and checks that each run wrote a 22050 Hz float32
# WAV of the length it reports, and reported the notes, the progress and the
# real-time factor.
if(NOT EXISTS "${MODEL}")
  message(FATAL_ERROR "model ${MODEL} is missing (tests/golden/crossmodal/ is written by "
                      "PYTHONPATH=scripts python3 -m timbrel.golden --only crossmodal)")
endif()
file(MAKE_DIRECTORY "${WORK}")
foreach(phase griffin-lim rtpghi)
  set(output "${WORK}/song-${phase}.wav")
  file(REMOVE "${output}")
  execute_process(COMMAND "${TIMBREL}" render-midi "${SONG}" --model "${MODEL}" -o "${output}"
                          --phase ${phase} --iterations 3 --temperature 0.5 --seed 7
                          --interpolation linear
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "timbrel render-midi --phase ${phase} failed (${rc}): ${err}")
  endif()
  if(NOT EXISTS "${output}")
    message(FATAL_ERROR "timbrel render-midi wrote no ${output}")
  endif()
  if(NOT out MATCHES "wrote [^\n]*: ([0-9]+) samples at 22050 Hz")
    message(FATAL_ERROR "timbrel render-midi did not report what it wrote")
  endif()
  # A float32 WAV: 4 bytes a sample after a header of 44 bytes (or a few more).
  math(EXPR data_bytes "${CMAKE_MATCH_1} * 4")
  file(SIZE "${output}" size)
  math(EXPR header_bytes "${size} - ${data_bytes}")
  if(header_bytes LESS 44 OR header_bytes GREATER 80)
    message(FATAL_ERROR "${output} is ${size} bytes, not ${CMAKE_MATCH_1} float32 samples and a header")
  endif()
  if(NOT out MATCHES "8 notes \\(0 drum notes skipped\\)" OR NOT out MATCHES "notes: 8 rendered"
     OR NOT out MATCHES "real-time factor" OR NOT out MATCHES "interpolation linear")
    message(FATAL_ERROR "timbrel render-midi did not summarise the render")
  endif()
  if(NOT err MATCHES "100% \\(339/339 frames\\)")
    message(FATAL_ERROR "timbrel render-midi showed no frame progress")
  endif()
  if(phase STREQUAL "griffin-lim" AND NOT err MATCHES "100% \\(3/3 iterations\\)")
    message(FATAL_ERROR "timbrel render-midi showed no Griffin-Lim progress")
  endif()
endforeach()
