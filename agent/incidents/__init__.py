"""Incidents: the model people read and the SQLite history they query."""
