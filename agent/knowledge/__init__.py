"""Runbooks, the knowledge store (runbooks + incident memory) and the lexical text model they share."""
