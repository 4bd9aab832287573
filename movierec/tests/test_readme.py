"""README.md's command blocks run as written, against a live server.

HOW TO WRITE A COMMAND BLOCK IN README.md (this test enforces it):

- Every ```sh block is preceded, on the line just before its fence, by one of two markers:

      <!-- runnable -->                 this test runs the block
      <!-- not runnable: <why> -->     it is not run (say why: needs Docker, starts a server...)

- A runnable block holds commands only: no `$ ` prompts, no output. Show output in a ```text
  block right after it (only blank lines between): that block must then equal what the
  commands print on stdout, line by line, where `...` stands for any text within a line
  (tokens, timings). Without a ```text block only the exit status is checked.
- Runnable blocks run in README order in ONE bash (`set -euo pipefail`), as a reader pastes
  them into one terminal after the Quick start, so a block may use a variable (`$KEY`,
  `$TOKEN`) an earlier block set. Every command must succeed: a curl that shows an error
  answer must not use --fail. Print the status with `-w ' %{http_code}\\n'`.
- The server is the Quick start's: write its address as http://127.0.0.1:8000 (this test
  points it at its own gunicorn). The data is ml-100k, ingested, with one trained version
  active; `.venv/bin/python manage.py ...` runs against the same database and Redis.

A failing block is reported with its README line number, its output and its stderr.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from catalog.services import movielens_ingest
from movierec.tests.live import ROOT, gunicorn_server, shared_env
from recommender.services import model_train

README = ROOT / "README.md"
RUNNABLE = "<!-- runnable -->"
NOT_RUNNABLE = re.compile(r"^<!-- not runnable: .+ -->$")
QUICK_START_ADDRESS = re.compile(r"(?:http://)?(?:127\.0\.0\.1|localhost):8000")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    last: int  # 1-based line of the closing fence
    lang: str
    marker: str  # the line before the fence
    text: str
    expected: str | None = None  # the ```text block that follows a runnable block


def readme_blocks(markdown: str) -> list[Block]:
    """Every fenced block, with the line before it; a ```text block right after a ```sh block
    (only blank lines between) becomes that block's expected output."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        block = Block(
            line=index + 1,
            last=end + 1,
            lang=fence.group(1),
            marker=lines[index - 1].strip() if index > 0 else "",
            text="\n".join(lines[index + 1 : end]),
        )
        previous = blocks[-1] if blocks else None
        if (
            block.lang == "text"
            and previous is not None
            and previous.lang == "sh"
            and previous.expected is None
            and not "".join(lines[previous.last : index]).strip()
        ):
            blocks[-1] = replace(previous, expected=block.text)
        else:
            blocks.append(block)
        index = end + 1
    return blocks


def output_matches(expected: str, actual: str) -> bool:
    """Line by line, `...` matching any text within a line; trailing spaces do not count."""
    want = [line.rstrip() for line in expected.strip("\n").splitlines()]
    got = [line.rstrip() for line in actual.strip("\n").splitlines()]
    if len(want) != len(got):
        return False
    for pattern, line in zip(want, got, strict=True):
        regex = ".*".join(re.escape(part) for part in pattern.split("..."))
        if not re.fullmatch(regex, line):
            return False
    return True


def _sh_blocks() -> list[Block]:
    return [block for block in readme_blocks(README.read_text()) if block.lang == "sh"]


def test_if_a_readme_shell_block_is_unmarked_then_this_test_names_it() -> None:
    unmarked = [
        block.line
        for block in _sh_blocks()
        if block.marker != RUNNABLE and not NOT_RUNNABLE.match(block.marker)
    ]
    assert unmarked == [], (
        f"README.md lines {unmarked}: put `{RUNNABLE}` or `<!-- not runnable: why -->` on the "
        "line before each ```sh fence (see movierec/tests/test_readme.py)"
    )


def test_if_a_runnable_block_has_a_prompt_then_this_test_names_it() -> None:
    prompted = [
        block.line
        for block in _sh_blocks()
        if block.marker == RUNNABLE
        and any(line.startswith("$ ") for line in block.text.splitlines())
    ]
    assert prompted == []


def test_output_blocks_match_line_by_line_with_ellipses() -> None:
    assert output_matches('{"token":"eyJ..."} 200\n', '{"token":"eyJhbGc.x.y"} 200')
    assert not output_matches('{"token":"eyJ..."} 200', '{"token":"eyJhbGc"} 401')
    assert not output_matches("one\ntwo", "one")
    assert output_matches("a (b) [c] ...", "a (b) [c] anything at all  ")


def test_if_the_readme_is_parsed_then_outputs_attach_to_the_block_before_them() -> None:
    markdown = "<!-- runnable -->\n```sh\necho hi\n```\n\n```text\nhi\n```\n```text\nalone\n```\n"
    [first, second] = readme_blocks(markdown)
    assert (first.lang, first.line, first.marker, first.text) == ("sh", 2, RUNNABLE, "echo hi")
    assert first.expected == "hi"
    assert (second.lang, second.text) == ("text", "alone")


@pytest.mark.slow
@pytest.mark.dataset
@pytest.mark.django_db(transaction=True)
def test_every_runnable_readme_block_runs_as_written(movielens_dir: Path, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("README's commands are written for a development checkout (.venv)")
    runnable = [block for block in _sh_blocks() if block.marker == RUNNABLE]
    assert runnable, "README.md has no runnable block"

    # What the Quick start's `make dev` leaves behind: the data and an active model.
    movielens_ingest(source=movielens_dir)
    assert model_train(seed=42).activated

    with gunicorn_server(workers=1, metrics_dir=tmp_path / "metrics") as (base, _):
        address = base.removeprefix("http://")
        script = ["set -euo pipefail", "shopt -s inherit_errexit"]
        for number, block in enumerate(runnable):
            marker = f"printf '\\n@@block {number}@@\\n'"
            script.append(f"{marker}; {marker} >&2")
            script.append(QUICK_START_ADDRESS.sub(f"http://{address}", block.text))
        script.append("printf '\\n@@end@@\\n'")
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=ROOT,
            env={**shared_env(), "MOVIELENS_SOURCE": str(movielens_dir)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    outputs = _split(result.stdout)
    errors = _split(result.stderr)
    for number, block in enumerate(runnable):
        where = f"README.md line {block.line}"
        if number not in outputs:
            break
        finished = number + 1 in outputs or "end" in outputs
        assert finished, (
            f"{where}: the block failed (exit status {result.returncode})\n--- stdout\n"
            f"{outputs[number]}\n--- stderr\n{errors.get(number, '')}"
        )
        if block.expected is not None:
            assert output_matches(block.expected, outputs[number]), (
                f"{where}: the output differs from the ```text block after it\n--- README\n"
                f"{block.expected}\n--- actual\n{outputs[number]}\n--- stderr\n"
                f"{errors.get(number, '')}"
            )
    assert result.returncode == 0, result.stderr[-4000:]


def _split(stream: str) -> dict[int | str, str]:
    """Output per block, keyed by block number ("end" once the script finished)."""
    parts: dict[int | str, str] = {}
    current: int | str | None = None
    lines: list[str] = []
    for line in stream.splitlines():
        marker = re.fullmatch(r"@@(block (\d+)|end)@@", line)
        if marker:
            if current is not None:
                parts[current] = "\n".join(lines).strip("\n")
            current = int(marker.group(2)) if marker.group(2) else "end"
            lines = []
        else:
            lines.append(line)
    if current is not None:
        parts[current] = "\n".join(lines).strip("\n")
    return parts
