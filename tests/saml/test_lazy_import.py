"""pysaml2 costs about a second to import: the server starts without it and loads it on the
first SSO request. The binding names kept in signalcraft.auth.saml are pysaml2's."""

from __future__ import annotations

import subprocess
import sys

import saml2

from signalcraft.auth import saml


def test_starting_the_app_does_not_import_pysaml2() -> None:
    probe = (
        "import sys; from signalcraft import runtime, cli; from signalcraft.app import create_app; "
        "print(sorted(m for m in sys.modules if m == 'saml2' or m.startswith('saml2.')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_binding_names_are_pysaml2s() -> None:
    assert saml.BINDING_HTTP_POST == saml2.BINDING_HTTP_POST
    assert saml.BINDING_HTTP_REDIRECT == saml2.BINDING_HTTP_REDIRECT


def test_starting_the_app_does_not_import_apprise() -> None:
    probe = (
        "import sys; from signalcraft import runtime, cli; from signalcraft.app import create_app; "
        "print(sorted(m for m in sys.modules if m == 'apprise' or m.startswith('apprise.')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
