"""The action server: an allowlisted catalog of remediations, audited, and the supervisor of the service it
acts on (the target, or with ACTION_SERVICE=worker the queue worker)."""
