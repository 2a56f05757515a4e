"""Native structured output (issue 26): each provider sends the role's schema in its own field, as its own
SDK builds it (captured by the local fake server or checked by botocore's Stubber), and each structured
answer form (message content JSON, a ``tool_use`` block, Converse's ``toolUse``) parses into the schema."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.teacher import Request, StructuredOutputRefused, Teacher
from pada.teacher.fake_server import FakeLLMServer, responder_from_json
from pada.teacher.providers.bedrock_converse import BedrockConverse
from pada.teacher.schemas import Verdict

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "JSON please"}]
GOOD = {"valid": True, "answer": "7", "reason": "3 + 4 = 7"}
# Verdict as OpenAI's strict mode takes it: every property required, no extra properties, no default
VERDICT_STRICT = {
    "properties": {
        "valid": {
            "description": "true if the problem is well-posed and the solution correct",
            "title": "Valid",
            "type": "boolean",
        },
        "answer": {"description": "your own final answer", "title": "Answer", "type": "string"},
        "reason": {"title": "Reason", "type": "string"},
    },
    "required": ["valid", "answer", "reason"],
    "title": "Verdict",
    "type": "object",
    "additionalProperties": False,
}


@pytest.fixture
def server():
    with FakeLLMServer(responder=responder_from_json({"JSON please": GOOD})) as srv:
        yield srv


def _openai(server, tmp_path, config="vllm_serve", **overrides) -> Teacher:
    cfg = teacher_cfg(config, tmp_path, base_url=f"{server.url}/v1", model="served", **overrides)
    return Teacher(cfg, cfg.client.cache.path)


def test_openai_json_schema_is_what_the_openai_sdk_sends_made_strict(server, tmp_path, monkeypatch):
    """The body's response_format is the one ``chat.completions.parse(response_format=Verdict)`` of the
    openai SDK sends (its own strict conversion), minus ``default`` (strict mode requires every field)."""
    import openai

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cfg = teacher_cfg("openai", tmp_path, base_url=f"{server.url}/v1")
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
    ours = server.bodies[-1]["response_format"]
    sdk = openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)
    sdk.chat.completions.parse(model="m", messages=CHAT, response_format=Verdict)
    theirs = server.bodies[-1]["response_format"]
    assert ours == {
        "type": "json_schema",
        "json_schema": {"name": "Verdict", "strict": True, "schema": VERDICT_STRICT},
    }
    assert theirs["json_schema"]["schema"]["properties"]["reason"].pop("default") == ""
    assert ours == theirs


def test_llama_cpp_form_sends_json_object_with_the_schema(server, tmp_path):
    with _openai(server, tmp_path, native_form="json_object_schema") as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
    body = server.bodies[-1]
    bounded = Verdict.model_json_schema()
    bounded["properties"]["answer"]["maxLength"] = 200  # Verdict.max_chars: the grammar closes these strings
    bounded["properties"]["reason"]["maxLength"] = 400
    assert body["response_format"] == {"type": "json_object", "schema": bounded}
    assert "structured_outputs" not in body


def test_string_bounds_reach_only_grammar_forms():
    from pada.teacher.native import JSON_OBJECT_SCHEMA, OPENAI_JSON_SCHEMA, native_fields

    grammar = native_fields(JSON_OBJECT_SCHEMA, Verdict)["response_format"]["schema"]["properties"]
    assert {k: v.get("maxLength") for k, v in grammar.items()} == {
        "valid": None,
        "answer": 200,
        "reason": 400,
    }
    strict = native_fields(OPENAI_JSON_SCHEMA, Verdict)["response_format"]["json_schema"]["schema"]
    assert "maxLength" not in json.dumps(strict)  # OpenAI's strict subset has no string lengths
    assert Verdict(valid=True, answer="C", reason="x" * 1000).reason == "x" * 1000  # never a parse failure


def test_llama_cpp_compiles_the_bound_into_its_grammar():
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    from pada.teacher.native import grammar_json_schema

    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(grammar_json_schema(Verdict)))
    rules = dict(line.split(" ::= ", 1) for line in gbnf.splitlines())
    assert (rules["answer"].count("char"), rules["reason"].count("char")) == (200, 400)  # at most that many


def test_nested_models_bounds_reach_each_list_item():
    # The list answers of LLM2LLM and PaDA-Agent's error correction nest the item under $defs: the bound must
    # reach it there (the quick demo-real's 14 cut answers were lists with one looping explanation each).
    from pada.methods.similar_problems import problem_list
    from pada.tasks.synthetic import ChoiceItem, CodeItem
    from pada.teacher.native import JSON_OBJECT_SCHEMA, grammar_json_schema, native_fields

    listed = native_fields(JSON_OBJECT_SCHEMA, problem_list(ChoiceItem, 3))["response_format"]["schema"]
    item = listed["$defs"]["ChoiceItem"]["properties"]
    assert {k: v.get("maxLength") for k, v in item.items()} == {
        "question": None,  # MMLU questions reach 4,671 characters: no bound that fits every task
        "choices": None,
        "answer": None,
        "explanation": 800,
    }
    assert grammar_json_schema(ChoiceItem)["properties"]["explanation"]["maxLength"] == 800
    assert "maxLength" not in json.dumps(grammar_json_schema(problem_list(CodeItem, 2)))  # code: unbounded


def test_a_bound_on_a_missing_field_is_an_error():
    from typing import ClassVar

    from pydantic import BaseModel

    from pada.teacher.native import grammar_json_schema

    class Misnamed(BaseModel):
        max_chars: ClassVar[dict[str, int]] = {"reasn": 10}
        reason: str = ""

    with pytest.raises(KeyError, match="reasn"):
        grammar_json_schema(Misnamed)


def test_llama_cpp_compiles_the_item_bound_inside_a_list():
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    from pada.methods.similar_problems import problem_list
    from pada.tasks.synthetic import ChoiceItem
    from pada.teacher.native import grammar_json_schema

    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(grammar_json_schema(problem_list(ChoiceItem, 2))))
    rules = dict(line.split(" ::= ", 1) for line in gbnf.splitlines())
    (explanation,) = [rule for name, rule in rules.items() if "explanation" in name and "char" in rule]
    assert explanation.count("char") == 800


def test_vllm_form_sends_structured_outputs_json(server, tmp_path):
    with _openai(server, tmp_path) as teacher:  # conf/teacher/vllm_serve.yaml: native_form vllm
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
        assert teacher.complete("verification", CHAT) == json.dumps(GOOD)  # free text: no schema sent
    structured, free = server.bodies
    assert structured["structured_outputs"] == {"json": Verdict.model_json_schema()}
    assert "response_format" not in structured
    assert "structured_outputs" not in free and "response_format" not in free


def test_prompt_mode_sends_no_schema_and_keeps_the_cache_key_of_free_text(server, tmp_path):
    with _openai(server, tmp_path, structured_output="prompt") as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
        assert teacher.usage()["roles"]["verification"]["cache_hits"] == 0
        teacher.complete("verification", CHAT)  # same key: answered from the cache
        assert teacher.usage()["roles"]["verification"]["cache_hits"] == 1
    assert len(server.bodies) == 1
    assert "structured_outputs" not in server.bodies[0] and "response_format" not in server.bodies[0]


def test_mode_form_and_schema_are_part_of_the_cache_key(server, tmp_path):
    with _openai(server, tmp_path) as teacher:
        teacher.complete("verification", CHAT, schema=Verdict)
        teacher.complete("verification", CHAT, schema=Verdict)  # a hit
        teacher.complete("verification", CHAT)  # free text: another key
    assert len(server.bodies) == 2
    with _openai(server, tmp_path, native_form="json_object_schema") as teacher:
        teacher.complete("verification", CHAT, schema=Verdict)  # another form: another key
    with _openai(server, tmp_path, structured_output="prompt") as teacher:
        teacher.complete("verification", CHAT, schema=Verdict)  # prompt mode: the free-text key, a hit
    assert len(server.bodies) == 3


@pytest.mark.parametrize(
    ("form", "status", "body"),
    [
        # OpenAI: a schema keyword strict mode lacks
        (
            "openai_json_schema",
            400,
            {
                "error": {
                    "message": "Invalid schema for response_format 'Verdict': 'default' is not permitted."
                }
            },
        ),
        # llama-cpp-python 0.3.x answers the json_schema form with HTTP 500 (llama.cpp#23463)
        (
            "openai_json_schema",
            500,
            {"error": {"message": 'response_format type must be one of "text" or "json_object"'}},
        ),
        # vLLM: a schema its grammar backend cannot compile
        ("vllm", 400, {"message": "The provided JSON schema contains features not supported by xgrammar."}),
    ],
)
def test_a_refused_structured_request_is_one_error_naming_prompt_mode(server, tmp_path, form, status, body):
    server.faults.append(f"body:{status}:{json.dumps(body)}")
    with (
        _openai(server, tmp_path, native_form=form) as teacher,
        pytest.raises(StructuredOutputRefused) as error,
    ):
        teacher.complete_many([Request("verification", CHAT, 0, Verdict)])
    message = str(error.value)
    assert "teacher.structured_output=prompt" in message and f"form {form}" in message
    assert f"HTTP {status}" in message and "\n" not in message
    assert len(server.bodies) == 1  # never retried as transient


def test_a_500_that_does_not_name_the_field_is_still_retried(server, tmp_path):
    server.faults.append("500")
    with _openai(server, tmp_path) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
    assert len(server.bodies) == 2


def test_a_cut_answer_is_reasked_with_twice_the_room_up_to_the_cap(server, tmp_path):
    server.faults.extend(["truncate", "truncate"])
    overrides = {"client.reask_max_tokens": 3000, "client.structured_reasks": 3}
    with _openai(server, tmp_path, **overrides) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
        row = teacher.usage()["roles"]["verification"]
    assert [b["max_tokens"] for b in server.bodies] == [1024, 2048, 3000]
    assert all(b["messages"] == CHAT for b in server.bodies)  # the same prompt, not the cut answer
    assert (row["truncated"], row["reasks"], row["parse_failures"]) == (2, 2, 0)


def test_native_mode_on_a_provider_without_one_and_an_unknown_form_are_config_errors(server, tmp_path):
    cfg = teacher_cfg("scripted", tmp_path, structured_output="native")
    with pytest.raises(
        PadaError, match="has no native structured output; set teacher.structured_output=prompt"
    ):
        Teacher(cfg, cfg.client.cache.path)
    with pytest.raises(PadaError, match="native_form='tools' is not a form .* openai_json_schema"):
        _openai(server, tmp_path, native_form="tools")
    with pytest.raises(PadaError, match="structured_output='json' must be one of: native, prompt"):
        _openai(server, tmp_path, structured_output="json")


# -- Anthropic Messages and Claude on Bedrock: one forced tool ---------------------------------------------
def _tool(schema) -> dict:
    """The tool as the anthropic SDK's own tool helper builds one from a pydantic input schema."""
    from anthropic.lib.tools._beta_functions import BetaFunctionTool

    def record() -> None: ...

    tool = BetaFunctionTool(record, name=schema.__name__, description="d", input_schema=schema).to_dict()
    return {**tool, "description": f"Record your answer as one {schema.__name__} object."}


