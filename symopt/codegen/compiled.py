"""Numba's compiled code of one cache entry: compiled by one process from scratch, published whole, checked
before it is loaded.

Numba's ``cache=True`` writes, per function, an index (``.nbi``) and data files (``.nbc``), one function at
a time as each is compiled, into one folder that every process reads and writes. Three things then go
wrong (each was seen: a Ctrl-C during a compile left a cache that made every later process crash):

- a function compiled in a process that *loaded* the functions it calls from the cache is saved without
  their ``reload_init`` (Numba keeps it only for libraries compiled in the same process: numba#9950), so a
  later process that loads it and calls it first jumps into a parallel backend that was never started:
  a segmentation fault. An interrupted compile is the common way to get there (the next process loads
  what was saved and compiles the rest), but any process that compiles a function the cache lacks does it;
- an interrupt between Numba's index and data writes leaves an index naming a data file that is not
  there, or (two processes writing one function's files) one overload's data paired with another's index;
- a reader checks files that another process replaces before Numba reads them (Numba reads lazily, at a
  function's first call).

So symopt gives Numba a folder per process and role (a cache locator, consulted first, that answers for
symopt's modules only):

- a process that finds no usable *generation* of the entry compiles every function it calls from scratch
  into a private staging folder, and after each function is saved publishes the staging folder's files
  as a new generation: hard links (Numba replaces its files, never rewrites them, so a link keeps what it
  was) gathered in a folder that gets its final name, by an atomic rename, only once its manifest (every
  file's size and SHA-256) is written beside them. A generation is never changed after that;
- a process that finds generations checks the newest against its manifest (a damaged one is moved aside
  with a :class:`~symopt.errors.CacheWarning`), has Numba load from it, and never writes to it: a
  function the generation lacks is compiled in memory for this process only, and the generation is
  marked ``incomplete`` so that the next process compiles a complete one from scratch;
- a save that fails (a full disk, the folder removed by :func:`symopt.clear_cache` meanwhile) never
  escapes: the folder is made again, else this process's temporary folder takes the compiled code with
  a CacheWarning, else the code stays in memory. A Ctrl-C that Numba's object-code hook swallowed (it is
  a ctypes callback, which drops exceptions) is raised again as ``KeyboardInterrupt``, not as Numba's
  ``RuntimeError: no compiled object yet``.

Layout, in the cache folder's ``__pycache__``: ``<module stem>/g-<flavour>-<time>-<pid>-<random>/`` for
each generation (the flavour names the Numba and Python versions and the machine, which Numba's files
are only good for), ``.stage-<pid>-<random>/`` for a compiling process and ``.g-...tmp`` for a generation
being assembled; both are removed when their process has gone.

It is one module past 400 lines because its protocol is one argument about locks and files (compiled by one
process, published whole, checked before it is loaded) together with the hooks of Numba's cache it overrides;
split, the invariants would span files.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CacheWarning, warn_user
from . import interrupts

MANIFEST = "manifest.json"  # in a generation: its files' sizes and SHA-256, written before it is named
INCOMPLETE = "incomplete"  # in a generation: a process had to compile a function it lacks
#: Leftovers (staging folders, half-assembled generations) of a process that cannot be probed for life
#: (not POSIX, or another user's) are removed after this many seconds: far beyond any compile (minutes).
STALE_SECONDS = 24 * 3600.0
#: Times a save is tried again when its folder vanished (symopt.clear_cache elsewhere) before this process
#: keeps its compiled code in its temporary folder instead.
SAVE_RETRIES = 3

# Errors of os.link that a copy would meet too (no room, or the file gone): anything else means no hard links.
_NO_LINK_NEEDED = {errno.ENOSPC, errno.ENOENT, getattr(errno, "EDQUOT", errno.ENOSPC)}

_FOLDERS: dict = {}  # module file (as its code objects name it) -> _Entry whose folder Numba uses for it
_INSTALL_LOCK = threading.Lock()
_LOCATOR: list = []  # the locator class, once install() has made it (it subclasses Numba's, imported late)


def _reset_lock_in_child() -> None:
    global _INSTALL_LOCK  # a thread of the parent may have held it at the fork
    _INSTALL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


@dataclass
class _Entry:
    """One loaded module's compiled code: where Numba reads and writes it, and in which role."""

    stem: str
    key: str  # the module file as its code objects name it (the key of _FOLDERS)
    home: Path  # the entry's folder in a cache folder's __pycache__: generations and staging live here
    role: str  # "reader" (a generation, read only), "publisher" (staging, published after each save), "off"
    folder: Path  # what Numba uses: the generation read from, or the staging folder
    fallback: object = None  # () -> a private folder for this process, where a failing cache folder degrades to
    pid: int = field(default_factory=os.getpid)
    published: Path | None = None  # the generation this publisher published last
    digests: dict = field(default_factory=dict)  # (inode, size, mtime) -> SHA-256 of the staged files hashed
    caches: list = field(default_factory=list)  # the _GuardedCache of each function of the module
    marked: bool = False  # a reader marked its generation incomplete

    @property
    def owned(self) -> bool:
        """Whether this process made the entry (a forked child has its parent's: it neither saves nor marks)."""
        return os.getpid() == self.pid


