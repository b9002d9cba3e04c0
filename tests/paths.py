"""Where tests find the published FPL corpus (shared/ sits beside the repository)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "fpl-corpus"