def test_anthropic_forces_one_tool_and_reads_its_input(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    cfg = teacher_cfg("anthropic", tmp_path, base_url=server.url)
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
    body = server.bodies[-1]
    assert body["tools"] == [_tool(Verdict)]
    assert body["tool_choice"] == {"type": "tool", "name": "Verdict"}
    assert (body["system"], body["messages"]) == ("Be brief.", [{"role": "user", "content": "JSON please"}])


def test_anthropic_tool_input_that_misses_fields_is_reasked(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    server.faults.append("garbage")  # the tool input {"text": ...}: no schema field
    cfg = teacher_cfg("anthropic", tmp_path, base_url=server.url)
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
        row = teacher.usage()["roles"]["verification"]
    assert (row["reasks"], row["calls"]) == (1, 2)
    assert server.bodies[1]["messages"][1] == {
        "role": "assistant",
        "content": '{"text": "{ this is not json"}',
    }


def test_claude_on_bedrock_sends_the_same_tool(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cfg = teacher_cfg("bedrock_claude", tmp_path, base_url=server.url, region="us-east-1")
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
    body = server.bodies[-1]
    assert (body["tools"], body["tool_choice"]) == ([_tool(Verdict)], {"type": "tool", "name": "Verdict"})


def test_anthropic_refused_tool_use_is_one_error(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    refusal = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "tools.0.input_schema: bad"},
    }
    server.faults.append(f"body:400:{json.dumps(refusal)}")
    cfg = teacher_cfg("anthropic", tmp_path, base_url=server.url)
    with (
        Teacher(cfg, cfg.client.cache.path) as teacher,
        pytest.raises(StructuredOutputRefused, match="prompt"),
    ):
        teacher.complete("verification", CHAT, schema=Verdict)
    assert len(server.bodies) == 1


# -- Bedrock Converse: toolConfig, botocore validates the request against the service model -----------------
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TOOL_SPEC = {
    "name": "Verdict",
    "description": "Record your answer as one Verdict object.",
    "inputSchema": {"json": Verdict.model_json_schema()},
}
EXPECTED = {
    "modelId": MODEL,
    "messages": [{"role": "user", "content": [{"text": "JSON please"}]}],
    "system": [{"text": "Be brief."}],
    "inferenceConfig": {"maxTokens": 1024, "temperature": 0.0},
    "toolConfig": {"tools": [{"toolSpec": TOOL_SPEC}], "toolChoice": {"tool": {"name": "Verdict"}}},
}


def _converse_answer(content: list, stop: str = "tool_use") -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 12, "outputTokens": 9, "totalTokens": 21},
        "metrics": {"latencyMs": 5},
    }


