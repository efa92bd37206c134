"""What a client may declare in ``start-speech``: encodings and sample rates.

Kept apart from the decoders (which load PyAV) so that the frame parser can
check a declaration without loading a codec.
"""

from __future__ import annotations

from typing import Final

#: The encodings a client may declare, by their Google Speech API names.
ENCODINGS: Final = ("LINEAR16", "WEBM_OPUS", "OGG_OPUS")
MIN_SAMPLE_RATE: Final = 8000
MAX_SAMPLE_RATE: Final = 48000
