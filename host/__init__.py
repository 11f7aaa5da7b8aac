"""thermocc host side: ingest, fusion and occupancy series (CPython)."""
from thermocc._version import __version__

__all__ = ["__version__"]
