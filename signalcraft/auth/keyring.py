"""Secrets at rest: AES-GCM under per-workspace data keys, wrapped by a master key.

- The **master key** (32 bytes) never enters the database: it comes from ``[secrets]
  master_key`` (or ``master_key_file``), else from ``<data dir>/master.key``, generated with
  mode 0600 on the first start. Its fingerprint (:attr:`MasterKey.id`) is recorded so a wrong
  key is named at start-up instead of producing garbage.
- Each workspace has **data keys** (random 32 bytes, numbered ``version``), stored only
  wrapped by the master key (``data_keys``, migration 0012). The highest version seals new
  secrets; older ones still open what they sealed.
- A sealed value is ``v1:<version>:<base64url(nonce || ciphertext)>``. The associated data
  binds it to its workspace and its place (table, column, row id, key), so a ciphertext
  copied into another row or workspace does not open.

Which columns hold sealed values and how old plaintext is converted: :mod:`signalcraft.auth.sealed_rows`.
Rotation: :mod:`signalcraft.auth.key_rotation`. Why and what an attacker gets: docs/security.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signalcraft.db.queries import audit
from signalcraft.db.queries import data_keys as dk
from signalcraft.errors import StorageError

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_FILE = "master.key"
_TOKEN = re.compile(r"^v1:([0-9]{1,9}):([A-Za-z0-9_-]+)$")


class KeyringError(StorageError):
    """A master key is missing or wrong, or a sealed value does not open. One line, no secret in it."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes = field(repr=False)
    source: str  # where it was read from, for messages

    @property
    def id(self) -> str:
        """A fingerprint safe to store and show (a hash of a 256-bit key reveals nothing of it)."""
        return hashlib.sha256(b"signalcraft master key id\x00" + self.key).hexdigest()[:16]


def parse_master_key(text: str, source: str) -> MasterKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise KeyringError(
            f"{source}: expected a master key of {KEY_BYTES} random bytes in base64 (openssl rand -base64 32)"
        )
    return MasterKey(raw, source)


def read_master_key_file(path: Path) -> MasterKey:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a base64 text file"
        raise KeyringError(f"{path}: cannot read the master key ({reason})") from None
    return parse_master_key(text, str(path))


