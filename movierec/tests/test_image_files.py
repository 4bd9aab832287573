"""The image, the compose stack and the publish step keep the properties operators rely on.

What these files do when run is checked by building and running the image (CI's image job,
and a podman smoke run); this guards the choices against a careless edit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _read(name: str) -> str:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not in this tree (the image carries no build files)")
    return path.read_text()


def _runtime_stage() -> str:
    dockerfile = _read("Dockerfile")
    return dockerfile.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]


def test_if_the_image_probes_health_then_it_follows_the_bind_not_a_fixed_port() -> None:
    healthcheck = re.search(r"^HEALTHCHECK (?:.*\\\n)*.*$", _runtime_stage(), re.M)
    assert healthcheck is not None
    assert healthcheck.group(0).endswith('CMD ["python", "-m", "movierec.healthcheck"]')
    assert "8000" not in healthcheck.group(0)


def test_if_the_image_runs_then_user_and_group_are_10001_and_own_only_var() -> None:
    runtime = _runtime_stage()
    assert "groupadd --system --gid 10001 movierec" in runtime
    assert "--uid 10001 --gid 10001" in runtime
    assert "\nUSER 10001:10001\n" in runtime
    assert "--chown" not in runtime
    assert re.findall(r"install -d -o 10001 -g 10001 -m \d+ (\S+)", runtime) == ["/app/var"]


def test_if_the_runtime_image_is_built_then_tests_and_pip_are_left_out() -> None:
    dockerfile = _read("Dockerfile")
    assert "pip uninstall --yes --quiet pip setuptools" in dockerfile
    assert "-name tests" in dockerfile
    assert "COPY --from=source /src ./" in _runtime_stage()


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(_read("docker-compose.yml"))
    return loaded


def test_if_compose_starts_the_init_job_then_it_has_no_healthcheck() -> None:
    assert _compose()["services"]["init"]["healthcheck"] == {"disable": True}


def test_if_compose_starts_web_then_it_keeps_the_image_healthcheck() -> None:
    assert "healthcheck" not in _compose()["services"]["web"]


def test_if_the_workflow_publishes_then_the_image_name_is_lower_case() -> None:
    workflow = yaml.safe_load(_read(".github/workflows/ci.yml"))
    steps = workflow["jobs"]["publish"]["steps"]
    push = next(step["run"] for step in steps if "docker push" in step.get("run", ""))
    assert 'target="ghcr.io/${GITHUB_REPOSITORY,,}:${GITHUB_SHA}"' in push
    assert "github.repository" not in push
