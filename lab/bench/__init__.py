"""The blind benchmark: faults injected through chaos, the agent measured from its outside.

Only this package reads the chaos server's ground truth; the agent never sees it.
"""
