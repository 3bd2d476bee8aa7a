"""Every code block of README.rst and docs/**/*.rst runs, so that a recipe cannot rot.

One test per block, with the id ``page:line``. The blocks of a page run in
order in one Python process (one namespace) whose working folder is a fresh
folder of the page, so a block may use the names and files of the blocks
above it; a block selected alone first runs the blocks above it.

* ``python`` blocks are executed; one whose first line is a file name
  comment (``# prepare.py``) is written to the page's folder instead, and
  the ``bash`` block that runs it follows in the page.
* ``pycon`` blocks run as doctests in the page's namespace.
* ``bash`` and ``console`` blocks run with bash, one command at a time,
  except the commands and blocks listed below with the reason why not.
* ``text`` and ``bibtex`` blocks are not code and are skipped, saying so.
* A literal block without a language (``::``) or with any other language
  fails: a block cannot escape the test by its markup.

Where a page's prose says a name is the reader's own (their data, their
fitted model), ``PRELUDES`` defines it, small. Where a block demonstrates a
long run on purpose, ``SUBSTITUTIONS`` shortens it and says how.
"""

import importlib.util
import json
import os
import re
import selectors
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# Built or generated pages, not written by hand.
SKIPPED_DIRS = {"_build", "generated", "auto_examples", "_templates"}
PAGES = [ROOT / "README.rst"] + sorted(
    path
    for path in (ROOT / "docs").rglob("*.rst")
    if not SKIPPED_DIRS.intersection(path.relative_to(ROOT / "docs").parts)
)

NOT_CODE = {"text": "a diagram or a listing, not code", "bibtex": "a citation, not code"}
PYTHON, PYCON, SHELL = {"python"}, {"pycon"}, {"bash", "console"}

# Names that the prose leaves to the reader, as (page, code defining them).
DIGITS = "from sklearn.datasets import load_digits\nX_digits = (load_digits().data / 16).astype('float32')\n"
PRELUDES = {
    "docs/user_guide/clustering_vs_hashing.rst": DIGITS + "X_database, X_queries = X_digits[:1500], X_digits[1500:]\n",
    "docs/user_guide/gpu.rst": DIGITS + "from imsat_sklearn import IMSATClusterer\nX, X_new = X_digits[:1500], X_digits[1500:]\n",
    # The streaming recipe's features.npy: 500 digits, one chunk of the recipe, so 50 short passes.
    "docs/user_guide/scaling.rst": DIGITS + "import numpy\nnumpy.save('features.npy', X_digits[:500])\n",
    "docs/user_guide/troubleshooting.rst": DIGITS
    + "import joblib\nfrom imsat_sklearn import IMSATClusterer\n"
    + "model = IMSATClusterer(n_clusters=10, max_iter=5, random_state=0).fit(X_digits)\n"
    + "joblib.dump(model, 'fitted.joblib')\n",
}

# (page, text in the block) -> (replacement, why): long runs on purpose, shortened.
SUBSTITUTIONS = {
    ("docs/user_guide/scaling.rst", "n_workers=8"): (
        "n_workers=2",
        "the recipe sizes the cluster for an 8-core machine; CI has 2 cores",
    ),
    ("docs/user_guide/n_clusters.rst", "range(6, 15)"): (
        "range(9, 11)",
        "the page's measurement fits 9 values of K; two show that the loop runs",
    ),
}

# (page, text in the block) -> reason: blocks that are not run at all.
BLOCKS_NOT_RUN = {
    ("docs/user_guide/reproduction.rst", "reproduce_clustering.py"): "the paper's table: real data, hours of CPU",
    ("docs/user_guide/reproduction.rst", "cluster_mnist.py"): "all of MNIST, and a GPU for the second command",
    ("docs/user_guide/reproduction.rst", "stability.py"): "75 fits, MNIST among them: an hour of CPU",
    ("docs/user_guide/reproduction.rst", "omniglot_augmentation.py"): "fifteen fits, 36 minutes on 2 cores, and the Omniglot files",
    ("docs/user_guide/reproduction.rst", "hash_bits.py"): "MNIST fits at 16, 32 and 64 bits: an hour of CPU",
    ("docs/user_guide/reproduction.rst", "retrieval_mnist.py"): "three IMSAT fits on all 70,000 MNIST images: half an hour of a 2-core CPU",
}