@pytest.fixture
def converse(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    cfg = teacher_cfg("bedrock_converse", tmp_path, region="us-east-1")
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield cfg, client, stubber


def test_converse_sends_tool_config_and_reads_tool_use_input(converse):
    cfg, client, stubber = converse
    tool_use = {"toolUse": {"toolUseId": "t1", "name": "Verdict", "input": GOOD}}
    stubber.add_response("converse", _converse_answer([{"text": "Here:"}, tool_use]), EXPECTED)
    with Teacher(cfg, cfg.client.cache.path, provider=BedrockConverse(cfg, client=client)) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
    stubber.assert_no_pending_responses()


def test_converse_cut_tool_input_is_reasked_with_more_room(converse):
    cfg, client, stubber = converse
    cut = {"toolUse": {"toolUseId": "t1", "name": "Verdict", "input": GOOD}}  # closed, yet cut: not taken
    stubber.add_response("converse", _converse_answer([cut], "max_tokens"), EXPECTED)
    more_room = {**EXPECTED, "inferenceConfig": {"maxTokens": 2048, "temperature": 0.0}}
    stubber.add_response("converse", _converse_answer([cut]), more_room)
    with Teacher(cfg, cfg.client.cache.path, provider=BedrockConverse(cfg, client=client)) as teacher:
        assert teacher.complete("verification", CHAT, schema=Verdict) == Verdict(**GOOD)
        row = teacher.usage()["roles"]["verification"]
    stubber.assert_no_pending_responses()
    assert (row["truncated"], row["reasks"], row["calls"]) == (1, 1, 2)


def test_converse_model_without_tool_use_is_one_error(converse):
    cfg, client, stubber = converse
    stubber.add_client_error("converse", "ValidationException", "This model doesn't support tool use.", 400)
    provider = BedrockConverse(cfg, client=client)
    refused = pytest.raises(StructuredOutputRefused, match="form converse_tool.*structured_output=prompt")
    with Teacher(cfg, cfg.client.cache.path, provider=provider) as teacher, refused:
        teacher.complete("verification", CHAT, schema=Verdict)
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({"native_form": "json_object_schema"}, False),  # auto + native: the grammar fixes the form
        ({"structured_output": "prompt"}, True),  # auto + prompt: the example is the only form shown
        ({"native_form": "json_object_schema", "example_answers": "always"}, True),
        ({"structured_output": "prompt", "example_answers": "never"}, False),
    ],
)
def test_example_answers_reach_the_teacher_only_where_configured(server, tmp_path, overrides, shown):
    """teacher.example_answers (issue 27): with native structured output a 0.5B teacher copied the example
    answer into 9 of 9 error analyses; ``auto`` sends the prompt without it there."""
    from pada.teacher import render
    from pada.teacher.examples import example_json

    prompt = render(
        "verification", "v3", schema=Verdict, task_description="t", question="JSON please", solution="s"
    )
    with _openai(server, tmp_path, **overrides) as teacher:
        assert teacher.complete("verification", prompt, schema=Verdict) == Verdict(**GOOD)
    sent = "\n".join(m["content"] for m in server.bodies[-1]["messages"])
    assert (example_json(Verdict) in sent) is shown
    assert "JSON please" in sent


def test_an_unknown_example_answers_value_is_a_config_error(server, tmp_path):
    with pytest.raises(
        PadaError, match=r"teacher.example_answers='sometimes' must be one of: auto, always, never"
    ):
        _openai(server, tmp_path, example_answers="sometimes")
