"""The application core.

``usecases`` is the facade every shell calls; the pykka actors (rooms,
sessions, speech pipelines, their supervisor and the pools they share) and
the typed messages and ports they exchange live here; ``projections`` are the
threads that follow the event log.
"""
