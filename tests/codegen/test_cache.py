"""The code cache: a second process loads compiled code instead of compiling;
threads share one fully loaded module; corrupt entries heal with a warning; a
read-only or unusable folder degrades to one temporary folder per process; a
folder or entry others can write to is refused; clear_cache gives the space back."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import symopt
import symopt.run.shared as shared_module
from symopt.codegen import cache
from symopt.codegen import compiled as numba_files
from symopt.errors import CacheError, CacheWarning, CodegenError

ROOT = Path(__file__).resolve().parents[2]

# The problem SCRIPT solves, also solved in this process by solve_script_problem.
PROBLEM = """
import json, sys, time, warnings
import numpy as np
import symopt
x = np.linspace(0, 1, 50)
obj = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
def solve():
    return symopt.solve(obj, {"x": x, "y": 2 * np.exp(0.5 * x)}, x0={"a": 1.0, "b": 0.0}, progress=False,
                        backend="numba")  # this file is about the compiled code that the cache keeps
"""

SCRIPT = PROBLEM + """
r = solve()
module = sys.modules[r.source_path.stem]
stats = [f.stats for f in vars(module).values() if hasattr(f, "stats") and hasattr(f, "py_func")]
print(json.dumps({"path": str(r.source_path), "success": r.success,
                  "hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
"""

# Two loads in one process whose cache folder cannot be used: the first compiles, the second reuses.
TWICE = """
import json, warnings
import symopt.run.shared as shared_module
from symopt.codegen import cache
source = "from numba import njit\\n@njit(cache=True)\\ndef start(x):\\n    return x + 1.0\\n"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    (first, path), (second, _) = cache.load(source, "tiny"), cache.load(source, "tiny")
value = first.start(1.0)
print(json.dumps({"same": first is second, "path": str(path), "value": value,
                  "indexes": len(list((path.parent / "__pycache__").rglob("g-*/*.nbi"))),
                  "warnings": [str(w.message) for w in caught]}))
"""


def run_python(code: str, cache_dir: Path, prefix: tuple = (), **env) -> dict:
    env = dict(os.environ, SYMOPT_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT), **env)
    out = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def solve_script_problem():
    scope: dict = {}
    exec(PROBLEM, scope)
    return scope["solve"]()


def numba_counts(path: Path) -> tuple:
    """(cache hits, cache misses) summed over the dispatchers of the module loaded from ``path``."""
    stats = [f.stats for f in vars(sys.modules[path.stem]).values() if hasattr(f, "stats") and hasattr(f, "py_func")]
    return sum(sum(s.cache_hits.values()) for s in stats), sum(sum(s.cache_misses.values()) for s in stats)


def new_process(monkeypatch) -> None:
    """Forget the modules this process loaded and its temporary folder, as a fresh process would."""
    monkeypatch.setattr(cache, "_LOADED", {})
    monkeypatch.setattr(cache, "_PRIVATE", [])
    monkeypatch.setattr(shared_module, "_SHARED", OrderedDict())  # nor the problems it built


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A cache folder holding the compiled SCRIPT problem, and what the compiling process reported."""
    folder = tmp_path_factory.mktemp("compiled")
    return folder, run_solver(folder)


def run_solver(cache_dir: Path) -> dict:
    return run_python(SCRIPT, cache_dir)


@pytest.fixture
def warm(compiled, tmp_path, monkeypatch):
    """A private copy of the compiled cache as SYMOPT_CACHE_DIR, in what looks like a new process."""
    folder = tmp_path / "cache"
    shutil.copytree(compiled[0], folder)
    os.chmod(folder, 0o700)
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    new_process(monkeypatch)
    return folder


def test_second_process_loads_from_cache(compiled, tmp_path):
    folder, first = compiled
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)  # a copy in another folder also loads: Numba's index does not name the folder
    second = run_solver(copy)
    assert first["success"] and second["success"]
    assert Path(first["path"]).name == Path(second["path"]).name and Path(second["path"]).parent == copy
    assert first["misses"] > 0  # the first process compiled
    assert second["misses"] == 0 and second["hits"] > 0  # the second only loaded
    assert list((copy / "__pycache__").rglob("g-*/*.nbi"))


# --- threads ------------------------------------------------------------------------------------------------------


def solve_in_threads(objective, data, count: int = 8) -> list:
    barrier, out = threading.Barrier(count), [None] * count

    def work(k):
        barrier.wait()  # all threads ask for the module at once
        try:
            out[k] = symopt.solve(objective, data, x0={"a": 1.0, "b": 0.0}, progress=False, backend="numba")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            out[k] = exc

    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = [repr(r) for r in out if isinstance(r, Exception)]
    assert not failures, failures
    return out


def test_eight_threads_solve_one_problem_cold_then_warm(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))  # cold: nothing compiled here, a constant used nowhere else
    obj = symopt.squared_loss(symopt.Model("a*exp(b*x) + 0.77", "a b"))
    x = np.linspace(0, 1, 50)
    data = {"x": x, "y": 2 * np.exp(0.5 * x) + 0.77}
    cold = solve_in_threads(obj, data)
    assert all(r.success for r in cold)
    assert len({r.source_path for r in cold}) == 1 and cold[0].source_path.parent == tmp_path
    np.testing.assert_allclose([[r.params["a"], r.params["b"]] for r in cold], [[2.0, 0.5]] * 8, rtol=1e-6)
    new_process(monkeypatch)  # warm: the files are there, the module is not loaded yet
    warm = solve_in_threads(obj, data)
    assert all(r.success for r in warm) and {r.source_path for r in warm} == {cold[0].source_path}
    hits, misses = numba_counts(warm[0].source_path)
    assert hits > 0 and misses == 0


def test_threads_get_only_fully_executed_modules(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    source = "import time\ntime.sleep(0.2)  # a slow import, like one that defines many jitted functions\nstart = 1\n"
    barrier, seen = threading.Barrier(8), []

    def work():
        barrier.wait()
        module, _ = cache.load(source, "slow")
        seen.append((id(module), getattr(module, "start", None)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and {s[1] for s in seen} == {1} and len({s[0] for s in seen}) == 1


def test_a_module_that_fails_to_import_is_not_published(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    source = "raise ValueError('broken on purpose')\n"
    with pytest.raises(CodegenError, match="broken on purpose"):
        cache.load(source, "broken")
    assert cache.module_path(source, "broken").stem not in sys.modules


# --- corrupt entries heal -----------------------------------------------------------------------------------------


def start_files(folder: Path, kind: str) -> Path:
    """The Numba index (nbi) or data (nbc) file of the module's ``start`` (which Python calls first), in the
    newest generation of its compiled code."""
    return next(newest_generation(folder).glob(f"symopt_*.start-*.{kind}"))


def newest_generation(folder: Path) -> Path:
    module_file = next(folder.glob("symopt_*.py"))
    return numba_files.generations(numba_files.home_of(module_file))[0]


FAULTS = {
    "invalid utf-8 module": (lambda f: next(f.glob("symopt_*.py")).write_bytes(b"x = '\xff\xfe'\n"),
                             "not valid UTF-8"),
    "module replaced by a folder": (lambda f: _replace_by_folder(next(f.glob("symopt_*.py"))), "is a folder"),
    "truncated index": (lambda f: _truncate(start_files(f, "nbi")), "is damaged.*start.*nbi"),
    "garbage index": (lambda f: start_files(f, "nbi").write_bytes(b"garbage\n" * 20), "is damaged.*start.*nbi"),
    "truncated data": (lambda f: _truncate(start_files(f, "nbc")), "is damaged.*start.*nbc"),
    "garbage data": (lambda f: start_files(f, "nbc").write_bytes(b"not a pickle\n" * 8), "is damaged.*start.*nbc"),
    "a data file removed": (lambda f: start_files(f, "nbc").unlink(), "is damaged.*missing.*start.*nbc"),
    "a file added": (lambda f: (newest_generation(f) / "symopt_x.f-1.py311.nbi").write_bytes(b"x"),
                     "is damaged.*added"),
}


def _replace_by_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("a folder where the module was")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("fault", FAULTS)
def test_corrupt_entry_is_moved_aside_and_regenerated(warm, fault):
    corrupt, message = FAULTS[fault]
    module_file = next(warm.glob("symopt_*.py"))
    good = module_file.read_bytes()
    corrupt(warm)
    with pytest.warns(CacheWarning, match=message):
        r = solve_script_problem()
    assert r.success and r.source_path == module_file and module_file.read_bytes() == good
    assert list((warm / "corrupt").iterdir())  # the bad file kept for inspection, out of the way
    hits, misses = numba_counts(module_file)
    if fault.endswith("module") or fault.endswith("folder"):
        assert misses == 0  # same text, same Numba stamp: the compiled code is still good
    else:
        assert misses >= 1  # compiled again, from scratch, and published as a new generation that checks out
        assert numba_files.fault(newest_generation(warm)) is None


# --- a read-only or unusable cache folder ---------------------------------------------------------------------


def test_read_only_cache_with_compiled_code_is_reused(warm, monkeypatch):
    # We run as root, whom permission bits do not stop: the write probe is what says "read-only".
    monkeypatch.setattr(cache, "_writable", lambda folder: folder != warm)
    before = snapshot(warm)
    first = solve_script_problem()  # no CacheWarning (an error in these tests): reuse is silent
    module = sys.modules[first.source_path.stem]
    hits, misses = numba_counts(first.source_path)
    second = solve_script_problem()
    assert first.success and second.success and first.source_path == second.source_path
    assert first.source_path.parent == warm and not cache._PRIVATE  # loaded from where it is: no copy
    assert hits > 0 and misses == 0  # loaded, not compiled
    assert sys.modules[second.source_path.stem] is module and numba_counts(second.source_path) == (hits, 0)
    assert snapshot(warm) == before  # nothing written to the read-only folder


def test_read_only_cache_with_damaged_compiled_code_is_passed_over(warm, monkeypatch):
    monkeypatch.setattr(cache, "_writable", lambda folder: folder != warm)
    monkeypatch.setattr(numba_files, "_tidy", lambda *args: pytest.fail("a read-only folder was tidied"))
    _truncate(start_files(warm, "nbc"))
    before = snapshot(warm)
    with pytest.warns(CacheWarning, match="is damaged.*start.*nbc.*compiling in a temporary folder"):
        r = solve_script_problem()
    assert r.success and r.source_path.parent == warm
    assert numba_counts(r.source_path)[1] >= 1  # compiled, into this process's temporary folder
    assert list(cache._PRIVATE[0].rglob("g-*/*.nbi"))
    assert snapshot(warm) == before  # nothing moved aside in, or written to, the read-only folder


def read_only_cache(tmp_path, monkeypatch, name: str) -> Path:
    """An empty private cache folder that this (new-looking) process cannot write to."""
    folder = tmp_path / name
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    monkeypatch.setattr(cache, "_writable", lambda f: f != folder)
    new_process(monkeypatch)
    return folder


def test_read_only_cache_without_code_compiles_once_per_process(tmp_path, monkeypatch):
    folder = read_only_cache(tmp_path, monkeypatch, "empty")
    module_text = "def start():\n    return 3\n"
    with pytest.warns(CacheWarning, match="not writable"):
        module, path = cache.load(module_text, "ro")
    again, path_again = cache.load(module_text, "ro")  # no warning: the module is loaded
    with pytest.warns(CacheWarning, match="not writable"):
        other, other_path = cache.load(module_text + "# another\n", "ro")
    assert module is again and path == path_again and module.start() == 3
    assert path.parent == other_path.parent == cache._PRIVATE[0]  # one temporary folder for the process
    assert not list(folder.iterdir())


def test_unusable_cache_folder_compiles_once_and_cleans_up(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = run_python(TWICE, blocker / "cache", TMPDIR=str(tmp_path))
    assert len(out["warnings"]) == 1 and "not writable" in out["warnings"][0]
    assert out["same"] and out["value"] == 2.0 and out["indexes"] == 1  # compiled once, into the temporary folder
    path = Path(out["path"])
    assert path.parent.parent == tmp_path and path.parent.name.startswith("symopt-")
    assert not path.parent.exists()  # the temporary folder went with the process
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def _can_drop_root_privileges() -> bool:
    if os.name != "posix" or os.getuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "true"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_drop_root_privileges(), reason="needs root and setpriv to make a folder truly read-only")
def test_truly_read_only_cache_is_reused_by_another_process(compiled, tmp_path):
    # Without CAP_DAC_OVERRIDE, root is held to the permission bits like any user, so a 0555 folder is read-only.
    folder = tmp_path / "ro"
    shutil.copytree(compiled[0], folder)
    home = tmp_path / "home"  # a user-wide cache Numba cannot write either (it would fall back to one)
    home.mkdir()
    for path in (folder, folder / "__pycache__", home):
        os.chmod(path, 0o555)
    before = snapshot(folder)
    drop = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    try:
        out = run_python(SCRIPT, folder, drop, XDG_CACHE_HOME=str(home), HOME=str(home), TMPDIR=str(tmp_path))
    finally:
        for path in (folder, folder / "__pycache__", home):
            os.chmod(path, 0o755)
    assert out["success"] and out["hits"] > 0 and out["misses"] == 0
    assert snapshot(folder) == before and not list(home.iterdir())
    assert Path(out["path"]).parent == folder  # loaded from where it is, nothing copied or written


# --- who may write to the cache -----------------------------------------------------------------------------------


def test_new_cache_folder_is_private(tmp_path, monkeypatch):
    folder = tmp_path / "deep" / "cache"
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    _, path = cache.load("x = 1\n", "private")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "__pycache__").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o777, 0o757, 0o775])
def test_cache_folder_others_can_write_to_is_refused(tmp_path, monkeypatch, mode):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    with pytest.raises(CacheError, match=rf"written by other users \(mode 0{mode:o}\).*chmod go-w {folder}"):
        cache.load("x = 2\n", "exposed")
    assert not list(folder.iterdir())


@pytest.mark.skipif(os.name != "posix" or os.getuid() != 0, reason="giving a folder to another user needs root")
def test_cache_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    with pytest.raises(CacheError, match="belongs to another user"):
        cache.load("x = 3\n", "theirs")


def test_entry_others_can_write_to_in_a_shared_folder_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)  # readable by all, as a cache shared read-only would be
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    _, path = cache.load("x = 4\n", "entry")
    numba_file = folder / "__pycache__" / f"{path.stem}.f-1.py311.nbi"
    numba_file.write_bytes(b"")
    os.chmod(folder / "__pycache__", 0o755)  # reachable by others too, so its files count
    for exposed in (path, numba_file):
        os.chmod(exposed, 0o646)
        new_process(monkeypatch)
        with pytest.raises(CacheError, match=f"cache entry {exposed} can be written by other users"):
            cache.load("x = 4\n", "entry")
        os.chmod(exposed, 0o644)


def test_entry_bits_in_a_private_folder_are_not_held_against_it(tmp_path, monkeypatch):
    # A umask of 002 makes Numba's files group-writable; in a 0700 folder nobody else can reach them.
    folder = tmp_path / "mine"
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    _, path = cache.load("x = 5\n", "mine")
    os.chmod(path, 0o666)
    new_process(monkeypatch)
    module, _ = cache.load("x = 5\n", "mine")
    assert module.x == 5


def test_a_disk_that_fails_everywhere_is_a_cache_error(tmp_path, monkeypatch):
    # The cache folder degrades to the temporary folder (tests/system/test_cache_faults.py); if that fails too, say so.
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))

    def full(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(cache, "_write_atomically", full)
    with pytest.warns(CacheWarning, match="cannot take the generated module"), \
            pytest.raises(CacheError, match="No space left on device.*clear_cache"):
        cache.load("w = 1\n", "full")


# --- clear_cache --------------------------------------------------------------------------------------------------


def test_clear_cache_removes_only_what_symopt_wrote(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(folder))
    new_process(monkeypatch)
    _, path = cache.load("y = 1\n", "clear")
    (folder / "__pycache__" / f"{path.stem}.f-1.py311.nbi").write_bytes(b"i" * 100)
    (folder / "__pycache__" / f"{path.stem}.f-1.py311.1.nbc").write_bytes(b"d" * 1000)
    (folder / "corrupt").mkdir()
    (folder / "corrupt" / f"{path.name}.20250101").write_bytes(b"c" * 10)
    (folder / "notes.txt").write_text("the user's own file")
    expected = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != "notes.txt")
    assert symopt.clear_cache() == expected
    assert sorted(p.name for p in folder.rglob("*")) == ["notes.txt"]
    module, again = cache.load("y = 1\n", "clear")  # forgotten: written again
    assert again.is_file() and module.y == 1
    (folder / "notes.txt").unlink()
    symopt.clear_cache()
    assert not folder.exists()  # nothing else was in it
    assert symopt.clear_cache() == 0


