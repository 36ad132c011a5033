"""Run Neo4j's own Cypher linter over statements from the tests.

Why: no Neo4j server runs in CI, so Neo4j's linter (npm ``@neo4j-cypher/language-support``,
pinned in ``tests/cypher_lint/package.json``) is the stand-in that proves every statement
the package sends parses on Neo4j 5 and uses nothing deprecated or unknown.

``ensure_linter()`` installs the npm package on first use (``npm ci``), guarded by a file
lock so parallel test processes do not collide; it fails loudly, with npm's output, when
node/npm are missing or the install fails. ``lint(queries)`` runs one node process for the
whole batch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Diagnostic",
    "LinterUnavailable",
    "LINTER_DIR",
    "ensure_linter",
    "lint",
]

LINTER_DIR = Path(__file__).resolve().parent.parent / "cypher_lint"
_PACKAGE = "@neo4j-cypher/language-support"
_INSTALL_TIMEOUT_S = 600
_LINT_TIMEOUT_S = 300


class LinterUnavailable(RuntimeError):
    """node/npm are missing or the linter could not be installed or run."""


@dataclass(frozen=True)
class Diagnostic:
    """One linter finding; ``line`` and ``col`` are 1-based (``None`` if unknown)."""

    severity: str  # "error", "warning", "information" or "hint"
    message: str
    line: int | None
    col: int | None
    deprecated: bool = False

    def __str__(self) -> str:
        where = f"{self.line}:{self.col}" if self.line is not None else "?"
        flag = " (deprecated)" if self.deprecated else ""
        return f"{self.severity}{flag} at {where}: {' '.join(self.message.split())}"


def _pinned_version() -> str:
    spec = json.loads((LINTER_DIR / "package.json").read_text())["dependencies"][_PACKAGE]
    return str(spec)


def _installed_version() -> str | None:
    manifest = LINTER_DIR / "node_modules" / _PACKAGE / "package.json"
    done = LINTER_DIR / "node_modules" / ".package-lock.json"  # npm writes it last
    if not (manifest.is_file() and done.is_file()):
        return None
    return str(json.loads(manifest.read_text()).get("version"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LinterUnavailable(
            f"'{name}' is not on PATH: the Cypher linter needs Node.js 20+ and npm "
            f"(install them, then rerun; the npm package is installed automatically)"
        )
    return path


def ensure_linter() -> Path:
    """Install the pinned linter into ``tests/cypher_lint/node_modules`` if needed.

    Returns the linter directory. Raises :class:`LinterUnavailable` with npm's output on
    failure (never skips: a missing linter must not make the suite pass silently).
    """
    _tool("node")
    wanted = _pinned_version()
    if _installed_version() == wanted:
        return LINTER_DIR
    digest = hashlib.sha1(str(LINTER_DIR).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"c360-cypher-lint-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing right now
        try:
            if _installed_version() == wanted:
                return LINTER_DIR
            npm = _tool("npm")
            has_lock = (LINTER_DIR / "package-lock.json").is_file()
            command = [npm, "ci" if has_lock else "install", "--no-audit", "--no-fund"]
            try:
                done = subprocess.run(
                    command,
                    cwd=LINTER_DIR,
                    capture_output=True,
                    text=True,
                    timeout=_INSTALL_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired as e:
                raise LinterUnavailable(f"{' '.join(command)} timed out after {e.timeout} s") from e
            if done.returncode != 0 or _installed_version() != wanted:
                raise LinterUnavailable(
                    f"`{' '.join(command)}` in {LINTER_DIR} failed (exit {done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return LINTER_DIR


def lint(
    queries: Sequence[str], *, registry: bool = True, cypher_version: str = "5"
) -> list[list[Diagnostic]]:
    """Lint each query; return one list of diagnostics per query, in the same order.

    Parameters
    ----------
    queries : Cypher statements (one statement each; ``$parameters`` are allowed).
    registry : check function and procedure names against Neo4j's built-in registry
        shipped with the linter (unknown ones are errors). ``False`` skips that check.
    cypher_version : ``"5"`` (what Neo4j 5 runs) or ``"25"``.
    """
    if not queries:
        return []
    directory = ensure_linter()
    command = [_tool("node"), "lint.mjs", f"--cypher={cypher_version}"]
    if not registry:
        command.append("--no-registry")
    try:
        done = subprocess.run(
            command,
            cwd=directory,
            input=json.dumps(list(queries)),
            capture_output=True,
            text=True,
            timeout=_LINT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        raise LinterUnavailable(f"the Cypher linter timed out after {e.timeout} s") from e
    if done.returncode != 0:
        raise LinterUnavailable(f"the Cypher linter failed (exit {done.returncode}):\n{done.stderr}")
    results = json.loads(done.stdout)
    if len(results) != len(queries):
        raise LinterUnavailable(f"the linter returned {len(results)} results for {len(queries)} queries")
    return [
        [
            Diagnostic(
                severity=d["severity"],
                message=d["message"],
                line=d.get("line"),
                col=d.get("col"),
                deprecated=bool(d.get("deprecated")),
            )
            for d in found
        ]
        for found in results
    ]

