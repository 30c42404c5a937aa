"""The web desk (`factcheck serve`): triage, evidence and review in the browser, with accounts."""

from .app import create_app

__all__ = ["create_app"]
