"""Building blocks of the lab format's models: names, ports, strictness, "one of".

Shared by model.py and by the modules that declare check kinds and
services (checks/, services.py), which model.py assembles.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$"
NodeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65535)]
Proto = Literal["tcp", "udp"]
UserName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
ExitCode = Annotated[int, Field(ge=0, le=255)]


class Strict(BaseModel):
    # Strict types: a lab says `port: 80`, not `port: "80"`, and `true`, not `yes` (YAML 1.2
    # reads `yes` as text). The published JSON Schema says the same (labctl.lab.schema).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class OneOf(Strict):
    """A mapping holding exactly one of KINDS, e.g. `- http: {port: 80}`."""

    KINDS: ClassVar[tuple[str, ...]] = ()
    WHAT: ClassVar[str] = ""

    @model_validator(mode="after")
    def _exactly_one(self) -> OneOf:
        if sum(getattr(self, k) is not None for k in self.KINDS) != 1:
            raise ValueError(f"a {self.WHAT} is exactly one of: " + ", ".join(self.KINDS))
        return self

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Strict:
        return getattr(self, self.kind)


def one_of(name: str, base: type[OneOf], kinds: dict[str, type[Strict]], doc: str
           ) -> type[OneOf]:
    """A OneOf model with one optional field per registered kind, in registration order."""
    fields = {kind: (cls | None, None) for kind, cls in kinds.items()}
    made = create_model(name, __base__=base, __doc__=doc, __module__="labctl.lab.model", **fields)
    made.KINDS = tuple(kinds)
    return made
