import logging

import pytest
import torch

from benediff.device import DeviceError, job_environment, resolve_device, torch_device

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible")


def test_cpu_and_auto():
    assert resolve_device("cpu", "fail") == "cpu"
    assert resolve_device("auto", "fail") == ("cuda" if torch.cuda.is_available() else "cpu")


@no_gpu
def test_cuda_without_gpu_warns_and_falls_back(caplog):
    with caplog.at_level(logging.WARNING):
        assert resolve_device("cuda", "warn") == "cpu"
    assert "falling back to CPU" in caplog.text


@no_gpu
def test_cuda_without_gpu_fails_when_configured():
    with pytest.raises(DeviceError, match="gpu_fallback"):
        resolve_device("cuda", "fail")


def test_unknown_device_name_is_refused():
    with pytest.raises(DeviceError, match="'gpu' is not one of cpu, cuda, cuda:N, auto"):
        resolve_device("gpu")


@no_gpu
def test_library_device_never_falls_back_silently():
    assert torch_device("auto") == torch.device("cpu")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        torch_device("cuda:1")


def test_job_environment_records_slurm(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    env = job_environment()
    assert env["slurm_job_id"] == "42" and env["cuda_visible_devices"] == "0"
