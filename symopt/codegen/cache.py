"""Hash-named module files in a cache folder, imported as real modules.

The file name carries a hash of the source, which itself names the problem,
the template version and the library versions (in its header), so equal
problems share a file and anything else gets a new one. Files are written
atomically and never rewritten with other text, which keeps Numba's
``cache=True`` index valid for the next process (Numba 0.68 stamps its index
with a hash of the module file's content). Numba's compiled code is kept per
entry in generations that one process compiled from scratch and published
whole, each checked against its manifest before it is loaded
(:mod:`symopt.codegen.compiled` says why and how).

The cache holds code that gets imported (and pickles Numba unpickles), so:

- a folder symopt creates is private (mode 0700), and a folder or entry that
  another user could write to is refused with a :class:`CacheError`;
- a corrupt entry (unreadable text, a folder in place of a file, a generation
  of compiled code whose files differ from its manifest) is moved aside to
  ``corrupt/`` with a :class:`CacheWarning` and regenerated;
- a cache folder this process cannot write is used read-only: compiled code
  that is there is loaded from it; anything else is compiled into one private
  temporary folder per process (removed at exit), with a :class:`CacheWarning`.
  A cache folder that fills up (the module or Numba's files do not fit)
  degrades to that folder the same way;
- loads are thread-safe: one thread executes a module while others wait, and
  only a fully executed and checked module is handed out.

It is one module past 400 lines because every piece of it keeps one invariant, an entry is whole or absent
(hash-named files, atomic writes, locks between threads and processes, dead processes' staging folders cleaned,
clear_cache, the records kept beside the code).
"""

from __future__ import annotations

import atexit
import errno
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import pickle
import shutil
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import CacheError, CacheWarning, CodegenError, warn_user
from . import compiled

_LOCK = threading.Lock()  # guards the three below
_LOCKS: dict[str, threading.Lock] = {}  # one per entry, so one thread loads it while others wait
_LOADED: dict[str, tuple] = {}  # entry path in the cache folder -> (module, path it was loaded from)
_PRIVATE: list[Path] = []  # this process's temporary folder, made on first need

QUARANTINE = "corrupt"  # subfolder that corrupt entries are moved aside to
#: Times a load starts again when a file or folder it works on vanishes (symopt.clear_cache in another
#: thread or process): one race is common, three in a row mean something keeps removing the folder.
RACE_RETRIES = 3


def _reset_locks_in_child() -> None:
    # A fork copies locks held by other threads of the parent, which no thread of the child will release.
    global _LOCK, _LOCKS
    _LOCK, _LOCKS = threading.Lock(), {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_in_child)


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


@functools.lru_cache(maxsize=1)
def numba_version() -> str:
    """The installed Numba's version, read without importing Numba (which takes a fifth of a second)."""
    return importlib.metadata.version("numba")


def has_compiled_code(source: str, stem: str) -> bool:
    """Whether the cache folder holds ``source`` with Numba's compiled code for it (loading the module then
    takes a fraction of a second; compiling it, seconds). A quick look: the files are checked when loaded."""
    try:
        return _has_compiled_code(module_path(source, stem), source)
    except OSError:
        return False


def module_path(source: str, stem: str, folder: Path | None = None) -> Path:
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]
    return (folder or cache_dir()) / f"symopt_{stem}_{digest}.py"


def load(source: str, stem: str):
    """Write ``source`` (once) to the cache and import it; returns ``(module, path)``.

    Safe to call from several threads at once: the first executes the module,
    the others wait for it and get the same, fully executed module.
    """
    key = str(module_path(source, stem))
    hit = _LOADED.get(key)
    if hit is not None:
        return hit
    with _entry_lock(key):
        hit = _LOADED.get(key)
        if hit is None:
            hit = _LOADED[key] = _load_despite_races(source, Path(key))
    return hit


