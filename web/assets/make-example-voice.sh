#!/bin/sh
# Rebuilds web/assets/example-voice.wav, the clip the page's "Play example"
# button feeds through the live analyser (instead of the microphone).
#
#   sh web/assets/make-example-voice.sh [OUT.wav]
#
# Contents (22050 Hz, mono, 16-bit, ~8 s, < 400 KB):
#   0.0-2.6 s  a hummed "ah" vowel: glottal-like sawtooth through two vowel
#              formants (~700 Hz, ~1150 Hz), gliding A3 -> E4 -> A3 (a siren)
#   2.8-5.1 s  a hummed melody A3 C4 E4 D4 C4 A3 (220 ... 220 Hz)
#   5.3-7.9 s  speech from espeak-ng: voiced and unvoiced sounds alternate
# Deterministic: sox runs with -R (repeatable) and no dither (-D); espeak-ng
# output depends only on its version (Debian espeak-ng 1.51, sox 14.4.2).
set -eu

OUT=${1:-$(dirname "$0")/example-voice.wav}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RATE=22050

# One vowel-coloured note: sawtooth (rich in harmonics) -> formant filters ->
# gentle low-pass -> fades so notes join without clicks.
note() { # name duration freq-spec
  sox -R -D -n -r $RATE -c 1 -b 32 -e floating-point "$TMP/$1.wav" \
    synth "$2" sawtooth "$3" \
    equalizer 700 2q 10 equalizer 1150 3q 7 equalizer 2600 4q 3 \
    lowpass 3500 gain -n -8 fade t 0.05 "$2" 0.06
}

note glide1 1.3 220:330
note glide2 1.3 330:220
i=0
for f in 220 261.63 329.63 293.66 261.63 220; do
  note "m$i" 0.38 "$f"
  i=$((i + 1))
done

espeak-ng -v en-us -s 150 -p 45 -w "$TMP/speech.wav" "Hello. This is Timbrel, listening."
sox -R -D "$TMP/speech.wav" -r $RATE -c 1 -b 32 -e floating-point "$TMP/speech-f.wav" gain -n -6 silence 1 0.02 0.3% reverse silence 1 0.02 0.3% reverse

sox -R -D -n -r $RATE -c 1 -b 32 -e floating-point "$TMP/gap.wav" trim 0 0.2

sox -R -D "$TMP/glide1.wav" "$TMP/glide2.wav" "$TMP/gap.wav" \
  "$TMP/m0.wav" "$TMP/m1.wav" "$TMP/m2.wav" "$TMP/m3.wav" "$TMP/m4.wav" "$TMP/m5.wav" \
  "$TMP/gap.wav" "$TMP/speech-f.wav" \
  -r $RATE -c 1 -b 16 -e signed-integer "$OUT" gain -n -3

echo "wrote $OUT"
