"""The C++ package: `cmake --install` gives callmonitor::core (CMake config)
and callmonitor.pc; examples/cpp, a C++ port of heat_diffusion.laplacian,
finds it, reads the calls Python recorded and checks the port against them."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from _support import check, describe, run_python

pytestmark = pytest.mark.integration   # CMake builds, real programs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build", "cpp-package")   # kept between runs: incremental
TIMEOUT = 1800


def _run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT, **kw)
    assert proc.returncode == 0, describe(proc)
    return proc


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """The core built from this checkout and installed into a fresh prefix."""
    out = tmp_path_factory.mktemp("prefix")
    _run(["cmake", "-S", REPO, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release", "-DCALLMONITOR_PYTHON=OFF",
          "-DCALLMONITOR_TESTS=OFF", "-DCALLMONITOR_BENCH=OFF"])
    _run(["cmake", "--build", BUILD, "--target", "callmonitor_core", "-j2"])
    _run(["cmake", "--install", BUILD, "--prefix", out, "--component", "Development"])
    return out


@pytest.fixture(scope="module")
def example(prefix, tmp_path_factory):
    """examples/cpp configured against the installed package and built."""
    build = tmp_path_factory.mktemp("example-build")
    _run(["cmake", "-S", os.path.join(REPO, "examples", "cpp"), "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}",
          "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", build, "-j2"])
    return build / "check_laplacian"


@pytest.fixture(scope="module")
def heat_run(tmp_path_factory):
    """examples/heat_diffusion.py recorded: 20 steps, so 20 laplacian calls."""
    cwd = tmp_path_factory.mktemp("heat")
    check(subprocess.run([sys.executable, os.path.join(REPO, "examples", "heat_diffusion.py"),
                          "--steps", "20", "--size", "24"], cwd=cwd, capture_output=True, text=True,
                         timeout=120))
    return cwd / "call-monitor"


def test_install_gives_the_library_headers_config_and_pkg_config_file(prefix):
    for rel in ("lib/libcallmonitor_core.a", "include/callmonitor/database.h", "include/callmonitor/value.h",
                "include/callmonitor/handlers/ndarray/xarray.h", "lib/cmake/callmonitor/callmonitorConfig.cmake",
                "lib/cmake/callmonitor/callmonitorConfigVersion.cmake", "lib/pkgconfig/callmonitor.pc"):
        assert (prefix / rel).exists(), rel
    targets = (prefix / "lib/cmake/callmonitor/callmonitorTargets.cmake").read_text()
    assert "callmonitor::core" in targets
    assert REPO not in targets, "the installed target must not point into the source tree"


def test_the_cpp_port_matches_every_recorded_call(example, heat_run):
    proc = subprocess.run([example, heat_run], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, describe(proc)
    out = proc.stdout
    assert "laplacian: 20 recorded calls checked against the C++ port: 20 match" in out, out
    assert "0 differ" in out and out.rstrip().endswith("OK"), out
    assert re.search(r"Python \(recorded\) [0-9.]+ us, C\+\+ [0-9.]+ us", out), out


def test_a_port_that_differs_from_the_recording_fails(example, tmp_path):
    # A "laplacian" whose recorded results are not the five-point stencil.
    check(run_python("""
        import numpy as np
        from callmonitor import intercept

        @intercept
        def laplacian(u, dx):
            return u[1:-1, 1:-1] / dx           # not the stencil
        for k in range(3):
            laplacian(np.arange(25.0).reshape(5, 5) + k, 0.5)
    """, tmp_path))
    proc = subprocess.run([example, tmp_path / "call-monitor"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, describe(proc)
    assert "3 differ" in proc.stdout and "FAILED" in proc.stdout, proc.stdout
    assert "call 1 (main): the port differs" in proc.stdout


def test_the_example_reports_a_database_without_the_kernel(example, tmp_path):
    proc = subprocess.run([example, tmp_path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no callmonitor writer" in proc.stderr, describe(proc)


def test_pkg_config_builds_the_example_too(prefix, heat_run, tmp_path):
    assert shutil.which("pkg-config"), "pkg-config is needed (Debian: pkg-config)"
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = _run(["pkg-config", "--cflags", "--libs", "callmonitor"], env=env).stdout.split()
    assert "-lcallmonitor_core" in flags
    exe = tmp_path / "check_laplacian"
    src = os.path.join(REPO, "examples", "cpp")
    _run(["g++", "-std=c++17", "-O1", "-o", exe, os.path.join(src, "check_laplacian.cpp"),
          os.path.join(src, "laplacian.cpp"), *flags])
    proc = subprocess.run([exe, heat_run], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "20 match" in proc.stdout, describe(proc)
