class FactcheckError(Exception):
    """Base of every error the library raises for a user-facing problem (the CLI prints it as `Error: …`)."""