def _load_despite_races(source: str, target: Path) -> tuple:
    """:func:`_load_entry`, started again where something it works on vanished meanwhile."""
    for _ in range(RACE_RETRIES):
        try:
            return _load_entry(source, target)
        except FileNotFoundError as exc:  # removed under our feet (symopt.clear_cache elsewhere): once more
            vanished = exc
        except OSError as exc:  # a disk that fails in the temporary folder too: say where, and what to do
            raise CacheError(f"the symopt code cache failed at {exc.filename or target}: {exc.strerror or exc}; "
                             "free some space (symopt.clear_cache()) or set SYMOPT_CACHE_DIR to another "
                             "folder") from exc
    raise CacheError(f"files of the symopt code cache at {target.parent} vanished {RACE_RETRIES} times while "
                     f"{target.name} was loaded ({vanished.filename}): is another process clearing it in a loop? "
                     "Set SYMOPT_CACHE_DIR to a folder of this process's own") from vanished


def write(source: str, stem: str) -> Path:
    """Write ``source`` (once) to the cache without importing it; returns its path (in this process's
    temporary folder where the cache folder cannot be written, or is full, and does not hold it already)."""
    target = module_path(source, stem)
    for _ in range(RACE_RETRIES):
        try:
            return _write_entry(source, target)
        except FileNotFoundError:
            continue  # removed under our feet (symopt.clear_cache elsewhere): once more
        except OSError as exc:
            raise CacheError(f"the symopt code cache failed at {exc.filename or target}: {exc.strerror or exc}; "
                             "free some space (symopt.clear_cache()) or set SYMOPT_CACHE_DIR to another "
                             "folder") from exc
    raise CacheError(f"files of the symopt code cache at {target.parent} vanished {RACE_RETRIES} times while "
                     f"{target.name} was written: is another process clearing it in a loop? Set SYMOPT_CACHE_DIR "
                     "to a folder of this process's own")


def _write_entry(source: str, target: Path) -> Path:
    if _prepare_folder(target.parent):
        try:
            _write_source(target, source)
            return target
        except FileNotFoundError:
            raise
        except OSError as exc:
            _warn_full(target.parent, exc)
    elif _source_fault(target, source.encode("utf-8")) is None:
        return target
    path = _private_folder() / target.name
    _write_source(path, source)
    return path


def clear_cache() -> int:
    """Remove the compiled code symopt keeps on disk; returns the number of bytes freed.

    Removes, from the cache folder (``SYMOPT_CACHE_DIR`` or the platform's user
    cache folder plus ``symopt``): the generated ``symopt_*.py`` modules, their
    compiled code in ``__pycache__``, entries moved aside to ``corrupt/`` and
    stray temporary files; then the folder itself if nothing else is left in it.
    Files symopt did not write are left alone. This process's temporary folder
    (used when the cache folder is read-only or full) is removed too.

    Solvers already loaded in this process keep working; the next solve of a
    problem writes its code again and recompiles it (seconds instead of
    milliseconds). Solves running meanwhile, in this process or another, go on:
    a load or a compile whose files vanish makes them again.

    >>> import symopt
    >>> freed = symopt.clear_cache()  # doctest: +SKIP
    >>> print(f"{freed / 1e6:.1f} MB freed")  # doctest: +SKIP
    """
    freed = 0
    folders = [cache_dir()]
    with _LOCK:
        folders += _PRIVATE
        _PRIVATE.clear()
        _LOADED.clear()
    for folder in folders:
        freed += _remove_entries(folder)
    return freed


# --- analysis records ---------------------------------------------------------------------------------------------


