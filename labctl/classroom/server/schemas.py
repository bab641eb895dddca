"""The API's requests and responses, so that its OpenAPI description is exact."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LAB_BYTES = 64 * 1024


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(Strict):
    """Every refusal and error: one message."""

    detail: str


class WhoAmI(Strict):
    user: str
    role: Literal["instructor", "student"]
    via: Literal["socket", "token"]
    instance: str = Field(description="Your own labs run in this instance (copies: -2, -3...).")


class LabInfo(Strict):
    name: str
    description: str
    nodes: list[str]
    source: Literal["server", "yours"]


class LabUpload(Strict):
    yaml: str = Field(max_length=MAX_LAB_BYTES, description="The lab file's text (lab.yaml).")


class Node(Strict):
    lab: str
    instance: str
    node: str
    status: str
    ip: str
    mac: str
    services: str
    capture: str = ""
    addresses: dict[str, str] = {}
    macs: dict[str, str] = {}
    host: str = Field("", description="The host it runs on (a swarm's; empty on one host).")


class UpResult(Strict):
    lab: str
    instance: str
    nodes: list[Node]


class UpProgress(Strict):
    lab: str
    instance: str
    state: Literal["queued", "starting", "none"]
    place: int | None = Field(description="Place in the queue while queued (1: next).")
    waiting: int = Field(description="`up`s waiting on this server.")


class DownResult(Strict):
    lab: str
    instance: str
    containers: int
    networks: int


Argument = Annotated[str, Field(max_length=16_384, pattern=r"^[^\x00]*$")]


class ExecRequest(Strict):
    command: list[Argument] = Field(min_length=1, max_length=256,
                                    description="argv, run without a shell (use sh -c for "
                                                "one); no NUL characters.")
    timeout: int = Field(60, ge=1, le=600, description="Seconds before the command is killed "
                         "(exit code 124).")


class ExecResult(Strict):
    exit_code: int
    stdout: str
    stderr: str


class CheckResult(Strict):
    index: int
    kind: str
    title: str
    passed: bool
    message: str = ""
    expected: str = ""
    seen: str = ""
    seconds: float = 0.0


class CheckReport(Strict):
    lab: str
    instance: str
    passed: bool
    checks: list[CheckResult]


class LogsResult(Strict):
    lab: str
    instance: str
    node: str
    text: str


class StepResult(Strict):
    index: int
    node: str
    command: str
    passed: bool
    exit_code: int | None = None
    output: str = ""
    message: str = ""
    seconds: float = 0.0
    name: str | None = None


class LabReport(Strict):
    lab: str
    instance: str
    path: str | None = None
    passed: bool
    error: str | None = None
    nodes: list[Node] = []
    steps: list[StepResult] = []
    checks: list[CheckResult] = []
    seconds: dict[str, float] = {}
    broken: str | None = None  # status: what is wrong with a half-made lab
    problems: list[str] = []  # the lab file's, `file:line: ...`
    started: str | None = None  # ISO 8601, UTC


class Report(Strict):
    """The report `labctl --json` prints (docs/json.md), for up, status, check and test."""

    report_schema: Literal["labctl.service.report/1"] = Field(alias="schema")
    command: Literal["up", "status", "check", "test"]
    passed: bool
    labs: list[LabReport]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CapturedFile(Strict):
    node: str
    pcap: str = Field(description="The node's capture file, base64.")


class Captures(Strict):
    lab: str
    instance: str
    files: list[CapturedFile]
    nodes: list[Node]
