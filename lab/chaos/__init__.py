"""Fault injection for the lab: drives real mechanisms through hooks, and holds the ground truth."""
