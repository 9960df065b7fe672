"""Where the bundled resources are: next to the package in a checkout or wheel, or in the
PyInstaller bundle (``sys._MEIPASS``)."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_root() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    return resource_root() / "web"


def static_dir() -> Path:
    return resource_root() / "static"


def example_config() -> Path:
    return resource_root() / "config.example.toml"
