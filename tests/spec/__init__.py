"""Specification tests: the core's rules stated directly, with no server (``make spec``)."""
