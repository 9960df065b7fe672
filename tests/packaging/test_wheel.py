"""A non-editable ``pip install`` (a built wheel) carries the templates, static files, migrations
and example config inside the package, and serves the UI from an empty directory."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from tests.packaging.conftest import ROOT, Box, serve


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    base = tmp_path_factory.mktemp("wheel")
    wheels, target, work, tmp = base / "wheels", base / "site", base / "work", base / "tmp"
    for d in (work, tmp):
        d.mkdir()
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    (wheel,) = wheels.glob("signalcraft-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "signalcraft/_resources/web/base.html" in names
    assert "signalcraft/_resources/static/vendor/htmx/htmx.min.js" in names
    assert "signalcraft/_resources/config.example.toml" in names
    assert "signalcraft/db/migrations/0001_accounts.sql" in names
    assert not [n for n in names if n.startswith(("web/", "static/"))]  # nothing outside the package
    install = subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr[-4000:]
    # The installed package, not the checkout: PYTHONPATH puts it first; dependencies come
    # from the project's virtualenv.
    launcher = base / "signalcraft"
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH={target} exec {sys.executable} -m signalcraft "$@"\n')
    launcher.chmod(0o755)
    yield Box(launcher, work, tmp)


def test_the_wheel_runs_its_own_copy_of_the_package(installed: Box) -> None:
    site = installed.binary.parent / "site"
    where = subprocess.run(
        [sys.executable, "-c", "import signalcraft.paths as p; print(p.__file__); print(p.templates_dir())"],
        cwd=installed.workdir, capture_output=True, text=True, timeout=60,
        env=installed.environ({"PYTHONPATH": str(site)}),
    )
    module, templates = where.stdout.split()
    assert module.startswith(str(site)) and templates == str(site / "signalcraft" / "_resources" / "web")
    assert installed.ok("example-config") == (ROOT / "config.example.toml").read_text()


def test_serve_from_an_empty_directory_renders_the_login_page_with_its_assets(installed: Box) -> None:
    served = serve(installed)
    try:
        page = httpx.get(f"{served.url}/login")
        assert page.status_code == 200 and "<form" in page.text
        assets = set(re.findall(r'(?:href|src)="(/static/[^"?]+)', page.text))
        assert {"/static/app.css", "/static/app.js", "/static/vendor/htmx/htmx.min.js"} <= assets
        for asset in assets:
            assert httpx.get(f"{served.url}{asset}").status_code == 200, asset
        assert (installed.workdir / "signalcraft-data" / "signalcraft.db").is_file()
    finally:
        assert served.stop() == 0, served.output()
