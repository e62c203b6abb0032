"""Options shared by the generators, and writing a generated tree to disk."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from modelyard.errors import InvalidInput

__all__ = ["DeployOptions", "render_template", "write_tree"]

_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class DeployOptions:
    """Where the generated files point: the GCP project, region and image names.

    The defaults are placeholders a reviewer sees at once (``my-gcp-project``);
    Terraform takes the real values as variables, Kubernetes through the
    overlays' ``images:`` and the CI templates through their settings.
    """

    project: str = "my-gcp-project"
    region: str = "europe-west1"
    repository: str = "modelyard"
    namespace: str = "modelyard"
    workers: int = 1
    batch_schedule: str = "0 2 * * *"
    monitor_schedule: str = "0 * * * *"
    monitor_window: str = "1d"

    def __post_init__(self) -> None:
        if not _PROJECT.match(self.project):
            raise InvalidInput(
                f"--project must be a GCP project id (6-30 lowercase letters, digits or '-', "
                f"starting with a letter); got {self.project!r}"
            )
        if not _REGION.match(self.region):
            raise InvalidInput(
                f"--region must be a GCP region like europe-west1; got {self.region!r}"
            )
        if not re.match(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", self.repository):
            raise InvalidInput(f"--repository must be a lowercase name; got {self.repository!r}")
        if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", self.namespace):
            raise InvalidInput(f"--namespace must be a DNS-1123 label; got {self.namespace!r}")
        if self.workers < 1:
            raise InvalidInput(f"--workers must be at least 1; got {self.workers}")

    @property
    def registry_host(self) -> str:
        return f"{self.region}-docker.pkg.dev"

    def image(self, name: str) -> str:
        """The image of a workload in Artifact Registry, without a tag."""
        return f"{self.registry_host}/{self.project}/{self.repository}/{name}"


def check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise InvalidInput(f"an image tag must match {_TAG.pattern}; got {tag!r}")
    return tag


@lru_cache(maxsize=2)
def _environment(brackets: bool) -> jinja2.Environment:
    # CI templates use [[ ]] and [% %]: GitHub Actions' own ${{ }} stays literal.
    delimiters = (
        {
            "variable_start_string": "[[",
            "variable_end_string": "]]",
            "block_start_string": "[%",
            "block_end_string": "%]",
            "comment_start_string": "[#",
            "comment_end_string": "#]",
        }
        if brackets
        else {}
    )
    return jinja2.Environment(
        loader=jinja2.PackageLoader("modelyard.deploy", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Dockerfiles, HCL and YAML, not HTML
        **delimiters,
    )


def render_template(template: str, **values: object) -> str:
    """Render a template of ``templates/``; ``ci/`` templates use ``[[ ]]`` delimiters."""
    return _environment(template.startswith("ci/")).get_template(template).render(**values)


def write_tree(files: Mapping[str, str], out_dir: str | Path) -> list[Path]:
    """Write ``files`` (relative path -> text) under ``out_dir``; returns the paths written.

    Files are written whole and atomically (a temporary name, then a rename),
    so an interrupted run never leaves half a manifest for ``kubectl apply``.
    """
    root = Path(out_dir)
    written = []
    for relative, text in sorted(files.items()):
        if relative.startswith("/") or ".." in Path(relative).parts:
            raise InvalidInput(f"refusing to write outside {root}: {relative!r}")
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        if relative.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written