# Commands of shell blocks that are not run, by pattern -> reason.
COMMANDS_NOT_RUN = {
    r"pip install\b": "installs packages from the network",
    r"python -m pytest\b": "the test suite, which this test is part of",
    r"sphinx-build\b": "builds the site with its gallery; CI runs it after the tests",
}

# (page, text in the block) -> what the block needs to run, when not everywhere.
NEEDS = {
    ("docs/user_guide/gpu.rst", 'device="cuda"'): "cuda",
    ("docs/user_guide/scaling.rst", "from ray.util.joblib"): "ray",
}


def _unmet(need):
    if need == "cuda" and not torch.cuda.is_available():
        return "trains on a CUDA GPU; this machine has none"
    if need == "ray" and importlib.util.find_spec("ray") is None:
        return "uses Ray, which is not installed (an optional backend)"
    return None


# (page, text in the block): blocks that take more than about 20 s on 2 CPU cores.
SLOW = {
    ("docs/user_guide/scaling.rst", "LocalCluster"),
    # Refits the grid search of the block above.
    ("docs/user_guide/scaling.rst", "from ray.util.joblib"),
    ("docs/user_guide/scaling.rst", "python prepare.py"),
    ("docs/user_guide/scaling.rst", "torchrun --standalone --nproc_per_node=2 train.py"),
    ("docs/user_guide/n_clusters.rst", "seed_agreement"),
}

# Seconds per block or command, a guard against a hung process: the longest
# block, the Dask grid search, took about 6 minutes on a 2-core machine
# shared with other jobs.
TIMEOUT = 900


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # of the directive
    language: str
    code: str
    first_code_line: int

    @property
    def id(self):
        return f"{self.page}:{self.line}"

    def matches(self, rules):
        return [value for key, value in rules.items() if key[0] == self.page and key[1] in self.code]

    @property
    def file_name(self):
        """The file a python block is written to, from its first line ``# name.py``."""
        match = re.fullmatch(r"#\s*(\w+\.py)", self.code.splitlines()[0].strip())
        return match and match.group(1)


def _blocks(path):
    """Every literal block of a page: ``code-block``/``code``/``sourcecode`` directives and ``::`` paragraphs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = re.match(r"\s*\.\.\s+(code-block|code|sourcecode)::\s*(\S*)", line)
        literal = not line.lstrip().startswith("..") and line.rstrip().endswith("::")
        if not (directive or literal):
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        language = (directive.group(2) or "none") if directive else "none (a :: literal block)"
        body_start = i + 1
        # Directive options (":linenos:") sit right under the directive.
        while directive and body_start < len(lines) and re.match(r"\s+:[\w-]+:", lines[body_start]):
            body_start += 1
        end = body_start
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        body = lines[body_start:end]
        text = "\n".join(body)
        if text.strip():
            first = body_start + next(k for k, b in enumerate(body) if b.strip())
            code = _dedent(lines[first:end])
            blocks.append(Block(page, i + 1, language, code, first + 1))
        i = end
    return blocks


def _dedent(lines):
    width = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[width:] for line in lines).rstrip() + "\n"


BLOCKS = [block for path in PAGES for block in _blocks(path)]


def _slow(block):
    return any(key[0] == block.page and key[1] in block.code for key in SLOW)


def _params():
    for block in BLOCKS:
        yield pytest.param(block, id=block.id, marks=[pytest.mark.slow] if _slow(block) else [])


# ---- running a page --------------------------------------------------------

# Runs the page's python and pycon blocks, one request (a JSON line on stdin)
# at a time, in one namespace; answers with a marked JSON line, since the
# blocks and the libraries they call print on the same stream.
WORKER = r"""
import contextlib, doctest, io, json, sys, traceback
namespace = {"__name__": "__main__"}
for request in sys.stdin:
    request = json.loads(request)
    output = io.StringIO()
    status = "ok"
    try:
        with contextlib.redirect_stdout(output):
            if request["language"] == "pycon":
                test = doctest.DocTestParser().get_doctest(
                    request["code"], namespace, request["name"], request["name"], request["line"] - 1
                )
                runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
                runner.run(test, out=output.write, clear_globs=False)
                if runner.failures:
                    status = "failed"
            else:
                # Leading newlines: tracebacks give the page's own line numbers.
                code = "\n" * (request["line"] - 1) + request["code"]
                exec(compile(code, request["name"], "exec"), namespace)
    except BaseException:
        status = "failed"
        output.write(traceback.format_exc())
    sys.stdout.write("\x00RESULT " + json.dumps({"status": status, "output": output.getvalue()}) + "\n")
    sys.stdout.flush()
