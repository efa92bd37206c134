"""Why client audio cannot be decoded, as stable codes the client sees in ``error`` frames."""

from __future__ import annotations


class AudioFormatError(Exception):
    """Client audio that cannot be decoded; ``code`` is stable and goes into ``error`` frames."""

    code = "invalid_audio"


class UnsupportedEncodingError(AudioFormatError):
    """The declared encoding is none of LINEAR16, WEBM_OPUS, OGG_OPUS."""

    code = "unsupported_encoding"


class OddByteCountError(AudioFormatError):
    """A LINEAR16 chunk with an odd number of bytes cannot hold whole 16-bit samples."""

    code = "odd_byte_count"


class InvalidSampleRateError(AudioFormatError):
    """The declared sample rate is outside what the service accepts (8 kHz to 48 kHz)."""

    code = "invalid_sample_rate"


class CorruptAudioError(AudioFormatError):
    """The bytes are not the container or codec they were declared to be."""

    code = "corrupt_audio"
