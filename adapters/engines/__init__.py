"""Engines: what the core drives.

One package per kind (``audio`` decoders, ``vad``, ``stt``, ``tts``,
``translation``), each with its interface (``base``), its registry with
fallback between engines (built on ``registry``) and ``engines.build(names)``
which makes the engines a setting names, importing each engine only then.
"""
