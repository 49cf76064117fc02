"""`evalpack mock --responder` functions for SWE-bench demonstrations on the real data.

gold: answers each instance with its gold patch (as a ```diff block); empty: answers with no patch;
noop: a patch that only adds a new file (it applies anywhere, so the tests run and judge it).
The instance is recognised by its problem statement in the prompt; the data file is
$EVALPACK_SWE_JSONL (a test.jsonl of swe_bench_verified_mini).
"""
import json
import os

with open(os.environ["EVALPACK_SWE_JSONL"], encoding="utf-8") as fh:
    ROWS = [json.loads(line) for line in fh if line.strip()]


def gold(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    for row in ROWS:
        if row["problem_statement"].strip() in prompt:
            return f"```diff\n{row['patch']}```\n"
    return "I do not know this issue."


def empty(body: dict) -> str:
    return "I could not find a fix for this issue."


NOOP = """\
diff --git a/EVALPACK_NOTE.txt b/EVALPACK_NOTE.txt
new file mode 100644
--- /dev/null
+++ b/EVALPACK_NOTE.txt
@@ -0,0 +1 @@
+no change to the code
"""


def noop(body: dict) -> str:
    return f"```diff\n{NOOP}```\n"