def record_path(key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return cache_dir() / f"symopt_analysis_{digest}.pickle"


def load_record(key: str):
    """The object stored under ``key`` by :func:`store_record`, or None (missing, unreadable or for another key).

    Records are pickles, so they get the trust checks modules get, but a record is only time saved: one in
    a folder, or itself, that other users can write to is not read (a module there is refused with a
    :class:`CacheError` when one is needed); a corrupt record is moved aside with a warning."""
    path = record_path(key)
    folder = path.parent
    try:
        if not folder.is_dir() or not path.is_file():
            return None
        _refuse_if_exposed(folder, "folder")
        if not _is_private(folder):
            _refuse_if_exposed(path, "entry")
    except (CacheError, OSError):
        return None
    try:
        stored_key, value = pickle.loads(path.read_bytes())
    except Exception as exc:  # noqa: BLE001 - any unpickling fault means a corrupt record
        _quarantine([path], folder, f"the cache record {path} cannot be read ({type(exc).__name__})",
                    "computed again")
        return None
    return value if stored_key == key else None


def store_record(key: str, value) -> None:
    """Keep ``value`` (picklable) under ``key``; silently skipped where the cache cannot be written."""
    path = record_path(key)
    try:
        if not _prepare_folder(path.parent):
            return
        _write_atomically(path, pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL))
    except (CacheError, OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return  # a cache that cannot (or must not) take it only costs time next process


# --- loading one entry ------------------------------------------------------------------------------------------


def _entry_lock(key: str) -> threading.Lock:
    with _LOCK:
        return _LOCKS.setdefault(key, threading.Lock())


def _load_entry(source: str, target: Path) -> tuple:
    """Module and path for ``source``, whose place in the cache folder is ``target``."""
    folder = target.parent
    writable = _prepare_folder(folder)
    path = target
    if writable:
        try:
            _write_source(target, source)
        except FileNotFoundError:
            raise  # the folder removed meanwhile: the load starts again
        except OSError as exc:  # the module file does not fit (a full disk): the whole entry goes private
            _warn_full(folder, exc)
            writable, path = False, _private_folder() / target.name
            _write_source(path, source)
    elif _source_fault(target, source.encode("utf-8")) is not None:
        _warn(f"the symopt cache folder {folder} is not writable; compiling in a temporary folder for this process "
              "(set SYMOPT_CACHE_DIR to a writable folder to keep compiled code)")
        path = _private_folder() / target.name
        _write_source(path, source)
    if path == target:
        _check_entry(target)
    bad: list = []
    entry = compiled.choose(path, writable or path != target, _private_folder, bad)
    for generation, fault in bad:
        why = f"the compiled code of {target.name} in {generation} is damaged ({fault})"
        if path == target and not writable:  # a read-only folder: it cannot be moved aside, only passed over
            _warn(f"{why}; compiling in a temporary folder for this process (whoever can write to {folder} can "
                  "remove it: symopt.clear_cache())")
        else:
            _quarantine([generation], folder, why, "it will be compiled again")
    if path == target and not writable and entry.role == "publisher" and _uses_numba(source) and not bad:
        _warn(f"the symopt cache folder {folder} is not writable and holds no compiled code for {target.name}; "
              "compiling in a temporary folder for this process (set SYMOPT_CACHE_DIR to a writable folder to "
              "keep compiled code)")
    if _uses_numba(source):
        compiled.install()  # before the module runs: its decorators ask Numba's locators for a folder
    module = _execute(path, source)
    compiled.attach(module, entry)
    return module, path


def _uses_numba(source: str) -> bool:
    return "from numba import" in source or "import numba" in source


def _warn_full(folder: Path, exc: OSError) -> None:
    _warn(f"the symopt cache folder {folder} cannot take the generated module ({exc.strerror or exc}); compiling "
          "in a temporary folder for this process (free some space, symopt.clear_cache(), or set SYMOPT_CACHE_DIR "
          "to another folder)")


def _prepare_folder(folder: Path) -> bool:
    """Create ``folder`` (private) if missing; refuse it if others can write to it; True if we can write to it."""
    try:
        folder.mkdir(parents=True)
        os.chmod(folder, 0o700)  # exactly 0700, whatever the umask
    except FileExistsError:
        pass
    except OSError:
        return False  # cannot be created (a file in the way, a read-only parent): degrade, never refuse
    if not folder.is_dir():
        return False
    _refuse_if_exposed(folder, "folder")
    if not _writable(folder):
        return False
    (folder / "__pycache__").mkdir(mode=0o700, exist_ok=True)  # before Numba makes it with the default mode
    return True


def _writable(folder: Path) -> bool:
    # A real write, not os.access or the mode bits: root writes regardless of bits, and ACLs or a
    # read-only mount say otherwise than bits too. (Tests running as root replace this probe.)
    try:
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", delete=True)
        probe.close()
        return True
    except FileNotFoundError:
        if not folder.is_dir():
            raise  # the folder was removed meanwhile: not read-only, the load starts again
        return False
    except OSError:
        return False


def _write_source(path: Path, source: str) -> None:
    """Make ``path`` hold ``source``, moving aside whatever else is there."""
    data = source.encode("utf-8")
    fault = _source_fault(path, data)
    if fault is None:
        return
    if fault != "missing":
        _quarantine([path], path.parent, f"the cache entry {path} {fault}", "written again")
    _write_atomically(path, data)


def _source_fault(path: Path, data: bytes) -> str | None:
    """None if ``path`` holds exactly ``data``; else what is wrong with it ("missing" if absent)."""
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except IsADirectoryError:
        return "is a folder, not a file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if existing == data:
        return None
    try:
        existing.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8 text"
    return "does not hold the source its name is the hash of (truncated or altered)"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: into a private temporary file beside it (mode 0600),
    then renamed over ``path``; the temporary file is removed if anything fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


#: The name the cache's own writes call (and its fault tests replace).
_write_atomically = write_atomically


def _execute(path: Path, source: str):
    """Import ``path`` as a module, published in ``sys.modules`` only once it has fully executed."""
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise CodegenError(f"cannot import the generated module {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        # Run the text we generated (equal to the file, checked above), not whatever the file or a
        # stale __pycache__/*.pyc might hold by now; the file is there for Numba's index and tracebacks.
        exec(compile(source, str(path), "exec"), module.__dict__)
    except FileNotFoundError:
        raise  # the file removed meanwhile (Numba's decorators read it): the load starts again
    except Exception as exc:
        raise CodegenError(f"importing the generated module {path} failed: {exc}") from exc
    sys.modules[name] = module  # Numba's cached data refers to the module by name, so it must be importable
    return module


# --- who may write to the cache -------------------------------------------------------------------------------


def _refuse_if_exposed(path: Path, kind: str) -> None:
    """Raise CacheError if a user other than us (or root) can write to ``path``."""
    if not hasattr(os, "getuid"):
        return  # Windows: no POSIX owner or mode bits to check
    st, me = path.stat(), os.getuid()
    # Root may own it: a shared read-only cache is typically root's, and root can write anywhere anyway.
    if st.st_uid not in (me, 0):
        raise CacheError(f"the symopt cache {kind} {path} belongs to another user (uid {st.st_uid}), who could "
                         f"replace the code symopt imports from it; remove it (rm -r {path}) or set "
                         "SYMOPT_CACHE_DIR to a folder of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(f"the symopt cache {kind} {path} can be written by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}), who could replace the code symopt imports from it; "
                         f"run chmod go-w {path} (or symopt.clear_cache()), or set SYMOPT_CACHE_DIR to a folder "
                         "of your own")


