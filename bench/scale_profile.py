"""cProfile of every thread of ``python -m MODULE ARGS...``, merged into one stats file.

    python bench/scale_profile.py OUT.prof mlspec apply --env local --auto-approve mlproject.yaml

``python -m cProfile`` profiles the main thread only, and ``mlspec apply`` carries out each resource
(provider call and state write) on a thread pool: its profile would show the main thread waiting
and none of the work. Here every ``threading.Thread`` gets a profiler of its own for as long as it
runs, and all of them are added to the main thread's at exit. Cumulative times of a pool thread's
``run`` include the time it waited for work. Exits with the module's own exit status.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
from typing import Any


def _profile_every_thread(profiles: list[cProfile.Profile]) -> None:
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]


def _merged(main: cProfile.Profile, threads: list[cProfile.Profile]) -> pstats.Stats:
    stats = pstats.Stats(main)
    for profile in threads:
        try:
            stats.add(profile)
        except TypeError:  # a thread that recorded no call: pstats refuses empty profiles
            continue
    return stats


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, module, *args = sys.argv[1:]
    threads: list[cProfile.Profile] = []
    _profile_every_thread(threads)
    sys.argv = [module, *args]
    exit_code: Any = 0
    profile = cProfile.Profile()
    profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stopped:
        exit_code = stopped.code
    finally:
        profile.disable()
        _merged(profile, threads).dump_stats(out)
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
