"""Translation engines: one small interface, a registry with preference and fallback."""
