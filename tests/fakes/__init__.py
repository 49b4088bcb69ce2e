"""Fakes for what cannot run here (Taobao's gateway, Jushuitan, a shop's own order endpoint).

Each speaks the real protocol over real HTTP on loopback, verifies signatures as the platform does,
and can be told to misbehave (rate limits, remote errors, slowness, malformed JSON, invalid sessions).
"""
