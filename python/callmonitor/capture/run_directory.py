"""Claiming a run directory and a writer directory inside it.

A run directory is ``base``, ``base-1``, ``base-2``, ... : the first one that
is free or already belongs to this run. Ownership is a marker file written
right after the atomic ``mkdir``; every process of one MPI job computes the
same run id from its launcher's environment, scans the same candidates in
the same order and so lands in the same directory without talking to the
others (a rank that never records never takes part, and cannot hang the
job). A directory owned by another run, or not by a run at all, is never
written into.
"""
import json
import os
import shutil
import time

MARKER = ".callmonitor-run"
# A directory without a marker is someone else's, unless it is so young that
# its creator may still be writing the marker.
_MARKER_GRACE_S = 5.0


def _write_marker(path, run_id):
    fd = os.open(os.path.join(path, MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"run_id": run_id, "created_unix_ns": time.time_ns()}, f)


def read_run_id(path):
    """The run id of a run directory, or None (no marker, or unreadable)."""
    try:
        with open(os.path.join(path, MARKER), encoding="utf-8") as f:
            return json.load(f).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def _owner(path):
    """The run id that owns an existing directory, waiting out a creator that
    has made it but not yet written its marker."""
    deadline = None
    while True:
        run_id = read_run_id(path)
        if run_id is not None:
            return run_id
        try:
            age = time.time() - os.stat(path).st_mtime
        except OSError:
            return None
        if age > _MARKER_GRACE_S:
            return None
        deadline = deadline or time.monotonic() + _MARKER_GRACE_S
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)


def claim_run(base, run_id):
    """Creates, or joins, the run directory of `run_id`; returns its absolute path."""
    parent = os.path.dirname(os.path.abspath(base))
    os.makedirs(parent, exist_ok=True)
    n = 0
    while True:
        candidate = os.path.abspath(base if n == 0 else f"{base}-{n}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            if os.path.isdir(candidate) and _owner(candidate) == run_id:
                return candidate
            n += 1
            continue
        try:
            _write_marker(candidate, run_id)
        except OSError:
            # A full disk: leave no run directory without a (whole) marker.
            remove_if_empty(candidate)
            raise
        return candidate


def claim_writer(run_dir, writer_id):
    """Creates `run_dir/writer_id` exclusively and returns its name; when the
    name is taken (another process of the run chose it too), this process's
    pid is appended. Two writers never share an environment."""
    name = writer_id
    suffix = f"-pid-{os.getpid()}"
    for k in range(1000):
        try:
            os.mkdir(os.path.join(run_dir, name))
            return name
        except FileExistsError:
            name = f"{writer_id}{suffix}" + (f"-{k}" if k else "")
    raise FileExistsError(f"cannot find a free writer directory for {writer_id!r} in {run_dir}")


def remove_if_empty(run_dir):
    """Removes the run directory `run_dir` when it holds nothing but (at most) its marker."""
    try:
        if set(os.listdir(run_dir)) <= {MARKER}:
            if os.path.exists(os.path.join(run_dir, MARKER)):
                os.unlink(os.path.join(run_dir, MARKER))
            os.rmdir(run_dir)
    except OSError:
        pass  # another writer of the run arrived, or it is gone already


def release_writer(run_dir, writer_id):
    """Removes a writer directory claimed by this process whose environment
    could not be created (the disk is full, ...), and the run directory when
    that leaves it empty: a failed start leaves nothing behind that a reader
    would call "not a database"."""
    shutil.rmtree(os.path.join(run_dir, writer_id), ignore_errors=True)
    remove_if_empty(run_dir)
