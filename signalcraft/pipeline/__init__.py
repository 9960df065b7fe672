"""parse -> normalize -> fingerprint -> dedup -> group -> state -> event.

The decisions are pure functions here; :mod:`signalcraft.pipeline.process` applies them
inside one write transaction.
"""
