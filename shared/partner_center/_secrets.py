"""Where rotating secrets (the App+User refresh token) live between runs.

Every refresh-token exchange returns a new token that must replace the old one; a store is the
seam (Key Vault in production, a file or memory locally).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class SecretStore(Protocol):
    """Get and replace named secrets."""

    async def get(self, name: str) -> str | None: ...

    async def set(self, name: str, value: str) -> None: ...


class InMemorySecretStore:
    """For tests and one-off runs."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(initial or {})

    async def get(self, name: str) -> str | None:
        return self._values.get(name)

    async def set(self, name: str, value: str) -> None:
        self._values[name] = value


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class FileSecretStore:
    """One file per secret in ``directory``, owner-only, replaced atomically."""

    def __init__(self, directory: Path | str) -> None:
        self._dir = Path(directory)

    def _path(self, name: str) -> Path:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"invalid secret name {name!r}")
        return self._dir / name

    def _read(self, name: str) -> str | None:
        path = self._path(name)
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None

    def _write(self, name: str, value: str) -> None:
        target = self._path(name)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, name: str) -> str | None:
        return await asyncio.to_thread(self._read, name)

    async def set(self, name: str, value: str) -> None:
        await asyncio.to_thread(self._write, name, value)