def _is_private(path: Path) -> bool:
    st = path.stat()
    return not hasattr(os, "getuid") or (st.st_uid == os.getuid() and not st.st_mode & 0o077)


def _check_entry(path: Path) -> None:
    """Refuse an entry (module, __pycache__, its Numba files) that other users can write to.

    Inside a private folder (ours, mode 0700) nobody else can reach an entry, whatever its own
    bits (Numba writes its files with the umask's mode), so only a shared folder's entries are checked.
    """
    if _is_private(path.parent):
        return
    _refuse_if_exposed(path, "entry")
    pycache = path.parent / "__pycache__"
    if not pycache.is_dir():
        return
    _refuse_if_exposed(pycache, "folder")
    if _is_private(pycache):
        return
    for numba_file in pycache.glob(f"{path.stem}.*"):
        _refuse_if_exposed(numba_file, "entry")
    home = compiled.home_of(path)
    if not home.is_dir():
        return
    _refuse_if_exposed(home, "folder")
    for generation in compiled.generations(home):
        _refuse_if_exposed(generation, "folder")
        for numba_file in generation.iterdir():
            _refuse_if_exposed(numba_file, "entry")


# --- a read-only cache folder -----------------------------------------------------------------------------------


def _has_compiled_code(target: Path, source: str) -> bool:
    """Whether ``target`` holds ``source`` and a published generation of compiled code for this Numba."""
    if _source_fault(target, source.encode("utf-8")) is not None:
        return False
    return any(compiled.usable(g) for g in compiled.generations(compiled.home_of(target)))


