"""Everything that talks to the outside world: network, engines, persistence."""
