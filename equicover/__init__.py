"""equicover: health coverage for poor and vulnerable people, run from policy files."""

__version__ = "0.1.0"
