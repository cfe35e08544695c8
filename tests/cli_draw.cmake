# CTest script: `timbrel draw` and `timbrel analyse-codes` end to end.
#   cmake -DTIMBREL=... -DDRAW_MODEL=... -DVQ_MODEL=... -DCURVES=dir -DWORK=dir -P cli_draw.cmake
# Output files are float32 WAV at 22050 Hz: 44 header bytes + 4 per sample.
foreach(model IN ITEMS "${DRAW_MODEL}" "${VQ_MODEL}")
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "model ${model} is missing (tests/golden/)")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK}")

# run(NAME EXPECTED_BYTES args...): runs the tool, checks success and the output size.
function(draw name bytes)
  set(output "${WORK}/${name}.wav")
  file(REMOVE "${output}")
  execute_process(COMMAND "${TIMBREL}" draw ${ARGN} -o "${output}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${name}:\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "timbrel draw (${name}) failed (${rc}): ${err}")
  endif()
  if(NOT EXISTS "${output}")
    message(FATAL_ERROR "timbrel draw (${name}) wrote no ${output}")
  endif()
  file(SIZE "${output}" size)
  if(NOT size EQUAL bytes)
    message(FATAL_ERROR "${name}: output is ${size} bytes, expected ${bytes}")
  endif()
  if(NOT out MATCHES "real-time factor" OR NOT out MATCHES "wrote ")
    message(FATAL_ERROR "timbrel draw (${name}) did not report what it did")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

# The draw golden model (its table stored): a time_s,value curve of 1.5 s and a gain curve.
math(EXPR bytes "44 + 4 * 33075")
draw(rise ${bytes} --model "${DRAW_MODEL}" --target "centroid=${CURVES}/rise.csv"
     --gain "${CURVES}/gain.csv" --smooth 2 --hysteresis 0.05 --codes "${WORK}/rise-codes.csv")
if(NOT EXISTS "${WORK}/rise-codes.csv")
  message(FATAL_ERROR "--codes wrote nothing")
endif()

# --duration overrides the curve's length; an f0 curve drives the excitation.
math(EXPR bytes "44 + 4 * 22050")
draw(rise-f0 ${bytes} --model "${DRAW_MODEL}" --target "centroid=${CURVES}/rise.csv"
     --target "f0=${CURVES}/rise.csv" --weight centroid=2 --duration 1)
if(NOT last_err MATCHES "f0 target spans 1500 to .* Hz; .* lie outside .* clamped")
  message(FATAL_ERROR "an f0 curve above the model's range was not reported as clamped")
endif()

# A target outside what the model reaches: clamped, and said so.
math(EXPR bytes "44 + 4 * 512")
draw(out-of-range ${bytes} --model "${DRAW_MODEL}" --target "centroid=${CURVES}/out_of_range.csv"
     --mode noise)
if(NOT last_err MATCHES "2 of 2 hops lie outside what the model reaches .* clamped")
  message(FATAL_ERROR "an out-of-range target was not reported: ${last_err}")
endif()

# The PyTorch golden model has no table: --analyse computes it for the run.
math(EXPR bytes "44 + 4 * 11025")
draw(vq-golden ${bytes} --model "${VQ_MODEL}" --target "bandwidth=${CURVES}/rise.csv" --analyse
     --duration 0.5)

# f0 in noise mode is refused.
execute_process(COMMAND "${TIMBREL}" draw --model "${DRAW_MODEL}" --target "f0=${CURVES}/rise.csv"
                        --mode noise -o "${WORK}/never.wav"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "an f0 target needs --mode pitch")
  message(FATAL_ERROR "f0 in noise mode: rc ${rc}, ${err}")
endif()

# analyse-codes writes the table as JSON.
execute_process(COMMAND "${TIMBREL}" analyse-codes "${DRAW_MODEL}" -o "${WORK}/table.json"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "analysed 24 codes")
  message(FATAL_ERROR "analyse-codes failed (${rc}): ${out}${err}")
endif()
file(READ "${WORK}/table.json" table)
string(JSON codes LENGTH "${table}" pitch centroid_hz)
if(NOT codes EQUAL 24)
  message(FATAL_ERROR "the table has ${codes} centroid entries, expected 24")
endif()
