"""When the run stream reads a run's status next: its age, and its own predicted end.

How often the status is read follows the run's age (``poll_interval``): every 10 ms in its
first tenth of a second and every 25 ms in the rest of its first second, so a short run's end
is seen within milliseconds, backing off to 200 ms by its fifth second (about 115 reads in 5 s,
then 5 a second) and to one a second for runs of minutes, so a long run (one waiting hours for
a human) costs the durable backend one status read a second per open stream.
While a young run's end is still far off, as its own progress predicts it (the status counts its
nodes: at the rate they have finished so far, the rest take ``age * unfinished / finished``), the
next read comes after half that time, and at most 0.1 s later (``next_read``, ADR 0044): each
read is an HTTP request the host serves to itself (1.2 to 1.6 ms of the event loop's CPU), and
a chain of 100 agents was read a dozen times before its last nodes ran. Once a read finds
every node finished, the run's own last steps (its index entry, its callbacks) take a few
milliseconds, and once the predicted end is due before the next read would come, it is near
too: the status is read every 5 ms then (or at the predicted end, if later), for at most a
quarter of a second (a last node slower than the others, or a re-plan, ends that). A read
never waits less than four times what the last one cost, so a large run's reads take at most a
fifth of the host. The reads come at this pace on Azure and on the embedded host alike.

A host in this process that ends the run cuts the pause short (``_stream_wake``, ADR 0049):
its end is then seen within a millisecond or so of its commit instead of at the next read. The
pace stays as it is, because that host may not be the one that runs the run (several hosts on
one store), and on Azure nothing tells the stream.
"""

from __future__ import annotations

from collections.abc import Mapping

from convergio.graph import TERMINAL

__all__ = ["COST_SHARE", "ENDING_FOR_S", "ENDING_S", "AHEAD", "next_read", "poll_interval", "time_left"]

_INSTANT_S = 0.01
"""The interval in a run's first tenth of a second (``_FIRST_S``): a small run of quick agents ends there."""
_FIRST_S = 0.1
_FAST_S = 0.025
"""The interval in the rest of a run's first second (``_QUICK_S``)."""
_QUICK_S = 1.0
_POLL_S = 0.2
"""The interval from a run's ``_SETTLED_S``-th second (the only interval before issue 22)."""
_SETTLED_S = 5.0
_LONG_S = 60.0
_SLOW_S = 1.0
"""The interval of runs of ``_LONG_S * _SLOW_S / _POLL_S`` seconds (5 minutes) and more."""
COST_SHARE = 4.0
"""A read never waits less than this many times what the last one cost."""
ENDING_S = 0.005
"""The interval once every node has finished (the run ends within milliseconds: its last steps),
or its predicted end (``time_left``) is due before the next read would come."""
ENDING_FOR_S = 0.25
"""How long a run may look that way and still be read that often (a re-plan may follow, or its
last node be slower than the others)."""
AHEAD = 0.5
"""The share of a young run's predicted time left that the stream waits before reading it again."""
_FAR_S = 0.1
"""The longest pause that prediction buys: a running run's nodes still move ten times a second."""
_PREDICT_S = 0.15
"""A run younger than this with several nodes under way predicts nothing: a fan-out's agents
finish in bursts (a pool's worth at a time), so its first finished nodes say little of when the
rest will. A run with one node under way at a time (a chain) finishes them at a steady pace."""


def poll_interval(age: float) -> float:
    """Seconds between two status reads of a run ``age`` seconds old (see the module doc)."""
    if age < _FIRST_S:
        return _INSTANT_S
    if age < _QUICK_S:
        return _FAST_S
    if age < _SETTLED_S:  # geometric: as many reads per second fewer at each step
        return float(_FAST_S * (_POLL_S / _FAST_S) ** ((age - _QUICK_S) / (_SETTLED_S - _QUICK_S)))
    return min(_SLOW_S, max(_POLL_S, _POLL_S * age / _LONG_S))


def time_left(age: float, counts: Mapping[str, int] | None) -> float | None:
    """How long a run ``age`` seconds old whose nodes are ``counts`` should still take, or None.

    At the rate its nodes have finished so far, the unfinished ones take ``age * unfinished /
    finished``; 0 once every node finished (its own last steps remain). A run with no node
    finished predicts nothing, nor does one younger than ``_PREDICT_S`` with several nodes under
    way (a 50-wide fan-out's first node to finish, alone, predicted its siblings' end 0.5 s off
    when they all finished within milliseconds); one running a node at a time (a chain) does,
    from its first finished node.
    """
    finished, total = _progress(counts)
    if not 0 < finished <= total:
        return None
    if finished == total:
        return 0.0
    under_way = total - finished - (counts or {}).get("waiting", 0)  # running, retrying, awaiting input
    if age < _PREDICT_S and under_way > 1:
        return None
    return age * (total - finished) / finished


def next_read(age: float, counts: Mapping[str, int] | None) -> float:
    """Seconds until the next status read of a run ``age`` seconds old whose nodes are ``counts``.

    ``poll_interval(age)``, or longer (at most ``_FAR_S``) while the run's predicted time left
    (``time_left``) is further off: then the next read comes after ``AHEAD`` of it. (A predicted
    end nearer than this makes ``run_events`` read sooner, for a while.)
    """
    pace = poll_interval(age)
    left = time_left(age, counts)
    return pace if left is None else max(pace, min(_FAR_S, AHEAD * left))


def _progress(counts: Mapping[str, int] | None) -> tuple[int, int]:
    """How many of the run's nodes have finished, and how many it has (its status' ``counts``)."""
    if not isinstance(counts, Mapping):
        return 0, 0
    finished = total = 0
    for state, count in counts.items():
        if type(count) is not int or count < 0:
            return 0, 0
        total += count
        finished += count if state in TERMINAL else 0
    return finished, total
