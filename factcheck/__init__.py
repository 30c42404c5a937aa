"""factcheck: a fact-check and source-verification desk."""

__version__ = "0.1.0"
