"""Typed domain events, the room aggregate, the event store and its projections."""
