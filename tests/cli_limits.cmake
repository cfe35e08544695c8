# Hostile inputs to the command-line tool (tests/hostile/): each is refused
# with exit status 1 and a message naming the problem, and nothing is written.
# -DTIMBREL=<timbrel> -DHOSTILE=<tests/hostile> -DDRAW_MODEL=<model.tmbl>
# -DWORK=<scratch dir> -DVOICE=<a WAV>
file(MAKE_DIRECTORY ${WORK})
set(out ${WORK}/never-written.wav)

function(expect_refusal name expected)
  file(REMOVE ${out})
  execute_process(COMMAND ${TIMBREL} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout
                  ERROR_VARIABLE stderr)
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "${name}: exit status ${rc}, expected 1\n${stdout}${stderr}")
  endif()
  if(NOT stderr MATCHES "${expected}")
    message(FATAL_ERROR "${name}: expected a message matching '${expected}', got:\n${stderr}")
  endif()
  if(EXISTS ${out})
    message(FATAL_ERROR "${name}: ${out} was written")
  endif()
  message(STATUS "${name}: refused: ${stderr}")
endfunction()

# A 36-byte MIDI file that asked for an hour of audio (7.5 GB), and a 44-byte
# one at the slowest tempo with the longest delta (93 TB).
expect_refusal(midi_hour "the song lasts 3600.0.* at most 600 s \\(10 minutes\\)"
               render-midi ${HOSTILE}/hour.mid --model flute --phase rtpghi -o ${out})
expect_refusal(midi_slow "tempo of 3.58 BPM.*tempos of 10-1000 BPM"
               render-midi ${HOSTILE}/slow.mid --model flute --phase rtpghi -o ${out})
expect_refusal(midi_info_hour "at most 600 s" midi-info ${HOSTILE}/hour.mid)
# A 17-byte curve that asked `draw` for 50 minutes.
expect_refusal(curve_fifty_minutes "line 2: time 3000 s is past the longest curve, 600 s"
               draw --model ${DRAW_MODEL} --target centroid=${HOSTILE}/fifty_minutes.csv -o ${out})
expect_refusal(draw_duration "--duration must lie in \\(0, 600\\] seconds, got 3000"
               draw --model ${DRAW_MODEL} --target centroid=${HOSTILE}/header.csv --duration 3000
               -o ${out})
# nan, inf and numbers with text in the first row are not headers.
expect_refusal(curve_nan_first "nan_first.csv line 1: 'nan,1500' is not finite"
               draw --model ${DRAW_MODEL} --target centroid=${HOSTILE}/nan_first.csv -o ${out})
expect_refusal(curve_inf_value "inf_value.csv line 3: '0.5,inf' is not finite"
               draw --model ${DRAW_MODEL} --target centroid=${HOSTILE}/inf_value.csv -o ${out})
expect_refusal(curve_text_first "text_first.csv line 1: expected `time_s,value`"
               draw --model ${DRAW_MODEL} --target centroid=${HOSTILE}/text_first.csv -o ${out})
# `analyse --hop 0` divided by zero.
expect_refusal(analyse_hop_zero "--hop must be 1 to half the window \\(512\\) samples, got 0"
               analyse ${VOICE} --hop 0)
expect_refusal(analyse_hop_text "--hop" analyse ${VOICE} --hop many)

# A header of words is still read as one.
execute_process(COMMAND ${TIMBREL} draw --model ${DRAW_MODEL}
                        --target centroid=${HOSTILE}/header.csv -o ${WORK}/header.wav
                RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "header.csv: exit status ${rc}\n${stdout}${stderr}")
endif()
