"""`evalpack eval --ray`: one multi-node Ray cluster on this machine (ray.cluster_utils: a head
with no CPU, so every sample goes to a worker node, and worker nodes with their own CPUs and
resources), real `evalpack eval` driver processes, a real mock server on 127.0.0.1, the real
MMLU and HumanEval files and the real sandbox. What cannot exist here is only the network
between nodes: they are processes of this machine.

Ray is the [ray] extra: without it these tests skip, except in CI (EVALPACK_REQUIRE_RAY=1),
where a missing Ray fails them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import MockProcess, free_port

try:
    import ray  # noqa: F401
    from ray.cluster_utils import Cluster
except ImportError:
    if os.environ.get("EVALPACK_REQUIRE_RAY"):
        raise
    pytest.skip("ray is not installed (pip install -e '.[ray]')", allow_module_level=True)

MB = 1024 * 1024
NODE = {"num_cpus": 1, "object_store_memory": 80 * MB}  # Ray's smallest object store
MMLU_ARGS = {"subset_list": ["anatomy", "college_physics"]}
RESPONDER = '''
import gzip, json, os, zlib

TASKS = [json.loads(l) for l in gzip.open(os.environ["HUMANEVAL_FILE"], "rt")]

def _text(body):
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]

def answer(body):
    """Right on some questions and wrong on others, the same for the same prompt."""
    text = _text(body)
    pick = zlib.crc32(text.encode())
    task = next((t for t in TASKS if t["prompt"] in text), None)
    if task is None:  # MMLU
        return "ANSWER: " + "ABCD"[pick % 4]
    body_code = task["canonical_solution"] if pick % 2 else "    return None\\n"
    return "```python\\n" + task["prompt"] + body_code + "```"
'''


@pytest.fixture(scope="module")
def cluster():
    # a node whose raylet dies is declared dead within about a second, not Ray's default 15 s
    head = {"num_cpus": 0, "object_store_memory": 80 * MB,
            "_system_config": {"health_check_initial_delay_ms": 0, "health_check_period_ms": 200,
                               "health_check_failure_threshold": 3}}
    c = Cluster(initialize_head=True, head_node_args=head)
    c.docker_node = c.add_node(**NODE, resources={"docker": 1})
    c.add_node(**NODE)
    c.wait_for_nodes()
    yield c
    c.shutdown()


@pytest.fixture(scope="module")
def mock_url(tmp_path_factory, datasets_dir):
    responder = tmp_path_factory.mktemp("responder") / "responder.py"
    responder.write_text(RESPONDER)
    os.environ["HUMANEVAL_FILE"] = str(datasets_dir / "humaneval" / "HumanEval.jsonl.gz")
    try:
        mock = MockProcess("--responder", f"{responder}:answer")
    finally:
        del os.environ["HUMANEVAL_FILE"]
    yield mock.url
    mock.stop()


def evaluate(url: str, datasets_dir: Path, work: Path, *extra: str, limit: str = "6") -> Path:
    cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", url,
           "--datasets", "mmlu", "humaneval", "--dataset-dir", str(datasets_dir), "--work-dir", str(work),
           "--dataset-args", json.dumps({"mmlu": MMLU_ARGS}), "--limit", limit, "--quiet", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir_of(done.stdout)


def mmlu_on_ray(url: str, datasets_dir: Path, work: Path, address: str, *, limit: str, concurrency: str) -> list[str]:
    """The command of an MMLU run (MMLU_ARGS) on the cluster at `address`."""
    return [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", url,
            "--datasets", "mmlu", "--dataset-dir", str(datasets_dir), "--work-dir", str(work),
            "--dataset-args", json.dumps({"mmlu": MMLU_ARGS}), "--limit", limit, "--concurrency", concurrency,
            "--quiet", "--ray", address]


def comparable(run_dir: Path) -> dict:
    """report.json without what differs between any two runs: when and where it ran (created,
    run_dir, meta: command line, start, wall time), each dataset's serving timings (the
    request and token counts stay), and the uid the sandbox leased for the program its
    isolation note describes (from a pool every process on the machine shares)."""
    report = json.loads(re.sub(r"user: uid \d+", "user: uid N", (run_dir / "report.json").read_text()))
    for key in ("created", "run_dir", "meta"):
        report.pop(key)
    for section in report["datasets"]:
        serving = section.pop("serving")
        section["serving"] = {k: serving[k] for k in ("requests", "input_tokens", "output_tokens")}
    return report


def stored_results(run_dir: Path) -> tuple[list[tuple], int]:
    """(benchmark, sample, repeat, score) of every stored result, and the highest rowid: a result
    stored twice (INSERT OR REPLACE) takes a new rowid, so rowid > count means one was."""
    with sqlite3.connect(run_dir / "run.db") as db:
        rows = db.execute("SELECT benchmark, sample_id, repeat, score FROM results ORDER BY 1, 2, 3").fetchall()
        top = db.execute("SELECT max(rowid) FROM results").fetchone()[0]
    return rows, top


def test_mmlu_and_humaneval_on_ray_report_what_one_process_reports(cluster, mock_url, datasets_dir, tmp_path):
    alone = evaluate(mock_url, datasets_dir, tmp_path / "alone")
    on_ray = evaluate(mock_url, datasets_dir, tmp_path / "ray", "--ray", cluster.address)
    assert comparable(on_ray) == comparable(alone)
    rows, top = stored_results(on_ray)
    assert rows == stored_results(alone)[0] and top == len(rows) == 12 + 6
    # every sample went to a worker node (the head has no CPU), and both worker nodes took some
    spread = [json.loads(line.rsplit("samples solved by node: ", 1)[1])
              for line in (on_ray / "evalpack.log").read_text().splitlines() if "samples solved by node" in line]
    workers = {n.node_id for n in cluster.list_all_nodes()} - {cluster.head_node.node_id}
    assert [sum(s.values()) for s in spread] == [12, 6] and set().union(*spread) == workers
    scores = {bench: [r[3] for r in rows if r[0] == bench] for bench in ("mmlu", "humaneval")}
    assert 0 < sum(scores["humaneval"]) < 6 and 0 < sum(scores["mmlu"]) < 12  # right and wrong answers both
    # resume and rescore are the run directory's, as without Ray
    again = evaluate(mock_url, datasets_dir, tmp_path / "ray", "--ray", cluster.address)
    assert again == on_ray and stored_results(again) == (rows, top)
    done = subprocess.run([sys.executable, "-m", "evalpack", "rescore", str(on_ray), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert comparable(on_ray)["datasets"][0]["score"] == comparable(alone)["datasets"][0]["score"]


def test_swe_bench_work_goes_only_to_nodes_declaring_docker(cluster):
    from evalpack.benchmarks import registry
    from evalpack.ray_pool import fits

    nodes = [n for n in ray_nodes(cluster) if n["Resources"].get("CPU")]
    need = registry.get("swe_bench_verified_mini").node_resources({})
    assert need == {"docker": 1.0}
    assert [n["Resources"].get("docker") for n in nodes if fits(n["Resources"], need)] == [1.0]
    assert all(fits(n["Resources"], registry.get("humaneval").node_resources({"sandbox": "local"})) for n in nodes)
    assert registry.get("humaneval").node_resources({"sandbox": "docker"}) == {"docker": 1.0}


def test_docker_sandboxed_samples_run_only_on_the_node_declaring_docker(cluster, mock_url, datasets_dir, tmp_path):
    from evalpack import docker_engine

    if not docker_engine.available()[0]:
        pytest.skip("no Docker engine here (CI starts one)")
    # scored in containers of the docker node's engine (whatever the image gives: the placement is the point)
    run_dir = run_dir_of(subprocess.run(
        [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", mock_url, "--datasets", "humaneval",
         "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path), "--limit", "4", "--quiet",
         "--sandbox", "docker", "--ignore-errors", "--ray", cluster.address],
        capture_output=True, text=True, timeout=600, check=True).stdout)
    line = next(line for line in (run_dir / "evalpack.log").read_text().splitlines() if "samples solved by node" in line)
    assert json.loads(line.rsplit("samples solved by node: ", 1)[1]) == {cluster.docker_node.node_id: 4}


def ray_nodes(cluster) -> list[dict]:
    code = ("import json, ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
            "print(json.dumps(ray.nodes()))" % cluster.address)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [n for n in json.loads(done.stdout.strip().splitlines()[-1]) if n["Alive"]]


class BlockingMock:
    """The mock server in this process: it answers `after` requests, then holds the next `hold`
    replies until released, so the test kills a node (or the driver) while those are open."""

    def __init__(self, hold: int, after: int = 0, latency: float = 0.0) -> None:
        from evalpack import mock

        self.hold, self.after, self.seen = hold, after, 0
        self.open = self.peak = 0  # requests being answered now, and the most at once
        self.all_held = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.release = asyncio.Event()
        started = threading.Event()

        async def respond(body: dict):
            self.seen += 1
            self.open += 1
            self.peak = max(self.peak, self.open)
            try:
                if self.after < self.seen <= self.after + self.hold:
                    if self.seen == self.after + self.hold:
                        self.all_held.set()
                    await self.release.wait()
                await asyncio.sleep(latency)  # a server's time to answer: requests overlap
            finally:
                self.open -= 1
            return "ANSWER: " + "ABCD"[sum(map(ord, mock.last_user_text(body))) % 4]

        async def start() -> None:
            self.runner, self.url = await mock.start_in_process(mock.MockServer(responder=respond),
                                                                port=free_port())
            started.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        assert started.wait(30)

    def let_go(self) -> None:
        self.loop.call_soon_threadsafe(self.release.set)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def disrupted_run(server: BlockingMock, cmd: list[str], disrupt) -> str:
    """The driver's stdout, `disrupt(driver)` having run while the workers' first requests were
    held; the driver must still finish (exit 0). The server is released and stopped either way."""
    try:
        driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.all_held.wait(300), "the workers never sent their first requests"
        disrupt(driver)
        server.let_go()
        out, err = driver.communicate(timeout=600)
        assert driver.returncode == 0, err[-3000:]
        return out
    finally:
        server.let_go()
        server.stop()


def test_a_node_killed_mid_run_has_its_samples_run_elsewhere_once(cluster, datasets_dir, tmp_path):
    doomed = cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    server = BlockingMock(hold=3)  # three workers (one per node CPU), one open request each

    def kill_the_node(driver: subprocess.Popen) -> None:
        cluster.remove_node(doomed, allow_graceful=False)  # its raylet and worker are killed
        # held until the driver has seen the loss: a worker that outlived its raylet for a moment
        # could otherwise still deliver the reply
        assert wait_for_line(tmp_path / "ray", "Ray worker on node", driver), "the driver never saw the loss"

    cmd = mmlu_on_ray(server.url, datasets_dir, tmp_path / "ray", cluster.address, limit="5", concurrency="3")
    on_ray = run_dir_of(disrupted_run(server, cmd, kill_the_node))
    rows, top = stored_results(on_ray)
    assert top == len(rows) == 10  # every (sample, repeat) stored once
    # the same questions in one process, answered by the same rule, score the same
    single = BlockingMock(hold=0)
    try:
        alone_cmd = cmd[:-2]
        alone_cmd[alone_cmd.index("--api-url") + 1] = single.url
        alone_cmd[alone_cmd.index("--work-dir") + 1] = str(tmp_path / "alone")
        done = subprocess.run(alone_cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        single.stop()
    alone = run_dir_of(done.stdout)
    assert stored_results(alone)[0] == rows
    assert comparable_scores(on_ray) == comparable_scores(alone)


def wait_for_line(work: Path, text: str, driver: subprocess.Popen, limit: float = 120.0) -> bool:
    """Whether the run's evalpack.log under `work` shows `text` before `limit` s or the driver's end."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and driver.poll() is None:
        if any(text in log.read_text() for log in work.glob("*/evalpack.log")):
            return True
        time.sleep(0.05)
    return False


