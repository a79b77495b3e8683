"""A hypothesis fuzzer over configurations and override values: every input ends either in valid
metadata or in a torchpins error, never in another exception, never in a header that could be
injected into METADATA. CI runs a bounded number of examples (FUZZ_EXAMPLES, default
300); run more by hand: FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.metadata import Metadata

from torchpins.errors import TorchpinsError
from torchpins.facts import FACTS, Facts, Source, parse_fact_value
from torchpins.resolve import resolve
from torchpins.settings import Project, parse_settings

#: How often each outcome occurred, to see that the fuzzer reaches both (printed with -s).
OUTCOMES = {"metadata": 0, "error": 0}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))

NAMES = ["xformers", "vllm", "torch", "flash-attn", "Flash_Attn", "bitsandbytes", "a", "b"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
SPECIFIERS = st.one_of(
    st.sampled_from(
        [">=2.6", "<2.8", "~=2.7.0", "==2.8.*", ">=2.7.1,<2.8", "!=2.7.0", "==0.0.31",
         "=0.0.31", "===2.8", ">=2.8+cu128", "", ">=2.9.0.dev0", ">=12.8", "<12.6", "9.0"]
    ),
    TEXT,
)  # fmt: skip
REQUIREMENTS = st.one_of(
    st.builds(lambda n, s: n + s, st.sampled_from(NAMES), SPECIFIERS),
    st.sampled_from(["triton>=3.1; sys_platform == 'linux'", "x[extra]>=1", "pkg @ https://x/y"]),
    TEXT,
)
SCALARS = st.one_of(TEXT, st.booleans(), st.integers(), st.floats(allow_nan=False))
FACT_NAMES = st.one_of(st.sampled_from(list(FACTS)), TEXT)
CONDITION_VALUES = st.one_of(
    SPECIFIERS,
    st.booleans(),
    st.lists(st.sampled_from(["linux", "darwin", "cu128", "cpu"])),
    SCALARS,
)
CONDITIONS = st.dictionaries(FACT_NAMES, CONDITION_VALUES, max_size=3)
EXTRA_NAMES = st.one_of(st.sampled_from(["vllm", "flash-attn", "cuda", "Flash_Attn"]), TEXT)
ROWS = st.fixed_dictionaries(
    {},
    optional={
        "when": CONDITIONS,
        "unless": CONDITIONS,
        "error": st.one_of(TEXT, SCALARS),
        "remove": st.lists(st.one_of(st.sampled_from(NAMES), TEXT), max_size=3),
        "drop-extras": st.lists(EXTRA_NAMES, max_size=2),
        "extras": st.dictionaries(EXTRA_NAMES, st.lists(REQUIREMENTS, max_size=3), max_size=2),
        "add": st.lists(REQUIREMENTS, max_size=3),
        "pins": st.dictionaries(st.one_of(st.sampled_from(NAMES), TEXT), SPECIFIERS, max_size=3),
        "bogus": SCALARS,
    },
)
CONFIGS = st.fixed_dictionaries(
    {"dependencies": st.lists(REQUIREMENTS, max_size=5)},
    optional={
        "optional-dependencies": st.dictionaries(
            EXTRA_NAMES, st.lists(REQUIREMENTS, max_size=3), max_size=3
        ),
        "unmatched": st.sampled_from(["error", "warn", "ignore", "maybe"]),
        "torch": st.fixed_dictionaries(
            {},
            optional={
                "pin": st.sampled_from(["minor", "exact", "local", "floor", "none", "major"]),
                "missing": st.sampled_from(["error", "unpinned", "2.8.0", "latest"]),
            },
        ),
        "matrix": st.lists(ROWS, max_size=5),
    },
)
OVERRIDE_TEXT = st.one_of(
    st.sampled_from(
        ["2.8.0", "2.7.1+cu126", "2.9.0.dev20250801+cu128", "", "12.8", "6.3", "linux", "darwin",
         "x86_64", "cpu", "cuda", "1", "no", "8.0,9.0", "2.8.0\nRequires-Dist: evil"]
    ),
    TEXT,
)  # fmt: skip
OVERRIDES = st.dictionaries(st.sampled_from(list(FACTS)), OVERRIDE_TEXT)


def facts_from(overrides: dict[str, str]) -> Facts:
    values: dict[str, Any] = dict.fromkeys(FACTS)
    values.update(torch="2.8.0", python="3.12", platform="linux", machine="x86_64")
    for name, text in overrides.items():
        values[name] = parse_fact_value(name, text, f"TORCHPINS_{name}")
    if isinstance(values["torch"], str) and "+" in values["torch"]:
        values["torch"], values["torch-local"] = values["torch"].split("+", 1)
    return Facts(values, dict.fromkeys(values, Source("override", "fuzz")))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",  # CI: the same examples every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(config=CONFIGS, overrides=OVERRIDES)
def test_any_input_gives_valid_metadata_or_a_torchpins_error(
    config: dict[str, Any], overrides: dict[str, str]
) -> None:
    try:
        project = Project(directory=".", name="fuzz", settings=parse_settings(config))
        resolution = resolve(project, facts_from(overrides))
    except TorchpinsError as error:
        message = str(error)
        assert message
        assert not any(ch in message for ch in "\n\r\u2028\u2029")
        OUTCOMES["error"] += 1
        return
    OUTCOMES["metadata"] += 1
    record = resolution.record()
    json.dumps(record)  # the build record is serialisable
    for line in (*record["requires_dist"], *record["provides_extra"]):
        assert not any(ord(ch) < 32 or ch in "\u2028\u2029\x7f" for ch in line), line
    Metadata.from_raw(
        {
            "metadata_version": "2.4",
            "name": "fuzz",
            "version": "1.0",
            "requires_dist": record["requires_dist"],
            "provides_extra": record["provides_extra"],
        },
        validate=True,
    )


def test_the_fuzzer_reaches_both_outcomes() -> None:
    """Runs after the fuzzer (file order): a fuzzer that only ever hit errors would prove little."""
    if sum(OUTCOMES.values()) < 100:
        return  # run alone (-k), with too few examples to judge
    assert OUTCOMES["metadata"] >= 0.05 * sum(OUTCOMES.values()), OUTCOMES
    assert OUTCOMES["error"] >= 0.05 * sum(OUTCOMES.values()), OUTCOMES