# --- choosing a role, before the module is executed ----------------------------------------------------------


@functools.lru_cache(maxsize=1)
def flavour() -> str:
    """What Numba's files are good for: its version, this Python's and the machine (8 hex digits)."""
    text = f"{importlib.metadata.version('numba')}|{sys.implementation.cache_tag}|{platform.machine()}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def home_of(module_file: Path) -> Path:
    """The entry folder of ``module_file``: ``__pycache__/<stem>`` beside it."""
    return module_file.parent / "__pycache__" / module_file.stem


def generations(home: Path) -> list:
    """The published generations of this flavour in ``home``, newest first."""
    try:
        found = [p for p in home.iterdir() if p.name.startswith(f"g-{flavour()}-") and p.is_dir()]
    except OSError:  # no folder (nothing compiled yet) or unreadable: nothing to load
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)


def usable(generation: Path) -> bool:
    """Quick look (no hashing): published, and not marked incomplete."""
    return (generation / MANIFEST).is_file() and not (generation / INCOMPLETE).exists()


def fault(generation: Path) -> str | None:
    """What is wrong with ``generation`` against its manifest (a file missing, added, resized or changed);
    None if nothing. Reads every file once (about 1 ms per MB). Raises FileNotFoundError if the generation
    vanishes meanwhile (removed by another process: nothing is wrong with it, it is just gone)."""
    try:
        listed = json.loads((generation / MANIFEST).read_text())["files"]
        present = {p.name for p in generation.iterdir()} - {MANIFEST, INCOMPLETE}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"its manifest cannot be read ({type(exc).__name__})"
    if present != set(listed):
        extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        return f"files {'added: ' + ', '.join(extra) if extra else 'missing: ' + ', '.join(missing)}"[:200]
    for name, (size, digest) in sorted(listed.items()):
        try:
            data = (generation / name).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror})"
        if len(data) != size:
            return f"{name} has {len(data)} bytes, {size} were written"
        if hashlib.sha256(data).hexdigest() != digest:
            return f"{name} differs from what was written (its SHA-256)"
    return None


def choose(module_file: Path, writable: bool, fallback, bad: list) -> _Entry:
    """The role this process takes for the module at ``module_file``, whose compiled code lives in the entry
    folder beside it (:func:`home_of`), or, where that folder cannot be written (``writable`` false), in
    the one beside ``fallback() / module_file.name``. Damaged generations found on the way are appended to
    ``bad`` as ``(path, what is wrong)`` for the caller to move aside. Registers the entry for the locator."""
    stem, home, seen = module_file.stem, home_of(module_file), []
    found = generations(home)
    for k, generation in enumerate(found):
        if not usable(generation):
            seen.append(generation)
            continue
        problem = fault(generation)
        if problem is None:
            entry = _Entry(stem, str(module_file), home, "reader", generation, fallback)
            if writable:  # older ones, left by processes that compiled at the same time, once a day old
                for older in found[k + 1:]:
                    if _age(older) > STALE_SECONDS:
                        shutil.rmtree(older, ignore_errors=True)
            break
        bad.append((generation, problem))
    else:
        if writable:
            _tidy(home, seen)
        else:
            home = home_of(fallback() / module_file.name)
        # The staging folder is made at the first save (a module without Numba functions never makes one).
        staging = home / f".stage-{os.getpid()}-{os.urandom(4).hex()}"
        entry = _Entry(stem, str(module_file), home, "publisher", staging, fallback)
        atexit.register(_drop, entry.folder, entry.pid)
    _FOLDERS[entry.key] = entry
    return entry


def _tidy(home: Path, incomplete: list) -> None:
    """Before compiling afresh: remove the ``incomplete`` generations (a reader that still uses one compiles
    what it can no longer load, in memory), the staging folders and half-assembled generations of
    processes that have gone, and the module's Numba files in the layout before generations (loose in
    ``__pycache__``, never read now)."""
    for generation in incomplete:
        shutil.rmtree(generation, ignore_errors=True)
    for loose in home.parent.glob(f"{home.name}.*.nb[ic]"):
        with contextlib.suppress(OSError):
            loose.unlink()
    try:
        leftovers = [p for p in home.iterdir() if p.name.startswith((".stage-", ".g-"))]
    except OSError:
        return
    for path in leftovers:
        if _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)