def _private_folder() -> Path:
    """This process's temporary cache folder (mode 0700), made on first need and removed at exit."""
    with _LOCK:
        if not _PRIVATE or not _PRIVATE[0].is_dir():
            folder = Path(tempfile.mkdtemp(prefix="symopt-"))
            _PRIVATE[:] = [folder]
            atexit.register(_remove_private, folder, os.getpid())
        return _PRIVATE[0]


def _remove_private(folder: Path, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # a forked child exiting must not remove its parent's folder
        shutil.rmtree(folder, ignore_errors=True)


# --- corrupt entries --------------------------------------------------------------------------------------------


def _quarantine(paths: list, folder: Path, why: str, then: str) -> None:
    """Move ``paths`` into ``folder/corrupt`` (kept for inspection) with a CacheWarning saying why."""
    aside = folder / QUARANTINE
    aside.mkdir(mode=0o700, exist_ok=True)
    tag = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
    for path in paths:
        try:
            os.replace(path, aside / f"{path.name}.{tag}")
        except FileNotFoundError:
            pass  # another process moved it first
        except OSError as exc:
            raise CacheError(f"{why}, and moving it aside failed ({exc.strerror}); remove {path} by hand or "
                             "call symopt.clear_cache()") from exc
    _warn(f"{why}; moved aside to {aside}, {then}")


def _warn(message: str) -> None:
    warn_user(message, CacheWarning)


# --- clearing -----------------------------------------------------------------------------------------------------


def _remove_entries(folder: Path) -> int:
    """Remove what symopt wrote in ``folder``; the bytes freed (a file hard-linked into several generations
    counts once). Files that vanish meanwhile (another process clearing or publishing) are skipped; a folder
    that another process fills while it is removed is left with what it got."""
    if not folder.is_dir():
        return 0
    pycache = folder / "__pycache__"
    doomed = [*folder.glob("symopt_*.py"), *folder.glob("symopt_analysis_*.pickle"), *folder.glob(".symopt_*.tmp"),
              *folder.glob(".probe-*"), folder / QUARANTINE]
    if pycache.is_dir():
        doomed += pycache.glob("symopt_*")
    freed, seen = 0, set()
    for path in doomed:
        try:
            if path.is_dir() and not path.is_symlink():  # a module's compiled code, corrupt/, or a folder in the way
                freed += _tree_size(path, seen)
                _remove_tree(path)
            elif path.is_symlink() or path.exists():
                freed += _size_once(path, seen)
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise CacheError(f"cannot clear the symopt cache folder {folder}: {exc.strerror} ({exc.filename}); "
                             "a read-only cache is cleared by whoever can write to it") from exc
    for empty in (pycache, folder):
        try:
            empty.rmdir()
        except OSError:
            pass  # not empty (other files) or already gone: leave it
    return freed


def _remove_tree(path: Path) -> None:
    def skip_vanished(func, name, exc_info):
        if isinstance(exc_info[1], FileNotFoundError):
            return
        if isinstance(exc_info[1], OSError) and exc_info[1].errno == errno.ENOTEMPTY:
            return  # a process compiling right now put a file in it: that file is its own
        raise exc_info[1]

    shutil.rmtree(path, onerror=skip_vanished)


def _tree_size(folder: Path, seen: set) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += _size_once(Path(root) / name, seen)
            except FileNotFoundError:
                continue
    return total


def _size_once(path: Path, seen: set) -> int:
    st = path.lstat()
    if st.st_nlink > 1:
        if (st.st_dev, st.st_ino) in seen:
            return 0
        seen.add((st.st_dev, st.st_ino))
    return st.st_size
