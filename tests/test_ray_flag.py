"""`--ray` / `ray:` as settings, without a cluster: what the value means, and the sentence when Ray
is not installed (Ray hidden from a real `evalpack eval` process)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from evalpack.config import build_config
from evalpack.errors import UsageError

BASE = {"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["mmlu"]}


@pytest.mark.parametrize("value, address", [(None, None), (False, None), (True, ""), ("", ""),
                                            (" 10.0.0.1:6379 ", "10.0.0.1:6379"), ("auto", "auto")])
def test_ray_values(value, address, tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump({"ray": value}))
    assert build_config(BASE, str(config_file)).ray == address
    assert build_config({**BASE, "ray": value}).ray == address


@pytest.mark.parametrize("value", [3, ["a"], {"address": "x"}])
def test_a_ray_value_of_another_kind_is_one_sentence(value):
    with pytest.raises(UsageError, match="ray must be true or a Ray cluster address"):
        build_config({**BASE, "ray": value})


def test_ray_flag_without_ray_installed_is_a_sentence_before_anything_is_read(tmp_path):
    code = ("import sys\n"
            "sys.modules['ray'] = None  # as if Ray were not installed\n"
            "from evalpack.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", code, "eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1",
                           "--datasets", "mmlu", "--dataset-dir", str(tmp_path / "none"),
                           "--work-dir", str(tmp_path / "out"), "--ray"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--ray needs Ray, which is not installed: pip install 'evalpack[ray]'" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_a_ray_address_nothing_answers_on_is_a_sentence_at_once(tmp_path, datasets_dir):
    pytest.importorskip("ray")
    from conftest import free_port

    port = free_port()  # bound and released: nothing listens there
    done = subprocess.run([sys.executable, "-m", "evalpack", "eval", "--model", "m", "--api-url",
                           "http://127.0.0.1:9/v1", "--datasets", "mmlu", "--dataset-dir", str(datasets_dir),
                           "--limit", "1", "--work-dir", str(tmp_path / "out"), "--skip-preflight", "--ray", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"--ray 127.0.0.1:{port}: no Ray cluster answers there" in done.stderr and "Traceback" not in done.stderr
