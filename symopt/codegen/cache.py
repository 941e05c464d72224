"""Hash-named module files in a cache folder, imported as real modules.

The file name carries a hash of the source, which itself names the problem,
the template version and the library versions (in its header), so equal
problems share a file and anything else gets a new one. Files are written
atomically and never rewritten, which keeps Numba's ``cache=True`` index
(keyed on the file's path and time stamp) valid for the next process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import warnings
from pathlib import Path

from ..errors import CacheWarning, CodegenError


def cache_dir() -> Path:
    """``SYMOPT_CACHE_DIR``, else the user cache folder of this platform, plus ``symopt``."""
    override = os.environ.get("SYMOPT_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "symopt"


def _writable_dir(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def module_path(source: str, stem: str, folder: Path | None = None) -> Path:
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]
    return (folder or cache_dir()) / f"symopt_{stem}_{digest}.py"


def load(source: str, stem: str):
    """Write ``source`` (once) to the cache and import it; returns ``(module, path)``."""
    folder = cache_dir()
    if not _writable_dir(folder):
        warnings.warn(f"the symopt cache folder {folder} is not writable; compiling in a temporary folder "
                      "(set SYMOPT_CACHE_DIR to a writable folder to keep compiled code)", CacheWarning, stacklevel=3)
        folder = Path(tempfile.mkdtemp(prefix="symopt-"))
    path = module_path(source, stem, folder)
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else None
    except OSError:
        existing = None
    if existing != source:
        _write_atomically(path, source)
    name = path.stem
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module, path
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CodegenError(f"cannot import the generated module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CodegenError(f"importing the generated module {path} failed: {exc}") from exc
    return module, path
