"""``python -m signalcraft`` (and the PyInstaller binary's entry point)."""

from __future__ import annotations

import sys

from signalcraft.cli import main

if __name__ == "__main__":
    sys.exit(main())
