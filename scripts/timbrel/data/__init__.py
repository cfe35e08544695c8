"""Timbrel's training corpora, rendered here from every independent General MIDI sample set.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build [--smoke] [--out DIR] [--sources ...]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data pack --out data/bundle [...]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data report [--readme]

See scripts/timbrel/data/README.md. This package imports only the standard
library at import time; numpy/scipy/mido are imported by the modules that
need them (bundle.load_bundle needs numpy only, for the GPU machine).
"""
