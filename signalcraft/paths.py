"""Where the bundled resources are: in the PyInstaller bundle (``sys._MEIPASS``), inside the
package of a built wheel (``signalcraft/_resources/``, added by setup.py), or next to the
package in a checkout or an editable install."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resource_root() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    installed = PACKAGE / "_resources"
    if (installed / "web").is_dir():
        return installed
    return PACKAGE.parent


def templates_dir() -> Path:
    return resource_root() / "web"


def static_dir() -> Path:
    return resource_root() / "static"


def example_config() -> Path:
    return resource_root() / "config.example.toml"
