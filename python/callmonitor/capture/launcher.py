"""What launched this process: its MPI rank and job, or the recording process
it was started from. Read without importing mpi4py (importing it initialises
MPI, which a program that never uses MPI must not pay for or trip over)."""
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Optional

# Launcher variables, most specific first: (rank, world size, job id).
# OpenMPI sets OMPI_* and PMIX_*; MPICH/Hydra and Intel MPI set PMI_*;
# Slurm's srun sets SLURM_*.
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_JOB_VARS = ("OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE", "PMI_KVSNAME", "PMI_JOBID")

# Exported by every process that imported callmonitor, for the processes it
# starts (fork, multiprocessing spawn/forkserver, subprocess): they record
# into the same run directory, as writers of their own.
PARENT_RUN_ID_VAR = "CALLMONITOR_PARENT_RUN_ID"
PARENT_BASE_VAR = "CALLMONITOR_PARENT_BASE"    # the output base the run is under
PARENT_PID_VAR = "CALLMONITOR_PARENT_PID"
PARENT_RANK_VAR = "CALLMONITOR_PARENT_RANK"
# Set only when the parent chose its output with configure(output=...): the
# children record there too (a fork inherits the setting itself; spawn,
# forkserver and subprocess children start afresh and read it here).
PARENT_OUTPUT_VAR = "CALLMONITOR_PARENT_OUTPUT"
# $CALLMONITOR_DIR as the parent saw it: a child whose own differs was given
# one on purpose (subprocess.run(..., env=...)) and records there instead.
PARENT_DIR_SEEN_VAR = "CALLMONITOR_PARENT_DIR_SEEN"
RUN_ID_VAR = "CALLMONITOR_RUN_ID"              # user-set: processes sharing it share a run

# Identifies this process's own run when nothing else does.
_PROCESS_RUN_ID = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"


@dataclass(frozen=True)
class Launch:
    rank: int          # MPI rank, -1 outside MPI
    size: int          # MPI world size, 0 when unknown
    job: str           # id shared by every process of one job ("" for a lone process)


def _int_var(names):
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                continue
    return None


def _slurm_task():
    """(rank, size, job) of a task of a multi-task srun step, else None. A
    batch script's own process also has SLURM_PROCID=0: that is no rank."""
    step = os.environ.get("SLURM_STEP_ID", "")
    size = _int_var(("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")) or 0
    rank = _int_var(("SLURM_PROCID",))
    if rank is None or not step.isdigit() or size < 2:
        return None
    return rank, size, f"slurm-{os.environ.get('SLURM_JOB_ID', '')}.{step}"


def _mpi4py_rank():
    """The rank from mpi4py, only when the program itself already imported
    and initialised MPI."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None:
        return None
    try:
        if not mpi.Is_initialized() or mpi.Is_finalized():
            return None
        comm = mpi.COMM_WORLD
        return comm.Get_rank(), comm.Get_size()
    except Exception:  # a broken MPI must not break the user's program
        return None


def detect():
    """This process's rank and job, from the launcher's environment or mpi4py."""
    rank = _int_var(_RANK_VARS)
    size = _int_var(_SIZE_VARS) or 0
    job = next((os.environ[v] for v in _JOB_VARS if os.environ.get(v)), None)
    if rank is None and (task := _slurm_task()) is not None:
        rank, size, job = task
    if rank is None:
        found = _mpi4py_rank()
        if found is not None and found[1] > 1:
            rank, size = found
    job = os.environ.get(RUN_ID_VAR) or (job if rank is not None else None)
    if not job and rank is not None:
        # No job id known: ranks started by one launcher on one host share
        # its process as their parent (documented limit: several hosts
        # without a job id need CALLMONITOR_RUN_ID).
        job = f"ppid-{socket.gethostname()}-{os.getppid()}"
    return Launch(rank=-1 if rank is None else rank, size=size, job=job or "")


@dataclass(frozen=True)
class Origin:
    """Which run a new session of this process records into, and as whom."""
    run_id: str      # processes with equal run ids (and output bases) share a run directory
    rank: int        # MPI rank (-1: none)
    child: bool      # started by another process of the run: records as pid-N


def _read_inherited():
    """(run id, output base, rank) published by the process that started
    this one, or None. Read before this process publishes its own."""
    parent_pid = os.environ.get(PARENT_PID_VAR)
    run_id = os.environ.get(PARENT_RUN_ID_VAR)
    if not run_id or not parent_pid or parent_pid == str(os.getpid()):
        return None
    try:
        rank = int(os.environ.get(PARENT_RANK_VAR, "-1"))
    except ValueError:
        rank = -1
    return run_id, os.environ.get(PARENT_BASE_VAR), rank


_INHERITED = _read_inherited()


def _read_inherited_output():
    """The output the parent configured, unless this process was given one."""
    if not _INHERITED or not os.environ.get(PARENT_OUTPUT_VAR):
        return None
    if os.environ.get("CALLMONITOR_DIR", "") != os.environ.get(PARENT_DIR_SEEN_VAR, ""):
        return None  # this process was given an output of its own
    return os.environ[PARENT_OUTPUT_VAR]


_INHERITED_OUTPUT = _read_inherited_output()


def inherited_output() -> Optional[str]:
    """The output the process that started this one set with
    configure(output=...) (absolute), or None."""
    return _INHERITED_OUTPUT


def origin(base, session):
    """The Origin of session number `session` (0 first; close() starts the
    next) of this process, recording under output base `base`."""
    launch = detect()
    # A process started by one of the run joins it -- unless it is an MPI rank
    # and its parent was none (a driver script that ran mpirun): then the job
    # is the run.
    if (session == 0 and _INHERITED and _INHERITED[1] == os.path.abspath(base)
            and not (launch.rank >= 0 and _INHERITED[2] < 0)):
        return Origin(_INHERITED[0], _INHERITED[2], child=True)
    run_id = f"job:{launch.job}" if launch.job else _PROCESS_RUN_ID
    if session:
        run_id += f"#{session}"
    return Origin(run_id, launch.rank, child=False)


def forked():
    """In a forked child: a new process, started by the one it was forked from."""
    global _PROCESS_RUN_ID, _INHERITED, _INHERITED_OUTPUT
    _PROCESS_RUN_ID = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    _INHERITED = _read_inherited()
    _INHERITED_OUTPUT = _read_inherited_output()


def export(base, session, configured):
    """Tells the processes this one starts from now on which run to join;
    `configured`: the base was chosen with configure(output=...) (here or by
    a parent), so children record under it whatever their own default."""
    o = origin(base, session)
    os.environ[PARENT_RUN_ID_VAR] = o.run_id
    os.environ[PARENT_BASE_VAR] = os.path.abspath(base)
    os.environ[PARENT_PID_VAR] = str(os.getpid())
    os.environ[PARENT_RANK_VAR] = str(o.rank)
    if configured:
        os.environ[PARENT_OUTPUT_VAR] = os.path.abspath(base)
        os.environ[PARENT_DIR_SEEN_VAR] = os.environ.get("CALLMONITOR_DIR", "")
    else:
        os.environ.pop(PARENT_OUTPUT_VAR, None)
        os.environ.pop(PARENT_DIR_SEEN_VAR, None)
