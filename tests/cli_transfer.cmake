# CTest script: the `timbrel transfer` command end to end.
#   cmake -DTIMBREL=... -DVOICE=in.wav -DMODEL=model.tmbl -DWORK=dir -P cli_transfer.cmake
# Resamples VOICE to 44100 Hz (so the tool resamples both ways), converts it
# with MODEL, and checks the output: same rate, length and format (float32) as
# the 44100 Hz input, hence the same file size.
if(NOT EXISTS "${MODEL}")
  message(FATAL_ERROR "model ${MODEL} is missing (tests/golden/vq/ is written by the PyTorch side)")
endif()
file(MAKE_DIRECTORY "${WORK}")
set(input "${WORK}/voice-44100.wav")
set(output "${WORK}/voice-44100-transfer.wav")
file(REMOVE "${output}")
execute_process(COMMAND "${TIMBREL}" resample "${VOICE}" --rate 44100 -o "${input}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "timbrel resample failed (${rc})")
endif()
execute_process(COMMAND "${TIMBREL}" transfer "${input}" --model "${MODEL}" -o "${output}"
                        --mode pitch --octaves 1 --seed 7
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "timbrel transfer failed (${rc}): ${err}")
endif()
if(NOT EXISTS "${output}")
  message(FATAL_ERROR "timbrel transfer wrote no ${output}")
endif()
file(SIZE "${input}" input_size)
file(SIZE "${output}" output_size)
if(NOT input_size EQUAL output_size)
  message(FATAL_ERROR "output is ${output_size} bytes, expected ${input_size} (same length as the input)")
endif()
if(NOT out MATCHES "real-time factor" OR NOT out MATCHES "at 44100 Hz")
  message(FATAL_ERROR "timbrel transfer did not report what it did")
endif()
