"""Everything is declared in pyproject.toml; this only adds the top-level ``web/`` (templates)
and ``static/`` trees and ``config.example.toml`` to built wheels, as
``signalcraft/_resources/``, so a non-editable ``pip install`` serves the UI. A checkout or
an editable install reads them in place (signalcraft/paths.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = ("web", "static")


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "signalcraft" / "_resources"
        for name in RESOURCES:
            shutil.copytree(ROOT / name, target / name, dirs_exist_ok=True)
        shutil.copy2(ROOT / "config.example.toml", target / "config.example.toml")


setup(cmdclass={"build_py": BuildWithResources})
