"""Pykka actors and the typed messages they exchange."""
