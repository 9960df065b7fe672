"""Reading HTML forms: bounded strings, one helper. Errors name the field."""

from __future__ import annotations

from typing import Any

from litestar import Request

from signalcraft.errors import InvalidInput, SignalCraftError


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form as plain strings (files are ignored; repeated keys keep the last)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def text(form: dict[str, str], name: str, *, max_len: int = 200, required: bool = False) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise InvalidInput("is required", field=name)
    if len(value) > max_len:
        raise InvalidInput(f"must be at most {max_len} characters", field=name)
    return value


def bare_message(exc: SignalCraftError) -> str:
    """The message without the field path the JSON API puts in front of it (``steps[0].wait_minutes:
    whole minutes``): a page shows it under that field already."""
    return exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: an open redirect would turn sign-in into phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target[:2000]
