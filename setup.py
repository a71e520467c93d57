"""Builds the compiled part (callmonitor._core) with CMake.

setuptools 66 (Debian's) cannot declare extension modules in pyproject.toml,
so this file only teaches build_ext to run CMake in a fixed build folder
(build/python, so that reinstalls are incremental) and to copy the module
where setuptools expects it.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.path.join(ROOT, "build", "python")
        jobs = str(os.cpu_count() or 2)
        subprocess.check_call([
            "cmake", "-S", ROOT, "-B", build_dir,
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DCALLMONITOR_TESTS=OFF", "-DCALLMONITOR_BENCH=OFF",
        ])
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_core", "-j", jobs])
        built = glob.glob(os.path.join(build_dir, "python", "callmonitor", "_core*.so"))
        if not built:
            raise RuntimeError("CMake did not produce callmonitor/_core*.so")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    package_dir={"": "python"},
    ext_modules=[Extension("callmonitor._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
