"""`--shard I/N`: the I-th of N parts of a run's samples, for batch schedulers (Slurm arrays,
Kubernetes Indexed Jobs); `evalpack merge` joins the parts (merge.py).

A sample's part is a function of the sample alone: sha256 of (benchmark, subset, sample id),
so it is the same on every machine and Python version and does not move when --limit or the
dataset's order changes. All repeats of a sample go to the same part: pass@k and the
per-question intervals need every repeat of a question, and they share a prompt (one
server's prefix cache). The shard is not part of the settings hash: every shard of one run
stores its results under the same hash, which is what merge checks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from evalpack.errors import UsageError

MAX_COUNT = 100_000
_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as Slurm's SLURM_ARRAY_TASK_ID usually is
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def suffix(self) -> str:
        """What the shard adds to its run directory's name: shards never share a directory."""
        return f"-shard{self.index}of{self.count}"

    def holds(self, benchmark: str, subset: str, sample_id: str) -> bool:
        return part_of(benchmark, subset, sample_id, self.count) == self.index


def part_of(benchmark: str, subset: str, sample_id: str, count: int) -> int:
    """The 1-based part of `count` a sample belongs to."""
    digest = hashlib.sha256(f"{benchmark}\x00{subset}\x00{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse(value) -> Shard | None:
    """`--shard I/N` (text, or a YAML mapping {index, count}) -> Shard; None when not given."""
    if value is None:
        return None
    if isinstance(value, Shard):
        return value
    if isinstance(value, dict) and set(value) == {"index", "count"}:
        value = f"{value['index']}/{value['count']}"
    m = _FORM.match(value) if isinstance(value, str) else None
    if not m:
        raise UsageError(f"--shard must be I/N (the I-th of N parts, 1-based), e.g. --shard 2/4; got {value!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(f"--shard {value}: the number of parts must be from 1 to {MAX_COUNT}, got {count}")
    if not 1 <= index <= count:
        raise UsageError(f"--shard {value}: the part must be from 1 to {count} (parts are counted from 1; "
                         f"a Kubernetes JOB_COMPLETION_INDEX counts from 0: add 1), got {index}")
    return Shard(index, count)


def report_note(report: dict) -> str | None:
    """What the report of one part of a run (a shard, a partial merge) says about it: its
    `meta.shard`, written by run_meta (a shard) or merge (a partial merge)."""
    shard = (report.get("meta") or {}).get("shard")
    if not isinstance(shard, dict):
        return None
    whole = shard.get("unsharded_num_samples") or {}
    counts = ", ".join(f"{ds.get('dataset')} {ds.get('num_samples')} of {whole.get(ds.get('dataset'), '?')}"
                       for ds in report.get("datasets") or [])
    return (f"shard {shard.get('index')}/{shard.get('count')}: this report covers only this part's samples "
            f"({counts}); `evalpack merge` joins the parts into the whole run's report")
