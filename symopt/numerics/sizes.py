"""Sizes a user sets (gradient-check directions, L-BFGS's memory, a layer's width, convexity samples, a run's
state) checked against the memory the machine has, before anything of that size is allocated; and the whole
numbers (counts, seeds) they are given as.

A size that is positive but too large for the machine used to fail late: NumPy's raw ``MemoryError`` (after
minutes, for ``convexity(samples=10**12)``), or a run that filled the memory (a network of ten ``Dense(4096)``
layers trained by L-BFGS keeps 22.5 GiB of curvature pairs). Here the bytes a request needs are estimated from
the arrays its size sets (a lower bound: the arrays that grow with the size, 8 bytes a float) and compared with
what the machine has available now (:func:`available_bytes`); a request above it is refused with a
:class:`~symopt.errors.ModelError` that says what it would need, what is available and what fits.
"""

from __future__ import annotations

import numbers
import os

from ..errors import ModelError

#: Bytes of one float64.
FLOAT = 8
#: Bytes one small NumPy array costs beside its data (``sys.getsizeof(np.zeros(0))`` is 112 with NumPy 2 on
#: 64-bit Linux) plus its slot in a list: what each of many small vectors kept in a list costs.
ARRAY_OVERHEAD = 120
#: Where the available memory cannot be read (no /proc/meminfo, no ``os.sysconf`` figures), requests above
#: this many bytes (1 TiB) are refused: more than the machines symopt runs on have, so nothing that could run is
#: refused, and the sizes that can only fail (10**12 of anything) still fail here rather than deep in NumPy.
UNKNOWN_AVAILABLE = 2 ** 40
#: Requests below this many bytes (256 MiB) are not checked: reading the memory available costs 0.2 to 0.4 ms
#: (measured with timeit on a loaded 2-core machine: /proc/meminfo and a cgroup v1 limit file, about 0.1 ms
#: each), as much as a small solve (0.57 ms for logistic regression on 500 x 5), and any machine symopt runs
#: on has that much free.
CHECKED_FROM = 2 ** 28
#: cgroup (v2, then v1) files that limit a container's memory below the machine's.
_CGROUP_LIMITS = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _meminfo_available() -> int | None:
    """MemAvailable of /proc/meminfo (Linux: free memory plus what the page cache can give back), in bytes."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available() -> int | None:
    """Free physical pages times the page size (``os.sysconf``; macOS and the BSDs have no MemAvailable)."""
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return None
    return pages * size if pages > 0 and size > 0 else None


def _cgroup_room() -> int | None:
    """What a memory-limited container (cgroup) has left: its limit minus its use; None where there is none."""
    for limit_file, usage_file in _CGROUP_LIMITS:
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            if not (limit.isdigit() and int(limit) < 2 ** 60):  # "max" (v2) or a huge number (v1): no limit
                continue
            with open(usage_file, encoding="ascii") as f:  # read only under a limit: it costs 0.3 ms on v1
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        return max(int(limit) - usage, 0)
    return None


def available_bytes() -> int | None:
    """The memory available to this process now, in bytes: /proc/meminfo's MemAvailable (else free pages from
    ``os.sysconf``), lowered to what a memory-limited container has left; None where none of these can be
    read."""
    found = _meminfo_available()
    if found is None:
        found = _sysconf_available()
    room = _cgroup_room()
    if room is not None:
        found = room if found is None else min(found, room)
    return found


def shown_bytes(nbytes: float) -> str:
    """``nbytes`` in binary units: "512 bytes", "3.2 MiB", "22.5 GiB", "14.6 TiB"."""
    if nbytes < 1024:
        return f"{nbytes:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        nbytes /= 1024
        if nbytes < 1024 or unit == "EiB":
            break
    return f"{nbytes:.3g} {unit}"


def check_fits(nbytes: float, what: str, advice="") -> None:
    """Refuse ``what`` (words: "check_gradient with directions=10**12") when its ``nbytes`` exceed the memory
    available (:func:`available_bytes`; :data:`UNKNOWN_AVAILABLE` where that cannot be read; requests below
    :data:`CHECKED_FROM` pass unread); ``advice`` (words, or a function giving them, called only on a refusal)
    says what fits instead."""
    if nbytes < CHECKED_FROM:
        return
    have = available_bytes()
    limit = UNKNOWN_AVAILABLE if have is None else have
    if nbytes <= limit:
        return
    if callable(advice):
        advice = advice()
    where = (f"more than the {shown_bytes(have)} this machine has available now" if have is not None else
             f"more than the {shown_bytes(limit)} symopt allows where it cannot read the memory available")
    raise ModelError(f"{what} would need at least {shown_bytes(nbytes)} of memory, {where}"
                     + (f"; {advice}" if advice else ""))


def most_that_fit(bytes_each: float, fixed: float = 0.0) -> int:
    """How many items of ``bytes_each`` fit in the memory available beside ``fixed`` bytes (at least 0)."""
    have = available_bytes()
    limit = UNKNOWN_AVAILABLE if have is None else have
    return max(int((limit - fixed) // max(bytes_each, 1)), 0)


def whole_number(owner: str, name: str, value, minimum: int = 1, meaning: str = "") -> int:
    """``value`` as a Python int, or a ModelError naming ``owner``'s argument ``name``, what it got and what it
    takes (a whole number of at least ``minimum``; NumPy integers are whole numbers, True and 2.0 are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ModelError(f"{owner}: {name} must be a whole number >= {minimum}{f' ({meaning})' if meaning else ''}, "
                         f"got {value!r}")
    return int(value)


def check_seed(owner: str, seed) -> None:
    """Refuse a ``seed`` for NumPy's Generator that is not a whole number >= 0 or None (fresh randomness), naming
    ``owner`` (the function it was given to); NumPy's own errors name neither."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ModelError(f"{owner}: seed must be a whole number >= 0 (or None for fresh randomness), got {seed!r}")


def check_count(owner: str, name: str, value, bytes_each: float, fixed: float = 0.0, minimum: int = 1,
                meaning: str = "") -> int:
    """A count (:func:`whole_number`) whose items cost ``bytes_each`` bytes each (beside ``fixed``), refused where
    they would not fit in memory (:func:`check_fits`, saying how many would)."""
    count = whole_number(owner, name, value, minimum, meaning)
    check_fits(fixed + count * bytes_each, f"{owner} with {name}={count:,}",
               lambda: f"at most {most_that_fit(bytes_each, fixed):,} fit")
    return count


#: What to do instead where a run of the optimizer (by class name) does not fit.
_RUN_ADVICE = {"LBFGS": "lower LBFGS(memory=...) (it keeps 2 x memory vectors of {p:,} parameters)",
               "Newton": "Newton forms the p x p Hessian: use LBFGS()",
               "LevenbergMarquardt": "Levenberg-Marquardt forms the (rows + p) x p Jacobian: use LBFGS()",
               "ProjectedLevenbergMarquardt": "Levenberg-Marquardt forms the (rows + p) x p Jacobian: use LBFGS()"}
_OTHER_ADVICE = "use a smaller model, or an optimizer with less state (GradientDescent keeps none)"


def run_bytes(optimizer, p: int, n: int, state=None, model=None) -> float:
    """The bytes an iterative run of ``optimizer`` on ``p`` parameters and ``n`` rows allocates that grow with
    them (a lower bound): the parameters, the gradient, the optimizer's state (``state``: ``(floats, ints)``,
    else ``optimizer.state_size(p, n)``) and the work arrays of its generated loop
    (``optimizer.work_size(p, n)``), and for a network (``model`` with ``work_size(rows)``) the forward and
    backward pass's arrays."""
    floats, ints = optimizer.state_size(p, n) if state is None else state
    total = 2 * p + floats + ints + optimizer.work_size(p, n)
    if model is not None and hasattr(model, "work_size"):
        total += model.work_size(n)
    return float(total) * FLOAT


def check_run(optimizer, p: int, n: int, state=None, model=None, what: str | None = None) -> None:
    """Refuse an iterative run whose arrays (:func:`run_bytes`) would not fit in memory, before they are
    allocated: called by :func:`symopt.run.loop.run_iterative` (every run) and :func:`symopt.run.epochs.load` (before a
    network's module is compiled, on one row: the least a run can have). ``what``: the run in words."""
    nbytes = run_bytes(optimizer, p, n, state, model)
    name = type(optimizer).__name__
    hint = _RUN_ADVICE.get(name, _OTHER_ADVICE).format(p=p)
    if model is not None and hasattr(model, "work_size"):
        hint += "; or a smaller network"
    check_fits(nbytes, what or f"{name} on {p:,} parameters and {n:,} rows", hint)

