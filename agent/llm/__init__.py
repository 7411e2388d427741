"""LLM backends (one factory from a `--llm` spec), privacy (scrubbing, the call log) and the one
structured call path that naming, briefs and the question parser share (docs/architecture.md).

`call_log.CallLog`, the one LangChain class, is not re-exported: importing this package must not
load LangChain (bench/RESULTS.md "Cold start")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.llm.backends import (
        LLMError,
        LLMSpec,
        LLMSpecError,
        LLMUnavailable,
        invoke_llm,
        make_chat_model,
        parse_llm_spec,
        probe,
        structured_output,
    )
    from segmint.agent.llm.plain_text import plain_text_problems
    from segmint.agent.llm.privacy import (
        pii_count,
        read_call_log,
        scrub,
        scrub_value,
        shared_text,
        shared_values,
    )
    from segmint.agent.llm.structured import (
        Outcome,
        StructuredChat,
        StructuredOutputUnsupported,
        Unparsed,
        open_chat_model,
        unwrap,
    )

__all__ = [
    "LLMError",
    "LLMSpec",
    "LLMSpecError",
    "LLMUnavailable",
    "Outcome",
    "StructuredChat",
    "StructuredOutputUnsupported",
    "Unparsed",
    "invoke_llm",
    "make_chat_model",
    "open_chat_model",
    "parse_llm_spec",
    "pii_count",
    "plain_text_problems",
    "probe",
    "read_call_log",
    "scrub",
    "scrub_value",
    "shared_text",
    "shared_values",
    "structured_output",
    "unwrap",
]

lazy_package(__name__, {
    "backends": (
        "LLMError", "LLMSpec", "LLMSpecError", "LLMUnavailable", "invoke_llm", "make_chat_model",
        "parse_llm_spec", "probe", "structured_output",
    ),
    "plain_text": ("plain_text_problems",),
    "privacy": ("pii_count", "read_call_log", "scrub", "scrub_value", "shared_text", "shared_values"),
    "structured": (
        "Outcome", "StructuredChat", "StructuredOutputUnsupported", "Unparsed", "open_chat_model", "unwrap",
    ),
})
