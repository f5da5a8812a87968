"""Keyed digests: records about a results folder that the folder alone cannot forge.

A results folder is data: anyone who can write it (a colleague on a shared disk, a planted
file) could also rewrite a plain sha256 stored in it. So the digests that decide whether code
or a pickle from the folder may run (the study file ``final`` runs, a trial's saved files, the
final model) are HMAC-SHA256 under a key of the user's, kept outside every results folder in
``$XDG_CONFIG_HOME/search/results.key`` (``~/.config/search/results.key``), created on first
use, readable by the user alone. Another user's key (or a rewritten digest) does not verify.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from search.core._errors import UserError

KEY_BYTES = 32
#: keys read, by path: the driver signs every file of every trial
_KEYS: dict[Path, bytes] = {}


def key_path() -> Path:
    """Where this user's key lives: under ``$XDG_CONFIG_HOME``, else ``~/.config``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "search" / "results.key"


def user_key() -> bytes:
    """This user's key, created (once, exclusively, mode 0600) when missing."""
    path = key_path()
    if path in _KEYS:
        return _KEYS[path]
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results.key.")  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # whole or absent, and the first process's key wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"{path}: cannot create the key results are signed with ({exc.strerror})") \
            from None
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < KEY_BYTES:  # a key being written by another process, or a damaged one
        raise UserError(f"{path}: the key results are signed with is damaged; remove it (results "
                        "signed with it will then ask for their study file to be named)")
    _KEYS[path] = key
    return key


def keyed(context: str, sha256: str) -> str:
    """The keyed digest of a file whose sha256 is ``sha256``, bound to ``context`` (what the
    file is, e.g. ``"study_file"`` or ``"trial 3/model.pt"``), so a digest cannot be moved to
    another file."""
    message = f"{context}\0{sha256}".encode()
    return hmac.new(user_key(), message, hashlib.sha256).hexdigest()


def matches(context: str, sha256: str, recorded: object) -> bool:
    """Whether ``recorded`` is the keyed digest of ``sha256`` in ``context`` under this user's
    key (constant-time)."""
    return isinstance(recorded, str) and hmac.compare_digest(keyed(context, sha256), recorded)


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the study file: ``final`` runs only the file this user ran (or names) ----------------------


def study_file_context(path: Path) -> str:
    """What the study file's keyed digest is bound to: its resolved path, so that the same bytes
    elsewhere (beside other modules it would import) do not verify."""
    return f"study_file:{path.resolve()}"


# --- a trial's files: loaded by ``final`` only while each verifies ------------------------------


def trial_file_context(number: int, name: str) -> str:
    """What a trial file's keyed digest is bound to: the trial's number and the file's path in
    the trial's folder (so a digest cannot be moved to another file or trial)."""
    return f"trial:{number}/{name}"


def sign_trial_files(number: int, sha256s: dict[str, str]) -> dict[str, str]:
    """The keyed digests the driver records for the files trial ``number`` kept, from the
    sha256s its worker sent (by path in the trial's folder)."""
    return {name: keyed(trial_file_context(number, name), sha) for name, sha in sha256s.items()}