def write_new_master_key(path: Path) -> MasterKey:
    """Create ``path`` (mode 0600, never overwriting) holding a fresh random key."""
    key = os.urandom(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyringError(f"{path}: cannot create the master key file ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return MasterKey(key, str(path))


# --- the two AES-GCM uses ----------------------------------------------------------------


def _wrap_aad(workspace_id: int, version: int) -> bytes:
    return f"signalcraft/data-key|workspace={workspace_id}|version={version}".encode()


def wrap(master: MasterKey, workspace_id: int, version: int, data_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, data_key, _wrap_aad(workspace_id, version))


def unwrap(master: MasterKey, workspace_id: int, version: int, blob: bytes) -> bytes:
    try:
        key = AESGCM(master.key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], _wrap_aad(workspace_id, version)
        )
    except InvalidTag:
        raise KeyringError(
            f"the master key from {master.source} (id {master.id}) does not unwrap data key "
            f"{version} of workspace {workspace_id}: the row was altered or belongs to another key"
        ) from None
    return key


def _seal_aad(workspace_id: int, purpose: str) -> bytes:
    return f"signalcraft/v1|workspace={workspace_id}|{purpose}".encode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and _TOKEN.match(value) is not None


def version_of(token: str) -> int:
    match = _TOKEN.match(token)
    if match is None:
        raise KeyringError("not a sealed value (expected v1:<version>:<base64>)")
    return int(match[1])


# --- the keyring --------------------------------------------------------------------------


class Keyring:
    """The master key of one database and its unwrapped data keys (cached in memory).

    :meth:`start` runs once when the database opens (after migrations): it loads or
    generates the master key, checks that it unwraps every data key, and finishes a
    master-key rotation by forgetting the older master keys.
    """

    def __init__(self, configured_master_key: str, data_dir: Path) -> None:
        self._configured = configured_master_key
        self.key_file = data_dir / MASTER_KEY_FILE
        self._master: MasterKey | None = None
        self._cache: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()

    @property
    def master(self) -> MasterKey:
        if self._master is None:
            raise KeyringError("the keyring is not started: open the database first")
        return self._master

    def start(self, conn: apsw.Connection, now: float) -> None:
        wrapped = dk.all_wrapped(conn)
        master = self._load_master(wrapped)
        with self._lock:
            self._master, self._cache = master, {}
        with conn:
            if not wrapped:  # nothing sealed yet: whichever key is configured becomes the one
                dk.delete_masters_except(conn, master.id)
                dk.add_master(conn, master.id, now)
                return
            self._check_and_cache(wrapped)
            seq = dk.master_seq(conn, master.id)
            assert seq is not None  # rows wrapped by it reference it
            retired = dk.delete_masters_before(conn, seq)
            if retired:
                log.info(
                    "master key rotation finished: master key %s replaces %s", master.id, ", ".join(retired)
                )
                audit.record(
                    conn,
                    audit.SYSTEM,
                    "keys.master_retired",
                    now,
                    detail={"master_key_id": master.id, "retired": retired},
                )
            newer = [m for m in dk.master_ids(conn) if (dk.master_seq(conn, m) or 0) > seq]
            if newer:
                log.warning(
                    "a master key rotation is pending: configure master key %s ([secrets] master_key_file)"
                    " and restart to finish it (docs/security.md)",
                    newer[-1],
                )

    def _load_master(self, wrapped: list[dk.Wrapped]) -> MasterKey:
        if self._configured:
            return parse_master_key(self._configured, "[secrets] master_key")
        if self.key_file.exists():
            if self.key_file.stat().st_mode & 0o077:
                log.warning("%s is readable by other users: chmod 600 it", self.key_file)
            return read_master_key_file(self.key_file)
        if wrapped:
            ids = ", ".join(sorted({w.master_key_id for w in wrapped}))
            raise KeyringError(
                f"no master key: [secrets] master_key is not set and {self.key_file} does not exist, but "
                f"this database's secrets are sealed under master key {ids}: restore that key file or "
                "configure it (docs/security.md)"
            )
        master = write_new_master_key(self.key_file)
        log.warning(
            "generated a master key in %s: back it up separately from the database; without it the "
            "secrets stored in the database (channel webhook URLs, tokens, passwords) cannot be read",
            self.key_file,
        )
        return master

    def _check_and_cache(self, wrapped: list[dk.Wrapped]) -> None:
        master = self.master
        mine = {(w.workspace_id, w.version): w.wrapped for w in wrapped if w.master_key_id == master.id}
        if not mine:
            ids = ", ".join(sorted({w.master_key_id for w in wrapped}))
            raise KeyringError(
                f"the master key from {master.source} (id {master.id}) is not the one this database's "
                f"secrets are sealed under (master key {ids}): configure that key (docs/security.md)"
            )
        for w in wrapped:
            if (w.workspace_id, w.version) not in mine:
                raise KeyringError(
                    f"data key {w.version} of workspace {w.workspace_id} is not wrapped by the master key "
                    f"from {master.source} (id {master.id}), only by {w.master_key_id}: with that key "
                    "configured, run `signalcraft keys rotate --new-master-key-file FILE` (FILE holding "
                    "this key) again, then restart"
                )
        with self._lock:
            for (workspace_id, version), blob in mine.items():
                self._cache[(workspace_id, version)] = unwrap(master, workspace_id, version, blob)

    # --- data keys ---------------------------------------------------------------------------

    def data_key(self, conn: apsw.Connection, workspace_id: int, version: int) -> bytes:
        with self._lock:
            found = self._cache.get((workspace_id, version))
        if found is not None:
            return found
        blob = dk.wrapped(conn, workspace_id, version, self.master.id)
        if blob is None:
            raise KeyringError(
                f"workspace {workspace_id} has no data key {version} wrapped by master key {self.master.id}"
            )
        key = unwrap(self.master, workspace_id, version, blob)
        with self._lock:
            self._cache[(workspace_id, version)] = key
        return key

    def new_data_key(
        self, conn: apsw.Connection, workspace_id: int, now: float, also: tuple[MasterKey, ...] = ()
    ) -> int:
        """A fresh data key for the workspace, wrapped by the master key (and ``also``); its version."""
        version = dk.next_version(conn, workspace_id)
        key = os.urandom(KEY_BYTES)
        for master in (self.master, *also):
            dk.add_master(conn, master.id, now)
            dk.insert(conn, workspace_id, version, master.id, wrap(master, workspace_id, version, key), now)
        with self._lock:
            self._cache[(workspace_id, version)] = key
        return version

    def current_version(self, conn: apsw.Connection, workspace_id: int, now: float) -> int:
        """The version new secrets of the workspace are sealed with (made on first use)."""
        found = dk.current_version(conn, workspace_id, self.master.id)
        return found if found is not None else self.new_data_key(conn, workspace_id, now)

    # --- sealing -----------------------------------------------------------------------------

    def seal(self, conn: apsw.Connection, workspace_id: int, purpose: str, value: Any, now: float) -> str:
        """Encrypt ``value`` (anything JSON) for ``purpose`` ("<table>.<column>|id=<row>|key=<name>")."""
        version = self.current_version(conn, workspace_id, now)
        key = self.data_key(conn, workspace_id, version)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, orjson.dumps(value), _seal_aad(workspace_id, purpose))
        return f"v1:{version}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, conn: apsw.Connection, workspace_id: int, purpose: str, token: str) -> Any:
        match = _TOKEN.match(token)
        if match is None:
            raise KeyringError(f"{_place(purpose)} of workspace {workspace_id} is not a sealed value")
        blob = base64.urlsafe_b64decode(match[2] + "=" * (-len(match[2]) % 4))
        key = self.data_key(conn, workspace_id, int(match[1]))
        try:
            plain = AESGCM(key).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _seal_aad(workspace_id, purpose)
            )
        except InvalidTag:
            raise KeyringError(
                f"{_place(purpose)} of workspace {workspace_id} does not open: it was altered, or copied "
                "from another row or workspace"
            ) from None
        return orjson.loads(plain)


