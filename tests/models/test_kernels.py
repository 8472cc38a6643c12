"""Building the compiled kernels: what a build killed half-way leaves behind must not stop the next one."""

import subprocess
import sys

from seqarena.models.kernels import exclusive_build, instruction_sets, kernel_directory


def test_kernels_build_under_torch_s_extensions_directory_per_python_torch_and_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    directory = kernel_directory("selective_scan")
    assert directory.parent.parent == tmp_path / "seqarena" and directory.name == "selective_scan"
    assert directory.parent.name.startswith(f"py{sys.version_info.major}{sys.version_info.minor}-torch")
    assert directory.parent.name.endswith(instruction_sets()) and len(instruction_sets().rsplit("-", 1)[1]) == 12


def test_a_stale_torch_lock_is_removed_once_no_builder_is_alive(tmp_path):
    """A builder killed while it holds the flock: the OS releases the flock, and the torch lock file it left (which
    torch would wait on forever) is removed by the next build."""
    directory = tmp_path / "selective_scan"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from seqarena.models.kernels import exclusive_build\n"
        f"with exclusive_build(Path({str(directory)!r})):\n"
        f"    (Path({str(directory)!r}) / 'lock').touch(); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert (directory / "lock").exists()
    finally:
        holder.kill()
        holder.wait()
    with exclusive_build(directory):
        assert not (directory / "lock").exists()
