"""Shared pytest set-up: make tests/ importable for helper modules (tiny_asr, ...)."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
# Tests spawn ESPnet jobs; keep each on one thread so two can share the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
