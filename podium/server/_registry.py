"""The workflows a server offers: files given at start, known by name or by path."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from podium.exceptions import ConfigError, PodiumError
from podium.plan import Workflow, load_workflow

logger = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Registered:
    """One offered workflow file: its name, and the compiled workflow or why it does not load."""

    name: str
    path: Path
    workflow: Workflow | None
    error: str | None = None


class WorkflowRegistry:
    """Workflow files by name; a path is accepted if it lies in one of the given locations.

    A file is compiled once per modification time, so a resubmitted workflow is the same object
    (the orchestrator keeps per-workflow wiring) and an edited one is read again.
    """

    def __init__(
        self, locations: Iterable[Path], *, allowed_modules: Collection[str] | None = None
    ) -> None:
        self.locations = [Path(p).resolve() for p in locations]
        self.allowed_modules = allowed_modules
        for loc in self.locations:
            if not loc.exists():
                raise ConfigError(f"--workflows {str(loc)!r}: no such file or folder")
        self._cache: dict[Path, tuple[float, Registered]] = {}
        self.by_name: dict[str, Path] = {}
        for path in self._files():
            entry = self._load(path)
            if entry.name in self.by_name and self.by_name[entry.name] != path:
                logger.warning(
                    "workflow %r of %s is shadowed by %s",
                    entry.name,
                    path,
                    self.by_name[entry.name],
                )
                continue
            self.by_name[entry.name] = path

    def _files(self) -> list[Path]:
        found: list[Path] = []
        for loc in self.locations:
            if loc.is_dir():
                found.extend(sorted(p for p in loc.iterdir() if p.suffix in SUFFIXES))
            else:
                found.append(loc)
        return found

    def _load(self, path: Path) -> Registered:
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            return Registered(path.stem, path, None, f"cannot read it: {exc.strerror or exc}")
        cached = self._cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            wf = load_workflow(path, allowed_modules=self.allowed_modules)
            entry = Registered(wf.name, path, wf)
        except PodiumError as exc:
            logger.warning("workflow %s does not load: %s", path, exc)
            entry = Registered(path.stem, path, None, str(exc))
        self._cache[path] = (mtime, entry)
        return entry

    def entries(self) -> list[Registered]:
        """Every offered workflow, by name."""
        return [self._load(path) for _name, path in sorted(self.by_name.items())]

    def allowed(self, path: Path) -> bool:
        """Whether `path` is one of the given files or lies in one of the given folders."""
        for loc in self.locations:
            if path == loc or (loc.is_dir() and path.is_relative_to(loc)):
                return True
        return False

    def _path(self, ref: str) -> Path:
        """The file `ref` names, if it is offered (a file in the given locations)."""
        try:
            candidate = Path(os.path.abspath(ref)).resolve()
            offered = (
                candidate.suffix in SUFFIXES and self.allowed(candidate) and candidate.is_file()
            )
        except (OSError, ValueError):  # a NUL byte, a name too long: not a file of ours
            offered = False
        if not offered:
            raise LookupError(ref)
        return candidate

    def resolve(self, ref: str) -> Workflow:
        """The workflow registered as `ref`, or the file `ref` within the given locations.

        Raises:
            LookupError: nothing by that name or path is offered.
            ConfigError: the file does not compile (its problems).
        """
        path = self.by_name.get(ref)
        if path is None:
            path = self._path(ref)
        entry = self._load(path)
        if entry.workflow is None:
            raise ConfigError(f"workflow {ref!r} does not load: {entry.error}")
        return entry.workflow


__all__ = ["Registered", "WorkflowRegistry"]
