"""zonepaper: run a school zone-of-choice enrollment on paper."""

__version__ = "0.1.0"
