"""Configuration: TOML -> frozen dataclasses, read once at start-up.

Precedence, lowest first: built-in defaults, the TOML file, ``SIGNALCRAFT_<SECTION>_<KEY>``
environment variables. A secret key ``k`` may instead be given as ``k_file`` (a path whose
content, stripped, is the value) in TOML or as ``SIGNALCRAFT_<SECTION>_<K>_FILE``.

Every problem is a :class:`ConfigError` whose message is one line naming the source
(file or environment variable), the key and what is expected.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "SIGNALCRAFT_"


class ConfigError(Exception):
    """A configuration problem; ``str()`` is the one line shown to the admin."""


Check = Callable[[Any], bool]


def _key(default: Any, expect: str, check: Check | None = None, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"expect": expect, "check": check, "secret": secret})


def _list_key(default: tuple[str, ...], expect: str, check: Check | None = None) -> Any:
    return field(
        default_factory=lambda: default,
        metadata={"expect": expect, "check": check, "secret": False},
    )


def _between(lo: int, hi: int) -> Check:
    return lambda v: lo <= v <= hi


def _one_of(*choices: str) -> Check:
    return lambda v: v in choices


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _base_url_ok(v: str) -> bool:
    return v == "" or (v.startswith(("http://", "https://")) and not v.endswith("/"))


@dataclass(frozen=True)
class ServerConfig:
    host: str = _key("127.0.0.1", "an address to listen on", lambda v: bool(v))
    port: int = _key(8080, "an integer between 1 and 65535", _between(1, 65535))
    base_url: str = _key("", "an http(s) URL without a trailing slash, or empty to derive it", _base_url_ok)
    trusted_proxies: tuple[str, ...] = _list_key(
        (), "a list of IP networks (CIDR)", lambda v: all(_is_network(n) for n in v)
    )
    max_body_bytes: int = _key(
        1_048_576, "an integer between 1024 and 104857600", _between(1024, 104_857_600)
    )
    shutdown_timeout: int = _key(15, "seconds between 1 and 600", _between(1, 600))
    metrics_token: str = _key(
        "", "a token of at least 16 characters, or empty", lambda v: v == "" or len(v) >= 16, secret=True
    )

    def public_url(self) -> str:
        """The URL users and senders reach this instance at (used in links and snippets)."""
        if self.base_url:
            return self.base_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class DataConfig:
    dir: str = _key("./signalcraft-data", "a directory path", lambda v: bool(v))

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def database_path(self) -> Path:
        return self.path / "signalcraft.db"

    @property
    def queue_path(self) -> Path:
        return self.path / "queue.db"


@dataclass(frozen=True)
class DatabaseConfig:
    busy_timeout_ms: int = _key(5000, "milliseconds between 100 and 600000", _between(100, 600_000))
    synchronous: str = _key("normal", '"normal" or "full"', _one_of("normal", "full"))
    writer_batch_max: int = _key(512, "an integer between 1 and 10000", _between(1, 10_000))


@dataclass(frozen=True)
class QueueConfig:
    workers: int = _key(2, "an integer between 1 and 32", _between(1, 32))


@dataclass(frozen=True)
class LogConfig:
    format: str = _key("text", '"text" or "json"', _one_of("text", "json"))
    level: str = _key(
        "info", '"debug", "info", "warning" or "error"', _one_of("debug", "info", "warning", "error")
    )


@dataclass(frozen=True)
class AuthConfig:
    session_idle_minutes: int = _key(720, "minutes between 5 and 43200", _between(5, 43_200))
    session_absolute_hours: int = _key(168, "hours between 1 and 8760", _between(1, 8760))
    secure_cookies: str = _key("auto", '"auto", "always" or "never"', _one_of("auto", "always", "never"))
    password_min_length: int = _key(10, "an integer between 8 and 128", _between(8, 128))
    login_window_minutes: int = _key(15, "minutes between 1 and 1440", _between(1, 1440))
    login_max_failures_per_account: int = _key(5, "an integer between 1 and 1000", _between(1, 1000))
    login_max_failures_per_ip: int = _key(20, "an integer between 1 and 10000", _between(1, 10_000))
    reset_link_hours: int = _key(24, "hours between 1 and 168", _between(1, 168))


@dataclass(frozen=True)
class IngestConfig:
    max_body_bytes: int = _key(
        1_048_576, "an integer between 1024 and 104857600", _between(1024, 104_857_600)
    )
    rate_limit_per_minute: int = _key(
        6000, "requests per minute per integration, 1 to 1000000", _between(1, 1_000_000)
    )
    group_window_minutes: int = _key(
        60, "minutes an open group keeps absorbing alerts, 1 to 10080", _between(1, 10_080)
    )
    raw_retention_days: int = _key(30, "days between 1 and 3650", _between(1, 3650))


@dataclass(frozen=True)
class ReplayConfig:
    enabled: bool = _key(True, "true or false")
    sample_rate: int = _key(100, "a percentage of sessions to record, 0 to 100", _between(0, 100))
    max_chunk_bytes: int = _key(
        2_097_152, "an integer between 1024 and 104857600", _between(1024, 104_857_600)
    )
    inactivity_minutes: int = _key(30, "minutes between 1 and 1440", _between(1, 1440))
    retention_days: int = _key(30, "days between 1 and 3650", _between(1, 3650))
    quota_mb_per_workspace: int = _key(1024, "megabytes between 1 and 1048576", _between(1, 1_048_576))


@dataclass(frozen=True)
class UptimeConfig:
    min_interval_seconds: int = _key(30, "seconds between 1 and 86400", _between(1, 86_400))
    max_concurrency: int = _key(100, "checks running at once, 1 to 10000", _between(1, 10_000))
    default_timeout_seconds: int = _key(10, "seconds between 1 and 120", _between(1, 120))
    failures_before_down: int = _key(3, "an integer between 1 and 100", _between(1, 100))
    successes_before_up: int = _key(1, "an integer between 1 and 100", _between(1, 100))
    flap_changes: int = _key(5, "state changes between 2 and 100", _between(2, 100))
    flap_window_minutes: int = _key(60, "minutes between 1 and 1440", _between(1, 1440))
    raw_retention_days: int = _key(2, "days between 1 and 90", _between(1, 90))
    log_body_max_bytes: int = _key(10_000, "bytes between 0 and 1048576", _between(0, 1_048_576))
    log_bodies_kept: int = _key(100, "an integer between 1 and 10000", _between(1, 10_000))
    allowed_networks: tuple[str, ...] = _list_key(
        (), "a list of IP networks (CIDR)", lambda v: all(_is_network(n) for n in v)
    )


@dataclass(frozen=True)
class NotifyConfig:
    allowed_networks: tuple[str, ...] = _list_key(
        (), "a list of IP networks (CIDR)", lambda v: all(_is_network(n) for n in v)
    )


@dataclass(frozen=True)
class LimitsConfig:
    api_key_per_minute: int = _key(
        1200, "requests per minute per API key, 1 to 1000000", _between(1, 1_000_000)
    )
    session_per_minute: int = _key(
        600, "requests per minute per signed-in session, 1 to 1000000", _between(1, 1_000_000)
    )
    public_per_minute_per_ip: int = _key(
        1200, "requests per minute per client address on public routes, 1 to 1000000", _between(1, 1_000_000)
    )
    replay_per_minute_per_ip: int = _key(
        6000, "recorder requests per minute per replay key and client address, 1 to 1000000",
        _between(1, 1_000_000),
    )


@dataclass(frozen=True)
class RetentionConfig:
    resolved_alert_days: int = _key(365, "days between 1 and 36500", _between(1, 36_500))
    notification_log_days: int = _key(90, "days between 1 and 36500", _between(1, 36_500))
    audit_days: int = _key(0, "days between 0 (keep forever) and 36500", _between(0, 36_500))


def _is_master_key(value: str) -> bool:
    if value == "":
        return True
    try:
        return len(base64.b64decode(value.strip(), validate=True)) == 32
    except ValueError:
        return False


@dataclass(frozen=True)
class SecretsConfig:
    master_key: str = _key(
        "",
        "32 random bytes in base64 (openssl rand -base64 32), or empty for <data dir>/master.key",
        _is_master_key,
        secret=True,
    )


@dataclass(frozen=True)
class Settings:
    server: ServerConfig = field(default_factory=ServerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    log: LogConfig = field(default_factory=LogConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    uptime: UptimeConfig = field(default_factory=UptimeConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    # Where the settings came from, for messages ("" = embedded defaults).
    source: str = ""


SECTIONS: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in fields(Settings)
    if f.name != "source"
}


def _type_name(tp: Any) -> str:
    return {int: "an integer", str: "a string", bool: "true or false"}.get(tp, "a list of strings")


def _coerce(tp: Any, value: Any) -> Any:
    """Check ``value`` against the annotated type. TOML gives real types; no guessing."""
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    else:  # tuple[str, ...]
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        raise TypeError
    return value


def _from_env_text(tp: Any, text: str) -> Any:
    if tp is int:
        return int(text.strip())
    if tp is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if tp is str:
        return text
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_secret_file(origin: str, dotted: str, path_text: str) -> str:
    try:
        return Path(path_text).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{origin}: {dotted}_file: expected a readable file, got {path_text!r} ({exc.strerror})"
        ) from None


def _build_section(
    name: str, cls: type, table: Mapping[str, Any], env: Mapping[str, str], origin: str
) -> Any:
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for raw_key, raw_value in table.items():
        key, from_file = raw_key, False
        if key.endswith("_file") and key[:-5] in known and known[key[:-5]].metadata["secret"]:
            key, from_file = key[:-5], True
        if key not in known:
            expected = ", ".join(sorted(known))
            raise ConfigError(f"{origin}: {name}.{raw_key}: unknown key (known keys: {expected})")
        if from_file:
            if not isinstance(raw_value, str):
                raise ConfigError(f"{origin}: {name}.{raw_key}: expected a file path string")
            raw_value = _read_secret_file(origin, f"{name}.{key}", raw_value)
        values[key] = _checked(name, key, known[key], hints[key], raw_value, origin)
    for key, f in known.items():
        env_name = f"{ENV_PREFIX}{name.upper()}_{key.upper()}"
        env_origin = f"environment {env_name}"
        if f.metadata["secret"] and f"{env_name}_FILE" in env:
            text = _read_secret_file(f"environment {env_name}_FILE", f"{name}.{key}", env[f"{env_name}_FILE"])
            values[key] = _checked(name, key, f, hints[key], text, env_origin)
        if env_name in env:
            try:
                parsed = _from_env_text(hints[key], env[env_name])
            except ValueError:
                raise ConfigError(
                    f"{env_origin}: {name}.{key}: expected {f.metadata['expect']}, "
                    f"got {_describe(env[env_name])}"
                ) from None
            values[key] = _checked(name, key, f, hints[key], parsed, env_origin)
    return cls(**values)


def _checked(section: str, key: str, f: Any, tp: Any, value: Any, origin: str) -> Any:
    expect = f.metadata["expect"]
    try:
        value = _coerce(tp, value)
    except TypeError:
        raise ConfigError(
            f"{origin}: {section}.{key}: expected {_type_name(tp)} ({expect}), got {_describe(value)}"
        ) from None
    check = f.metadata["check"]
    if check is not None and not check(value):
        shown = (
            "a value that does not fit (not shown: it is a secret)"
            if f.metadata["secret"]
            else _describe(value)
        )
        raise ConfigError(f"{origin}: {section}.{key}: expected {expect}, got {shown}")
    return value


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file at ``path`` (or nothing: embedded defaults) and the environment.

    Raises :class:`ConfigError` with a one-line message on any unknown key, wrong type or
    bad value. Environment variables starting ``SIGNALCRAFT_`` that name no key are errors
    too, so a typo never silently falls back to a default.
    """
    env = dict(os.environ if env is None else env)
    document: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        origin = str(path)
        try:
            with Path(path).open("rb") as fh:
                document = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{origin}: file not found") from None
        except OSError as exc:
            raise ConfigError(f"{origin}: cannot read ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{origin}: invalid TOML: {exc}") from None
    for name, value in document.items():
        if name not in SECTIONS:
            raise ConfigError(f"{origin}: {name}: unknown section (known sections: {', '.join(SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {name}: expected a [{name}] table")
    _reject_unknown_env(env)
    built = {
        name: _build_section(name, cls, document.get(name, {}), env, origin) for name, cls in SECTIONS.items()
    }
    return Settings(**built, source=origin if path is not None else "")


def _reject_unknown_env(env: Mapping[str, str]) -> None:
    valid: set[str] = {"SIGNALCRAFT_CONFIG"}
    for name, cls in SECTIONS.items():
        for f in fields(cls):
            base = f"{ENV_PREFIX}{name.upper()}_{f.name.upper()}"
            valid.add(base)
            if f.metadata["secret"]:
                valid.add(f"{base}_FILE")
    for key in env:
        if key.startswith(ENV_PREFIX) and key not in valid:
            raise ConfigError(f"environment {key}: unknown setting (see config.example.toml)")


def with_overrides(settings: Settings, **sections: Any) -> Settings:
    """A copy of ``settings`` with whole sections replaced (for tests and the CLI)."""
    return replace(settings, **sections)


def defaults_as_toml() -> str:
    """Every key with its default, as TOML; ``config.example.toml`` is checked against it."""
    lines: list[str] = []
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for f in fields(cls):
            default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[operator]
            lines.append(f"{f.name} = {_toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"
