"""Engines: what the core drives.

One package per kind (``audio`` decoders, ``vad``, ``stt``, ``tts``,
``translation``), each with its interface (``base``). The kinds a setting
chooses by name (``stt``, ``tts``, ``translation``) also have a registry with
fallback between engines (built on ``registry``) and ``engines.build(names)``,
which makes the engines named, importing each only then; ``vad.engines``
builds the one detector.
"""