def test_clear_cache_removes_the_temporary_folder(tmp_path, monkeypatch):
    read_only_cache(tmp_path, monkeypatch, "ro")
    with pytest.warns(CacheWarning, match="not writable"):
        _, path = cache.load("z = 1\n", "tmp")
    assert symopt.clear_cache() == len("z = 1\n") and not path.parent.exists()


def test_cache_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path / "x"))
    assert cache.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("SYMOPT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache.cache_dir() == tmp_path / "xdg" / "symopt"


def test_a_new_process_takes_the_rendered_module_from_the_cache_folder(tmp_path, monkeypatch):
    """The sources of a generated module are kept on disk under the problem's structure (and the templates'
    contents): a problem solved before is neither printed nor rendered again (0.26 s of a warm start)."""
    from symopt.run import shared

    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c*x", "a b c"))
    x = np.linspace(0.0, 2.0, 30)
    data = {"x": x, "y": 2.0 * np.exp(-1.1 * x) + 0.3 * x}
    first = symopt.solve(objective, data, backend="python", progress=False)
    shared.clear_problems()  # as in a new process: nothing kept in memory
    monkeypatch.setattr(shared, "render", lambda *args, **kwargs: pytest.fail("rendered again"))
    again = symopt.solve(objective, data, backend="python", progress=False)
    assert np.array_equal(again.x, first.x) and again.source == first.source
    shared.clear_problems()
    other = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c*x**2", "a b c"))  # another structure: rendered
    with pytest.raises(pytest.fail.Exception, match="rendered again"):
        symopt.solve(other, data, backend="python", progress=False)
    shared.clear_problems()


# --- generations of compiled code: what is kept ------------------------------------------------------------------


def fake_generation(home: Path, when: int, tag: str, age_days: float = 0.0) -> Path:
    generation = home / f"g-{numba_files.flavour()}-{when:020d}-1-{tag}"
    generation.mkdir(parents=True)
    (generation / numba_files.MANIFEST).write_text('{"files": {}}')
    stamp = time.time() - age_days * 86400
    os.utime(generation, (stamp, stamp))
    return generation


def test_a_reader_takes_the_newest_generation_and_removes_day_old_older_ones(tmp_path):
    module_file = tmp_path / "symopt_x_1.py"
    module_file.write_text("x = 1\n")
    home = numba_files.home_of(module_file)
    old, recent, newest = (fake_generation(home, 1, "old", 2.0), fake_generation(home, 2, "recent"),
                           fake_generation(home, 3, "newest"))
    entry = numba_files.choose(module_file, True, None, [])
    assert entry.role == "reader" and entry.folder == newest
    assert not old.exists() and recent.exists()  # a recent one may be in use by a process that runs


def test_a_process_compiling_afresh_removes_leftovers_of_processes_that_have_gone(tmp_path):
    module_file = tmp_path / "symopt_x_2.py"
    module_file.write_text("x = 2\n")
    home = numba_files.home_of(module_file)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    leftovers = [home / f".stage-{dead}-abcd", home / f".g-{numba_files.flavour()}-5-{dead}-abcd.tmp"]
    alive = home / f".stage-{os.getppid()}-abcd"  # a process that runs (pytest's parent): kept
    incomplete = fake_generation(home, 4, "incomplete")
    (incomplete / numba_files.INCOMPLETE).touch()
    for folder in [*leftovers, alive]:
        folder.mkdir(parents=True)
    loose = home.parent / f"{module_file.stem}.f-1.py311.nbi"  # the layout before generations
    loose.write_bytes(b"old")
    entry = numba_files.choose(module_file, True, None, [])
    assert entry.role == "publisher" and entry.home == home
    assert alive.exists() and not incomplete.exists() and not loose.exists()
    assert not any(p.exists() for p in leftovers)