def _place(purpose: str) -> str:
    """The purpose without the key name: where, not what (kept out of messages on principle)."""
    return "the sealed secret " + purpose.split("|key=", 1)[0]


# --- which keyring belongs to a connection -------------------------------------------------
#
# Query functions get only a connection. Sealing on write must not depend on every caller
# remembering to pass a keyring (a forgotten one would store plaintext), so Database.open
# attaches its keyring to its file and channel queries find it from the connection.

_ATTACHED: dict[str, list[Keyring]] = {}
_ATTACHED_LOCK = threading.Lock()


def attach(path: Path, keyring: Keyring) -> None:
    with _ATTACHED_LOCK:
        _ATTACHED.setdefault(os.path.realpath(path), []).append(keyring)


def detach(path: Path, keyring: Keyring) -> None:
    with _ATTACHED_LOCK:
        found = _ATTACHED.get(os.path.realpath(path), [])
        if keyring in found:
            found.remove(keyring)


def keyring_of(conn: apsw.Connection) -> Keyring:
    name = conn.filename
    with _ATTACHED_LOCK:
        found = _ATTACHED.get(os.path.realpath(name)) if name else None
        if found:
            return found[-1]
    raise KeyringError(f"{name}: no keyring: open the database with Database.open() to read or write secrets")