def run_dir_of(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1].split("run directory:")[1].strip())


def comparable_scores(run_dir: Path) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return {s["dataset"]: (s["score"], s["subsets"], s["num_errors"]) for s in report["datasets"]}


def test_without_ray_flag_ray_is_never_imported(mock_url, datasets_dir, tmp_path):
    code = ("import sys\n"
            "import evalpack.cli\n"
            "assert 'ray' not in sys.modules, 'import evalpack.cli imported ray'\n"
            "code = evalpack.cli.main(sys.argv[1:])\n"
            "assert code == 0, code\n"
            "assert 'ray' not in sys.modules, 'an eval without --ray imported ray'\n")
    done = subprocess.run([sys.executable, "-c", code, "eval", "--model", "mock", "--api-url", mock_url,
                           "--datasets", "mmlu", "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path),
                           "--limit", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_node_runs_one_worker_per_four_cpus_at_most():
    from evalpack.ray_pool import worker_sizes

    assert [worker_sizes(c) for c in (0, 1, 4, 5, 10)] == [[], [1], [4], [3, 2], [4, 3, 3]]
    assert worker_sizes(64) == [4] * 16


def test_a_killed_ray_driver_resumes_and_resends_only_what_was_in_flight(cluster, datasets_dir, tmp_path):
    server = BlockingMock(hold=2, after=6)  # 6 questions answered, then both workers' next ones held
    single = BlockingMock(hold=0)
    try:
        cmd = mmlu_on_ray(server.url, datasets_dir, tmp_path / "ray", cluster.address, limit="5", concurrency="2")
        driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert server.all_held.wait(300), "the workers never sent their requests"
        driver.kill()  # SIGKILL: Ray ends the workers this driver owned
        driver.wait(60)
        server.let_go()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        on_ray = run_dir_of(done.stdout)
        assert server.seen <= 10 + 2  # 10 questions; at most the 2 in flight were asked again
        rows, top = stored_results(on_ray)
        assert top == len(rows) == 10
        alone_cmd = cmd[:-2]
        alone_cmd[alone_cmd.index("--api-url") + 1] = single.url
        alone_cmd[alone_cmd.index("--work-dir") + 1] = str(tmp_path / "alone")
        alone = subprocess.run(alone_cmd, capture_output=True, text=True, timeout=600)
        assert alone.returncode == 0, alone.stderr[-3000:]
        assert stored_results(run_dir_of(alone.stdout))[0] == rows
    finally:
        server.let_go()
        server.stop()
        single.stop()


def test_a_worker_replays_the_stored_replies_of_a_resumed_sample(datasets_dir, tmp_path):
    """The resume path without a cluster: the driver's store hands a sample's stored replies to
    the worker (replies_of), whose Context replays them; nothing is sent (the URL is dead)."""
    from evalpack.config import build_config
    from evalpack.plan import make_plans
    from evalpack.ray_pool import SampleWorker
    from evalpack.store import RunStore, call_key, canonical_json

    config = build_config({"model": "mock", "api_url": f"http://127.0.0.1:{free_port()}/v1", "datasets": ["mmlu"],
                           "dataset_dir": str(datasets_dir), "limit": 1, "retries": 0,
                           "dataset_args": json.dumps({"mmlu": {"subset_list": ["anatomy"]}})})
    (plan,) = make_plans(config)
    sample = plan.samples[0]
    worker = SampleWorker(config, 1)
    worker.prepare("mmlu", plan.args, plan.args, plan.settings_hash, str(datasets_dir))
    first = asyncio.run(worker.solve(plan.settings_hash, sample, 0, {}))
    assert "refused" in first["row"]["error"].lower() or "connect" in first["row"]["error"].lower()

    store = RunStore(tmp_path / "run.db")
    canon = canonical_json({"model": "mock", "messages": sample.messages})  # the request MMLU's solve makes
    key = call_key(canon, "mmlu", sample.id, 0)
    reply = {"content": "ANSWER: " + sample.target, "reasoning": None, "tool_calls": None, "finish_reason": "stop",
             "usage": {}, "latency": 0.01}
    store.put_call(key, "mmlu", sample.id, 0, canon, reply, 0.01)
    store.put_call("other", "mmlu", "another-sample", 0, "{}", reply, 0.01)
    known = store.replies_of("mmlu", {(sample.id, 0)})
    store.close()
    assert list(known) == [(sample.id, 0)] and list(known[(sample.id, 0)]) == [key]
    again = asyncio.run(worker.solve(plan.settings_hash, sample, 0, known[(sample.id, 0)]))
    assert again["row"].get("error") is None and again["calls"] == []  # replayed, not sent
    assert again["row"]["score"] == 1.0


def test_a_judged_benchmark_on_ray_reports_what_one_process_reports(cluster, datasets_dir, tmp_path, monkeypatch):
    """SimpleQA graded by a judge mock with known verdicts (tests/responders/judge.py): the workers
    ask the judge, the driver stores its calls, and report and stored verdicts equal one process's.
    --judge-worker-num is the judge's bound for the whole cluster, as for one process."""
    responder = Path(__file__).parent / "responders" / "judge.py"
    model = MockProcess("--answer", "I believe it is Paris.")
    monkeypatch.setenv("JUDGE_MOCK_LATENCY", "0.05")  # verdicts overlap: the bound is what limits them
    judge = MockProcess("--responder", f"{responder}:respond", "--api-key", "judge-key-ray", model="judge")
    peaks = []
    try:
        def run(work: Path, *extra: str) -> Path:
            done = subprocess.run(
                [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", model.url,
                 "--datasets", "simpleqa", "--dataset-dir", str(datasets_dir), "--limit", "30", "--quiet",
                 "--work-dir", str(work), "--judge-model-args",
                 json.dumps({"model_id": "judge", "api_url": judge.url, "api_key": "judge-key-ray"}),
                 "--judge-worker-num", "2", *extra],
                capture_output=True, text=True, timeout=600)
            assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: samples the judge left unverdicted
            peaks.append(judge.stats()["max_in_flight"])
            judge.reset()
            return run_dir_of(done.stdout)

        alone, on_ray = run(tmp_path / "alone"), run(tmp_path / "ray", "--ray", cluster.address)
    finally:
        model.stop()
        judge.stop()
    assert comparable(on_ray) == comparable(alone)
    assert 1 <= peaks[0] <= 2 and 1 <= peaks[1] <= 2, peaks  # two workers: one judge request each
    with sqlite3.connect(on_ray / "run.db") as db:
        judged = db.execute("SELECT count(*) FROM calls WHERE benchmark = 'simpleqa/judge'").fetchone()[0]
    assert judged >= 30 and "judge-key-ray" not in (on_ray / "run.db").read_bytes().decode("latin-1")


def test_a_multi_call_agentic_benchmark_on_ray_reports_what_one_process_reports(cluster, datasets_dir, tmp_path,
                                                                                 monkeypatch):
    """tau-bench: many model calls per sample (agent turns and the simulated user) and tool state,
    all on the worker; the driver stores every call. Scripted by tests/tau_bench_responder.py."""
    monkeypatch.setenv("TAU_BENCH_DIR", str(datasets_dir / "tau_bench"))
    monkeypatch.setenv("TAU_AGENT_MODE", "replay")
    server = MockProcess("--responder", f"{Path(__file__).parent / 'tau_bench_responder.py'}:respond")
    try:
        def run(work: Path, *extra: str) -> Path:
            done = subprocess.run(
                [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", server.url,
                 "--datasets", "tau_bench", "--dataset-dir", str(datasets_dir), "--limit", "2", "--quiet",
                 "--work-dir", str(work), *extra], capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]
            return run_dir_of(done.stdout)

        alone, on_ray = run(tmp_path / "alone"), run(tmp_path / "ray", "--ray", cluster.address)
    finally:
        server.stop()
    assert comparable(on_ray) == comparable(alone)
    assert comparable(on_ray)["datasets"][0]["score"] == 1.0
    calls = []
    for run_dir in (alone, on_ray):
        with sqlite3.connect(run_dir / "run.db") as db:
            calls.append(db.execute("SELECT benchmark, sample_id, repeat, count(*) FROM calls "
                                    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall())
    assert calls[0] == calls[1] and all(n > 2 for *_, n in calls[1])


def test_worker_processes_killed_mid_run_are_replaced_and_nothing_is_stored_twice(cluster, datasets_dir, tmp_path):
    server = BlockingMock(hold=2)  # both workers (one per worker node) hold an open request

    def kill_every_worker(driver: subprocess.Popen) -> None:
        (log,) = tmp_path.glob("*/evalpack.log")
        line = next(x for x in log.read_text().splitlines() if "workers ready" in x)
        pids = [int(p.split("@")[0]) for p in line.rsplit("pids: ", 1)[1].split()]
        assert len(pids) == 2
        for pid in pids:  # every worker of the run: new ones start on the same, live nodes
            os.kill(pid, 9)

    cmd = mmlu_on_ray(server.url, datasets_dir, tmp_path, cluster.address, limit="5", concurrency="2")
    run_dir = run_dir_of(disrupted_run(server, cmd, kill_every_worker))
    assert (run_dir / "evalpack.log").read_text().count("Ray worker on node") == 2
    rows, top = stored_results(run_dir)
    assert top == len(rows) == 10


def test_concurrency_bounds_the_requests_in_flight_over_all_workers(cluster, datasets_dir, tmp_path):
    server = BlockingMock(hold=0, latency=0.3)
    try:
        done = subprocess.run(mmlu_on_ray(server.url, datasets_dir, tmp_path, cluster.address, limit="6", concurrency="3"),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        server.stop()
    assert server.seen == 12
    assert 2 <= server.peak <= 3  # two workers, three requests at most, as without Ray


def test_swe_bench_in_real_containers_on_the_docker_node(cluster, tmp_path):
    """The synthetic tinycalc instances (tests/fixtures/swe_synthetic) answered with their gold
    patches: each is built and tested in a container of the docker node, and all are resolved."""
    from evalpack import docker_engine
    from evalpack.benchmarks.swe_bench import images

    if not docker_engine.available()[0]:
        pytest.skip("no Docker engine here (CI starts one)")
    fixture = Path(__file__).parent / "fixtures" / "swe_synthetic"
    sys.path.insert(0, str(fixture))
    from make_repo import make_repo

    repo = tmp_path / "tinycalc"
    make_repo(repo)
    images.build_base(docker_engine.native_arch())
    server = MockProcess("--responder", f"{fixture / 'responder.py'}:gold")
    name = "swe_bench_verified_mini"
    args = {name: {"local_path": str(fixture), "extra_params": {
        "repos": {"evalpack/tinycalc": str(repo)}, "timeout": 10, "build_docker_images": True}}}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", server.url, "--datasets", name,
             "--dataset-args", json.dumps(args), "--dataset-dir", str(tmp_path), "--work-dir", str(tmp_path / "out"),
             "--quiet", "--ray", cluster.address], capture_output=True, text=True, timeout=900)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = run_dir_of(done.stdout)
    section = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert section["score"] == 1.0 and section["statuses"] == {"resolved": 3} and section["num_errors"] == 0
    line = next(line for line in (run_dir / "evalpack.log").read_text().splitlines() if "samples solved by node" in line)
    assert json.loads(line.rsplit("samples solved by node: ", 1)[1]) == {cluster.docker_node.node_id: 3}