def _abandoned(path: Path) -> bool:
    """Whether the process named in a staging or assembly folder's name (``...-<pid>-<random>``) has gone."""
    try:
        pid = int(path.name.removesuffix(".tmp").split("-")[-2])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return False
    if os.name == "posix":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive but not ours to signal
            pass
    return _age(path) > STALE_SECONDS


def _age(path: Path) -> float:
    """Seconds since ``path`` last changed (0 if it is gone: nothing to remove)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _drop(folder: Path, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # a forked child exiting must not remove its parent's staging folder
        shutil.rmtree(folder, ignore_errors=True)


# --- after the module is executed ----------------------------------------------------------------------------


def attach(module, entry: _Entry) -> None:
    """Put every cached Numba function of ``module`` under ``entry``'s rules (see the module docstring)."""
    if "numba.core.dispatcher" not in sys.modules:
        return  # a module that does not use Numba (the interpreted twin): nothing compiled to look after
    from numba.core.caching import FunctionCache, NullCache
    from numba.core.dispatcher import Dispatcher

    install()
    foreign = []
    for name, value in vars(module).items():
        if not isinstance(value, Dispatcher) or not isinstance(value._cache, FunctionCache):
            continue  # not cached, or attached already
        inner = value._cache
        if not isinstance(inner._impl.locator, _LOCATOR[0]):  # made before install(): ask the locators again
            inner = FunctionCache(value.py_func)
        if not isinstance(inner._impl.locator, _LOCATOR[0]):  # NUMBA_CACHE_LOCATOR_CLASSES overrides ours
            value._cache = NullCache()
            foreign.append(name)
            continue
        guarded = _GuardedCache(inner, value.py_func, entry)
        entry.caches.append(guarded)
        value._cache = guarded
    if foreign:
        warn_user(f"NUMBA_CACHE_LOCATOR_CLASSES is set, so symopt cannot keep the compiled code of {module.__name__} "
                  "where it can check it: it is compiled in memory for this process (unset it to keep compiled "
                  "code)", CacheWarning)


def install() -> None:
    """Put a locator of symopt's first in Numba's list of cache locators (once per process). It answers only for
    modules registered by :func:`choose`; every other function gets Numba's own locators."""
    with _INSTALL_LOCK:
        if _LOCATOR:
            return
        from numba.core.caching import CacheImpl, _CacheLocator, _SourceFileBackedLocatorMixin

        class Locator(_SourceFileBackedLocatorMixin, _CacheLocator):
            """The folder symopt chose for a module's functions: a generation, or this process's staging."""

            def __init__(self, py_func, py_file, entry: _Entry):
                self._py_file = py_file
                self._lineno = py_func.__code__.co_firstlineno
                self._entry = entry

            def ensure_cache_path(self):
                # Numba calls this before each save: make the staging folder (again, if it was removed).
                # A generation is never written to (a reader's saves are dropped before they get here).
                if self._entry.role == "publisher":
                    os.makedirs(self._entry.folder, mode=0o700, exist_ok=True)

            def get_cache_path(self):
                return str(self._entry.folder)

            @classmethod
            def from_function(cls, py_func, py_file):
                entry = _FOLDERS.get(py_file)
                return None if entry is None else cls(py_func, py_file, entry)

        CacheImpl._locator_classes.insert(0, Locator)
        _LOCATOR.append(Locator)
        interrupts.install()


class _GuardedCache:
    """A Numba function's cache under its entry's rules: a reader only loads (and marks its generation
    incomplete when it has to compile), a publisher saves into its staging folder and publishes; no
    failure to save escapes from a compile."""

    def __init__(self, inner, py_func, entry: _Entry):
        self.inner, self.py_func, self.entry = inner, py_func, entry

    @property
    def cache_path(self):
        return self.inner.cache_path

    def enable(self):
        self.inner.enable()

    def disable(self):
        self.inner.disable()

    def flush(self):
        pass  # Numba flushes (writes an empty index) only to recompile; a generation must stay as published

    def load_overload(self, sig, target_context):
        with interrupts.guarded():  # Numba's first read sets up its runtime, which compiles
            return self._load_overload(sig, target_context)

    def save_overload(self, sig, data):
        with interrupts.guarded():
            self._save_overload(sig, data)

    def _load_overload(self, sig, target_context):
        entry = self.entry
        if entry.role == "off":
            return None
        try:
            found = self.inner.load_overload(sig, target_context)
        except Exception as exc:  # noqa: BLE001 - whatever Numba fails on, compiling again is the cure
            found = None
            warn_user(f"the compiled code of {entry.stem} in {entry.folder} could not be loaded "
                      f"({type(exc).__name__}: {str(exc)[:120]}); compiling it again", CacheWarning)
        if found is None and entry.role == "reader":
            _mark_incomplete(entry)
        return found

    def _save_overload(self, sig, data):
        entry = self.entry
        if entry.role != "publisher" or not entry.owned:
            return
        try:
            self.inner.save_overload(sig, data)
        except RuntimeError as exc:
            if str(exc).startswith("no compiled object yet"):
                # Numba's hook that keeps the object code is a ctypes callback: a Ctrl-C that lands in it is
                # printed and dropped, and the code is missing when it is saved. The user asked to stop.
                raise KeyboardInterrupt from None
            raise
        except OSError as exc:
            _save_failed(entry, exc, lambda: self.inner.save_overload(sig, data))
            return
        _publish_or_degrade(entry)


