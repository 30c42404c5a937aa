"""Saved evidence pages of the bundled sample case, shipped as factcheck.evidence.

A desk's own evidence archive is a folder named by the evidence_dir setting, not this package."""
