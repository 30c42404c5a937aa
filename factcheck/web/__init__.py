"""The web desk (`factcheck serve`): triage, evidence and review in the browser, with accounts."""

from factcheck.web.app import create_app

__all__ = ["create_app"]