def _mark_incomplete(entry: _Entry) -> None:
    if entry.marked or not entry.owned:
        return
    entry.marked = True
    try:
        (entry.folder / INCOMPLETE).touch()
    except OSError:
        pass  # a read-only or removed generation: the next process compiles what it lacks too, in memory


# --- publishing ----------------------------------------------------------------------------------------------


def _save_failed(entry: _Entry, exc: OSError, retry) -> None:
    """A save into the staging folder failed: make the folder again if it was removed (symopt.clear_cache
    from another thread or process), else move this entry's staging to the process's temporary folder."""
    for _ in range(SAVE_RETRIES):
        if not isinstance(exc, FileNotFoundError):
            break
        try:
            retry()  # the locator makes the folder again first
            _publish_or_degrade(entry)
            return
        except OSError as again:
            exc = again
    _degrade(entry, exc, retry)


def _publish_or_degrade(entry: _Entry) -> None:
    try:
        publish(entry)
    except FileNotFoundError:
        pass  # the staging or entry folder was removed meanwhile (clear_cache): the next save makes it again
    except OSError as exc:
        _degrade(entry, exc, None)


def _degrade(entry: _Entry, exc: OSError, retry) -> None:
    """Keep compiling into this process's temporary folder (a CacheWarning says why); if that fails too,
    keep the compiled code in memory only."""
    private = None
    if entry.fallback is not None:
        try:
            private = entry.fallback()
        except OSError:
            private = None
    if private is not None and not entry.home.is_relative_to(private):
        warn_user(f"the symopt cache folder {entry.home.parent.parent} cannot take compiled code "
                  f"({exc.strerror or exc}); this process keeps it in a temporary folder (free some space, "
                  "symopt.clear_cache(), or set SYMOPT_CACHE_DIR to another folder)", CacheWarning)
        shutil.rmtree(entry.folder, ignore_errors=True)  # give back what it took
        entry.home = private / "__pycache__" / entry.stem
        entry.folder = entry.home / f".stage-{os.getpid()}-{os.urandom(4).hex()}"
        entry.published, entry.digests = None, {}
        atexit.register(_drop, entry.folder, entry.pid)
        try:
            _FOLDERS[entry.key] = entry  # (a later load of the same file may have registered another entry)
            for cache in entry.caches:  # Numba's index file object knows its folder: make it anew
                cache.inner = type(cache.inner)(cache.py_func)
            if retry is not None:
                retry()
            publish(entry)
            return
        except OSError as again:
            exc = again
    warn_user(f"the compiled code of {entry.stem} cannot be kept on disk ({exc.strerror or exc}): it is "
              "compiled in memory for this process", CacheWarning)
    entry.role = "off"


def publish(entry: _Entry) -> None:
    """Publish the staging folder's Numba files as a new generation (see the module docstring) and remove
    the one this process published before."""
    staged = sorted(p for p in entry.folder.iterdir() if p.name.endswith((".nbi", ".nbc")))
    name = f"g-{flavour()}-{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"
    assembly = entry.home / f".{name}.tmp"
    assembly.mkdir(mode=0o700)
    try:
        listed = {}
        for path in staged:
            link = assembly / path.name
            try:
                os.link(path, link)
            except OSError as exc:
                if exc.errno in _NO_LINK_NEEDED:
                    raise
                shutil.copyfile(path, link)  # no hard links on this file system
            listed[path.name] = [link.stat().st_size, _digest(entry, link)]
        (assembly / MANIFEST).write_text(json.dumps({"stem": entry.stem, "files": listed}, indent=1))
        final = entry.home / name
        os.rename(assembly, final)  # the generation appears complete, or not at all
    except BaseException:
        shutil.rmtree(assembly, ignore_errors=True)
        raise
    previous, entry.published = entry.published, final
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _digest(entry: _Entry, path: Path) -> str:
    st = path.stat()
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    found = entry.digests.get(key)
    if found is None:
        found = entry.digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
