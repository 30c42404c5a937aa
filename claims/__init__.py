"""Bundled case files (the sample case for `factcheck demo`), shipped as factcheck.claims."""
