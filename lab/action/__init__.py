"""The action server: an allowlisted catalog of remediations, audited, and the target's process supervisor."""