"""


def _environment():
    env = dict(os.environ)
    # This checkout's package, whatever else is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # `python`, `torchrun` and `imsat-sklearn` of the interpreter running the tests.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    # One thread per process: several of them share the CI's 2 cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    return env


class Page:
    """The working folder, the Python process and the blocks already run of one page."""

    def __init__(self, page, folder):
        self.page, self.folder, self.done = page, folder, set()
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", WORKER],
            cwd=folder,
            env=_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if page in PRELUDES:
            status, output = self.python("prelude", PRELUDES[page], 1, "python")
            assert status == "ok", f"the test's prelude of {page} failed:\n{output}"

    def python(self, name, code, line, language):
        request = {"name": name, "code": code, "line": line, "language": language}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        output, deadline = [], time.monotonic() + TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    self.close()
                    return "failed", "".join(output) + f"\n(no answer within {TIMEOUT} s)"
                text = self.process.stdout.readline()
                if not text:
                    return "failed", "".join(output) + "\n(the page's Python process ended)"
                if text.startswith("\x00RESULT "):
                    result = json.loads(text[len("\x00RESULT ") :])
                    return result["status"], "".join(output) + result["output"]
                output.append(text)

    def shell(self, script):
        completed = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=self.folder,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        status = "ok" if completed.returncode == 0 else "failed"
        return status, f"$ {script}\n{completed.stdout}{completed.stderr}"

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    opened = {}

    def get(page):
        if page not in opened:
            folder = tmp_path_factory.mktemp(re.sub(r"\W", "_", page))
            opened[page] = Page(page, folder)
        return opened[page]

    yield get
    for page in opened.values():
        page.close()


def _code(block):
    code = block.code
    for (page, old), (new, _) in SUBSTITUTIONS.items():
        if page == block.page and old in code:
            code = code.replace(old, new)
    return code


def _shell_commands(block):
    """The block's commands: continuation lines joined, ``&&`` chains split, ``$ `` prompts removed."""
    text = re.sub(r"\\\n\s*", "", block.code)
    commands = []
    for line in text.splitlines():
        if block.language == "console":
            if not line.startswith("$ "):
                continue  # output shown under a command
            line = line[2:]
        commands.extend(part.strip() for part in line.split("&&") if part.strip())
    return commands


def _plan(block):
    """What to do with a block: ("skip", reason) or ("run", None)."""
    if block.language in NOT_CODE:
        return "skip", f"{block.language}: {NOT_CODE[block.language]}"
    if block.language not in PYTHON | PYCON | SHELL:
        return "unknown", None
    for reason in block.matches(BLOCKS_NOT_RUN):
        return "skip", f"not run: {reason}"
    for need in block.matches(NEEDS):
        unmet = _unmet(need)
        if unmet:
            return "skip", unmet
    if block.language in SHELL and not _runnable(block):
        reasons = {reason for command in _shell_commands(block) for reason in _not_run_reasons(command)}
        return "skip", "not run: " + "; ".join(sorted(reasons))
    return "run", None


