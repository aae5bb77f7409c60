"""Algebraic equivalence by sympy in a child process with a time limit and a memory cap.

Why a subprocess and not in the web process: sympy can take unbounded time on adversarial input and a thread cannot be
stopped; a child process can be killed. The expressions handed in are already canonical (rebuilt from whitelisted
tokens by `domain/marking.py`)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("sympy_equivalence.py")
# The limit is on the child's CPU time, not the clock: on a busy machine starting Python and importing sympy alone
# can take seconds of waiting, which must not mark a right answer wrong. The clock limit only backs it up.
CPU_LIMIT_SECONDS = 5
WALL_LIMIT_SECONDS = 30
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024


class AlgebraUnavailable(RuntimeError):
    """The check did not finish (timeout, crash): the answer is marked wrong with a message, never run again here."""


def _limit_child() -> None:
    import resource  # POSIX only; imported in the child just before exec

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    # SIGXCPU at the soft limit ends the child (its default action); SIGKILL at the hard one if it got caught.
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS + 1))


def equivalent(a: str, b: str, symbols: tuple[str, ...]) -> bool:
    """Whether canonical expressions `a` and `b` are equal for all values of `symbols`."""
    payload = json.dumps({"a": a, "b": b, "symbols": list(symbols)})
    try:
        done = subprocess.run([sys.executable, "-I", str(SCRIPT)], input=payload, capture_output=True, text=True,
                              timeout=WALL_LIMIT_SECONDS, preexec_fn=_limit_child, check=False)
    except subprocess.TimeoutExpired:
        raise AlgebraUnavailable("That answer took too long to check.") from None
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise AlgebraUnavailable("That answer took too long to check.")
    if done.returncode != 0:
        raise AlgebraUnavailable("That answer could not be checked.")
    return bool(json.loads(done.stdout)["equal"])
