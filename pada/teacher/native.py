"""Native structured output: the role's schema in each provider's own request field (docs/teacher.md).

``teacher.structured_output: native`` sends the schema where the provider's server constrains (or tool-calls)
the answer; ``prompt`` only shows it in the prompt and parses the reply (pada.teacher.structured parses
both). The fields sent join the teacher's cache key, so this module needs no version of its own.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel

# teacher.structured_output: "native" sends the role's schema in the provider's structured-output field, so the
# server constrains (or tool-calls) the answer; "prompt" only shows it in the prompt and parses the reply.
MODES = ("native", "prompt")
# Each form: the request fields it adds, and the words a server's refusal of that field names.
OPENAI_JSON_SCHEMA = (
    "openai_json_schema"  # OpenAI (and vLLM, LM Studio, ...): response_format json_schema, strict
)
JSON_OBJECT_SCHEMA = "json_object_schema"  # llama-cpp-python's server: response_format json_object + schema
VLLM = "vllm"  # vLLM's own field: structured_outputs {"json": schema} (vLLM >= 0.10.2)
ANTHROPIC_TOOL = "anthropic_tool"  # Anthropic Messages / Claude on Bedrock: one forced tool
CONVERSE_TOOL = "converse_tool"  # Bedrock Converse: toolConfig with one forced tool
_REFUSALS = {  # matched case-insensitively against the provider's error message
    OPENAI_JSON_SCHEMA: r"response_format|json_schema",
    JSON_OBJECT_SCHEMA: r"response_format|json_object|grammar",
    VLLM: r"structured.outputs?|guided|grammar|json.schema|response_format",
    ANTHROPIC_TOOL: r"\btools?\b|tool_choice|tool.use|input_schema",
    CONVERSE_TOOL: r"\btools?\b|toolConfig|toolChoice|tool.use|inputSchema",
}


def strict_json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The schema as OpenAI's strict mode takes it: the openai SDK's own conversion (the one
    ``chat.completions.parse`` sends: ``additionalProperties: false`` and every property required on each
    object, ``$ref`` with siblings inlined), then every ``default`` removed (strict mode requires each
    property anyway, and Azure OpenAI rejects non-null defaults: openai-agents-python#4390)."""
    from openai.lib._pydantic import to_strict_json_schema

    def without_defaults(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: without_defaults(v) for k, v in node.items() if k != "default"}
        if isinstance(node, list):
            return [without_defaults(v) for v in node]
        return node

    return without_defaults(to_strict_json_schema(schema))


def grammar_json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """``schema.model_json_schema()`` with ``maxLength`` on each string field that a model's ``max_chars``
    ClassVar names ({field: characters}): ``schema``'s own fields, and those of every model nested in it (its
    ``$defs`` entry, e.g. each item of a ``{"problems": [ChoiceItem] * n}`` list). Sent only to servers that
    compile the schema into a decoding grammar (llama.cpp's json_schema_to_grammar honours minLength/maxLength),
    where the bound closes a string that a small model would otherwise repeat until max_tokens. Not sent in
    OpenAI's strict form, whose supported subset has no string lengths, nor enforced by pada's own validation:
    the same answer parses everywhere. Raises KeyError if ``max_chars`` names a field the model lacks."""
    bounded = schema.model_json_schema()
    for model in _models_in(schema):
        limits = getattr(model, "max_chars", {})
        node = bounded if model is schema else bounded.get("$defs", {}).get(model.__name__)
        for name, limit in limits.items():
            if node is None or name not in node["properties"]:
                raise KeyError(f"{model.__name__}.max_chars names {name!r}, not a field of the schema sent")
            node["properties"][name]["maxLength"] = int(limit)
    return bounded


def _models_in(schema: type[BaseModel]) -> list[type[BaseModel]]:
    """``schema`` and every pydantic model its fields' annotations name, at any depth (list[...], Optional)."""
    found: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for argument in typing.get_args(annotation):
            visit(argument)

    visit(schema)
    return found


def tool_description(schema: type[BaseModel]) -> str:
    """What the forced tool is for: the schema's docstring, else a sentence naming it."""
    doc = (schema.__doc__ or "").strip()
    return doc or f"Record your answer as one {schema.__name__} object."


def native_fields(form: str, schema: type[BaseModel]) -> dict[str, Any]:
    """The request fields that carry ``schema`` in ``form`` (keyword arguments of the provider's SDK call);
    they also join the teacher's cache key, so a changed schema or form is never answered from the cache."""
    name = schema.__name__
    if form == OPENAI_JSON_SCHEMA:
        body = {"name": name, "strict": True, "schema": strict_json_schema(schema)}
        return {"response_format": {"type": "json_schema", "json_schema": body}}
    if form == JSON_OBJECT_SCHEMA:
        return {"response_format": {"type": "json_object", "schema": grammar_json_schema(schema)}}
    if form == VLLM:
        return {"extra_body": {"structured_outputs": {"json": schema.model_json_schema()}}}
    if form == ANTHROPIC_TOOL:
        tool = {
            "name": name,
            "description": tool_description(schema),
            "input_schema": schema.model_json_schema(),
        }
        return {"tools": [tool], "tool_choice": {"type": "tool", "name": name}}
    if form == CONVERSE_TOOL:
        spec = {
            "name": name,
            "description": tool_description(schema),
            "inputSchema": {"json": schema.model_json_schema()},
        }
        return {"toolConfig": {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": name}}}}
    raise ValueError(f"unknown native structured-output form {form!r}")


def names_the_field(form: str, message: str) -> bool:
    """Whether a provider's error ``message`` names the structured-output field of ``form``: the server
    refuses the field itself (an old vLLM, llama.cpp's HTTP 500 on json_schema, a Bedrock model without
    tool use, a schema keyword strict mode lacks), not this one request's content."""
    return re.search(_REFUSALS[form], message, re.IGNORECASE) is not None