def _not_run_reasons(command):
    return [reason for pattern, reason in COMMANDS_NOT_RUN.items() if re.match(pattern, command)]


def _runnable(block):
    return [command for command in _shell_commands(block) if not _not_run_reasons(command)]


def _run(block, page):
    """Run one block in its page; return (status, output)."""
    code = _code(block)
    if block.language in SHELL:
        return page.shell("\n".join(_runnable(block)))
    if block.language == "python" and block.file_name:
        compile(code, block.file_name, "exec")  # a script with a syntax error fails here
        (page.folder / block.file_name).write_text(code, encoding="utf-8")
        return "ok", ""
    return page.python(str(ROOT / block.page), code, block.first_code_line, block.language)


@pytest.mark.parametrize("block", _params())
def test_block_runs(block, pages):
    plan, reason = _plan(block)
    if plan == "unknown":
        pytest.fail(
            f"{block.id}: a literal block of language {block.language!r}: give it one of "
            f"{sorted(PYTHON | PYCON | SHELL | set(NOT_CODE))} (.. code-block:: LANGUAGE), "
            "and teach tests/test_docs_code.py any other"
        )
    if plan == "skip":
        pytest.skip(reason)
    page = pages(block.page)
    # The blocks above this one, when it was selected without them; a fast
    # block needs no slow one, which the default run leaves out.
    for earlier in BLOCKS:
        if earlier.page != block.page or earlier.line >= block.line or earlier.line in page.done:
            continue
        if _slow(earlier) and not _slow(block):
            continue
        page.done.add(earlier.line)
        if _plan(earlier)[0] != "run":
            continue
        status, output = _run(earlier, page)
        assert status == "ok", f"{earlier.id}, above {block.id}, failed:\n{output}"
    page.done.add(block.line)
    status, output = _run(block, page)
    assert status == "ok", f"{block.id} failed:\n{output}"


# ---- the rules of this file stay true ---------------------------------------


def test_every_rule_matches_a_block():
    """A rule whose block was edited away fails here instead of doing nothing."""
    for rules in (PRELUDES, SUBSTITUTIONS, BLOCKS_NOT_RUN, NEEDS, dict.fromkeys(SLOW)):
        for key in rules:
            if isinstance(key, str):
                assert any(block.page == key for block in BLOCKS), key
            else:
                assert any(block.page == key[0] and key[1] in block.code for block in BLOCKS), key


def test_every_code_block_directive_is_a_block():
    """The parser finds each ``code-block`` of a page, nested ones (in a note) included."""
    for path in PAGES:
        page = path.relative_to(ROOT).as_posix()
        directives = re.findall(r"^\s*\.\. code-block::", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
        assert sum(block.page == page for block in BLOCKS) == len(directives), page
    assert {"README.rst", "docs/user_guide/scaling.rst"} <= {block.page for block in BLOCKS}
    assert not any(part in SKIPPED_DIRS for block in BLOCKS for part in Path(block.page).parts)


def test_not_run_benchmark_commands_name_existing_options():
    """A benchmark command that is not run still names a script and options that exist."""
    for block in BLOCKS:
        if not block.matches(BLOCKS_NOT_RUN):
            continue
        for command in _shell_commands(block):
            words = shlex.split(command.replace("$R", "python benchmarks/reproduce_clustering.py"))
            scripts = [word for word in words if word.startswith("benchmarks/")]
            if not scripts:
                continue
            script = ROOT / scripts[0]
            assert script.is_file(), f"{block.id}: {script} does not exist"
            text = script.read_text(encoding="utf-8")
            for option in (word for word in words if word.startswith("--")):
                assert f'"{option}"' in text, f"{block.id}: {scripts[0]} has no option {option}"
