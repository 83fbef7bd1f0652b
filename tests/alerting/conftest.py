from __future__ import annotations

import sys
from pathlib import Path

# The pipeline test drives the same target stand-in as the exporter tests (tests/ has no package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exporters"))
