"""The SLURM profile on a real slurmctld (CI starts one with .ci/slurm.sh up).

Skipped where no SLURM controller answers; .ci/run brings one up, so CI always runs these.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY = ROOT / ".test" / "config" / "config.yaml"
GPU_TARGET = "results/lvm/S1/VIS_R/ours/seed0/metrics.json"
# a 2-core CI node cannot give the profile's cpus_per_gpu; these replace set-resources there
CI_RESOURCES = ["--set-resources", "lvm_fit:slurm_partition=gpu", "lvm_fit:gpu=1",
                "lvm_fit:cpus_per_gpu=1", "lvm_fit:mem_mb=3000", "lvm_fit:runtime=20"]


def slurm_is_up():
    if shutil.which("sinfo") is None:
        return False
    probe = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    return probe.returncode == 0 and any(s in probe.stdout for s in ("idle", "mix", "alloc"))


pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not slurm_is_up(), reason="no SLURM controller (CI starts one)")]

FLAKY_RULE = """
include: "{snakefile}"


rule fails_on_first_attempt:
    output:
        "results/ci/retried.txt",
    log:
        "logs/ci/retried.log",
    retries: 1
    shell:
        "if [ -e results/ci/first_attempt_failed ]; then echo $SLURM_JOB_ID > {{output}}; "
        "else mkdir -p results/ci; touch results/ci/first_attempt_failed; exit 1; fi 2> {{log}}"
"""


def run_slurm(workdir, snakefile, *targets, extra=(), timeout=900):
    # targets first: --set-resources and --default-resources swallow what follows them
    cmd = ["timeout", "-s", "KILL", str(timeout), str(SNAKEMAKE), *targets,
           "--snakefile", str(snakefile), "--directory", str(workdir), "--configfile", str(TINY),
           "--workflow-profile", str(ROOT / "profiles" / "slurm"), "--jobs", "4",
           *CI_RESOURCES, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm")
    snakefile = workdir / "Snakefile"
    snakefile.write_text(FLAKY_RULE.format(snakefile=ROOT / "workflow" / "Snakefile"))
    run = run_slurm(workdir, snakefile, GPU_TARGET, "results/ci/retried.txt")
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    return workdir, run


def test_gpu_rule_ran_as_slurm_job_with_gpu(slurm_run):
    workdir, _ = slurm_run
    job = json.loads((workdir / GPU_TARGET).read_text())["provenance"]["job"]
    assert job.get("slurm_job_id"), job
    assert job.get("cuda_visible_devices") not in (None, ""), job
    assert job.get("slurm_job_partition") == "gpu"


def test_failed_job_was_retried(slurm_run):
    workdir, run = slurm_run
    # the rule fails the first time it runs and succeeds the second: its output proves the retry
    assert (workdir / "results/ci/first_attempt_failed").exists()
    assert (workdir / "results/ci/retried.txt").read_text().strip().isdigit()


def test_unknown_partition_is_one_clear_error(tmp_path):
    run = run_slurm(tmp_path, ROOT / "workflow" / "Snakefile", "results/S1/split.json",
                    extra=["--default-resources", "slurm_partition=nonexistent", "mem_mb=500"],
                    timeout=300)
    assert run.returncode != 0
    assert "nonexistent" in (run.stdout + run.stderr).lower()
