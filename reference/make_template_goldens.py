#!/usr/bin/env python3
"""Render real chat templates with Python jinja2 exactly as Hugging Face's
`apply_chat_template` does, and write the byte-exact outputs as goldens for
the Swift template interpreter (Tests/TokenizerTests/ChatTemplateGoldenTests).

Writes into Tests/Fixtures/templates/:
  <name>.jinja       the template text
  goldens.json       real templates x conversations -> expected output or error
  constructs.json    small synthetic templates covering single constructs

Only needs jinja2 (3.1.x). SmolLM2's template is read from the GGUF model
(models/SmolLM2-135M-Instruct.Q4_1.gguf, key tokenizer.chat_template) with a
tiny stdlib GGUF metadata reader; if the model is absent the existing
smollm2.jinja fixture is reused. The other templates are embedded below; see
Tests/Fixtures/templates/README.md for where each text came from.

Usage: python3 reference/make_template_goldens.py
"""
import json
import os
import struct
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "templates")
GGUF = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


# --- Hugging Face's environment (transformers/utils/chat_template_utils.py) ---

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # HF replaces jinja's HTML-escaping tojson with plain json.dumps.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


class GenerationTag(Extension):
    """HF's AssistantTracker as seen when not tracking: {% generation %}
    renders its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, messages, add_generation_prompt, bos, eos, extra):
    # HF's render call: messages, tools (None without tools), documents,
    # add_generation_prompt, then the tokenizer's special tokens and kwargs.
    kwargs = {"tools": None, "documents": None}
    kwargs.update({"bos_token": bos, "eos_token": eos})
    kwargs.update(extra)
    try:
        out = ENV.from_string(source).render(
            messages=messages, add_generation_prompt=add_generation_prompt, **kwargs)
        return {"expected": out}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception raises the base TemplateError; anything else
        # (syntax, undefined, ...) is a subclass and marks a broken case.
        if type(e) is not jinja2.exceptions.TemplateError:
            raise
        return {"error": str(e)}


# --- template texts ---

def read_gguf_string(path, wanted):
    """Returns the string metadata value `wanted` from a GGUF v2/v3 file."""
    with open(path, "rb") as f:
        data = f.read(8 << 20)  # metadata sits at the front
    if data[:4] != b"GGUF":
        raise ValueError("not a GGUF file")
    pos = 4 + 4 + 8
    (kv_count,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def read_str(p):
        (n,) = struct.unpack_from("<Q", data, p)
        return data[p + 8:p + 8 + n].decode("utf-8"), p + 8 + n

    def skip(p, t):
        if t in sizes:
            return p + sizes[t]
        if t == 8:
            return read_str(p)[1]
        if t == 9:
            (et, n) = struct.unpack_from("<IQ", data, p)
            p += 12
            if et in sizes:
                return p + sizes[et] * n
            for _ in range(n):
                p = skip(p, et)
            return p
        raise ValueError("unknown GGUF type %d" % t)

    for _ in range(kv_count):
        key, pos = read_str(pos)
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if key == wanted and t == 8:
            return read_str(pos)[0]
        pos = skip(pos, t)
    raise KeyError(wanted)


def smollm2_template():
    if os.path.exists(GGUF):
        return read_gguf_string(GGUF, "tokenizer.chat_template")
    with open(os.path.join(OUT, "smollm2.jinja"), encoding="utf-8") as f:
        return f.read()


# meta-llama/Meta-Llama-3-8B-Instruct, tokenizer_config.json chat_template.
LLAMA3 = r"""{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>

'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>

' }}{% endif %}"""

# meta-llama/Llama-3.1-8B-Instruct, tokenizer_config.json chat_template.
LLAMA31 = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# mistralai/Mistral-7B-Instruct-v0.2 (pre-v1 template without system prompt),
# as in llama.cpp tests/test-chat-template.cpp.
MISTRAL_V02 = r"""{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"""

# mistralai/Mistral-7B-Instruct-v0.3 (tool-calling template).
MISTRAL_V03 = r"""{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if (message == user_messages[-1]) and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}"""

# Further real templates, as C++ literals in llama.cpp's
# tests/test-chat-template.cpp (written here with the same escapes, so "\n"
# is a newline and "\\n" a jinja escape inside a template string literal).
GEMMA_IT = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"

DEEPSEEK_CODER = "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif %}\n{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if message['role'] == 'system' -%}\n        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}"

COMMAND_R_PLUS = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif false == true %}{% set loop_messages = messages %}{% set system_message = 'You are Command-R, a brilliant, sophisticated, AI-assistant trained to assist human users by providing thorough responses. You are trained by Cohere.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}"

VIGOGNE2 = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif true == true and not '<<SYS>>' in messages[0]['content'] %}{% set loop_messages = messages %}{% set system_message = 'Vous êtes Vigogne, un assistant IA créé par Zaion Lab. Vous suivez extrêmement bien les instructions. Aidez autant que vous le pouvez.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"

# Qwen/Qwen2-7B-Instruct, tokenizer_config.json chat_template.
QWEN2 = r"""{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful assistant.<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '
'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %}"""


# --- conversations ---

def m(role, content):
    return {"role": role, "content": content}


SINGLE = [m("user", "Hello!")]
SYSTEM_USER = [m("system", "You are a terse assistant."), m("user", "What is 2+2?")]
MULTI = [m("user", "Hi"), m("assistant", "Hello! How can I help?"), m("user", "Tell me a joke.")]
SYSTEM_MULTI = [m("system", "  Be kind.  "), m("user", "Hi"), m("assistant", "  Hello there.  "),
                m("user", "Bye")]
UNICODE = [m("user", "Héllo, 世界 🌍 — “quotes” and 'single' and \"double\"\nSecond line\n\n  indented\ttab  "),
           m("assistant", "Ça va? ✓\n```\ncode {{ not_a_tag }} {% raw %}\n```"),
           m("user", "\\back\\slash and <|im_end|> text")]
EMPTY_CONTENT = [m("user", "")]
USER_USER = [m("user", "one"), m("user", "two")]
SYSTEM_FIRST = [m("system", "sys"), m("user", "hi")]
TOOL_RESULT = [m("user", "What is 6*7?"), m("tool", "42")]

STANDARD = [("single", SINGLE), ("system_user", SYSTEM_USER), ("multi_turn", MULTI),
            ("system_multi_turn", SYSTEM_MULTI), ("unicode_newlines", UNICODE), ("empty_content", EMPTY_CONTENT)]

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}


def model_cases():
    smol = smollm2_template()
    models = [
        # name, source, bos, eos, extra conversations
        ("smollm2", smol, "<|im_start|>", "<|im_end|>", []),
        ("llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>", []),
        ("llama31", LLAMA31, "<|begin_of_text|>", "<|eot_id|>", [
            ("tool_role", TOOL_RESULT, {}),
            ("date_string", SYSTEM_USER, {"date_string": "01 Jan 2025"}),
            ("tools_in_user_message", SYSTEM_USER, {"tools": [WEATHER_TOOL]}),
            ("tools_in_system", SYSTEM_USER, {"tools": [WEATHER_TOOL], "tools_in_user_message": False}),
            ("builtin_tools", SINGLE, {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}),
        ]),
        ("mistral_v02", MISTRAL_V02, "<s>", "</s>", [
            ("error_system_role", SYSTEM_FIRST, {}),
            ("error_user_user", USER_USER, {}),
            ("error_tool_role", [m("user", "a"), m("tool", "b")], {}),
        ]),
        ("mistral_v03", MISTRAL_V03, "<s>", "</s>", [
            ("error_user_user", USER_USER, {}),
            ("tools", SYSTEM_MULTI, {"tools": [WEATHER_TOOL]}),
            ("error_tool_call_id", [m("user", "a"), m("tool", "b")], {}),
        ]),
        ("qwen2", QWEN2, "", "<|im_end|>", []),
        ("gemma_it", GEMMA_IT, "<bos>", "<eos>", []),
        ("deepseek_coder", DEEPSEEK_CODER, "<｜begin▁of▁sentence｜>", "<|EOT|>", []),
        ("command_r_plus", COMMAND_R_PLUS, "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", []),
        ("vigogne2", VIGOGNE2, "<s>", "</s>", []),
    ]
    cases = []
    for name, source, bos, eos, extras in models:
        with open(os.path.join(OUT, name + ".jinja"), "w", encoding="utf-8", newline="") as f:
            f.write(source)
        # Mistral's templates reject a system-first conversation or
        # non-alternating roles; those render as expected errors.
        convs = [(cname, msgs, {}) for cname, msgs in STANDARD] + extras
        for cname, msgs, extra in convs:
            for agp in (True, False):
                case = {"template": name, "case": cname, "messages": msgs, "add_generation_prompt": agp,
                        "bos_token": bos, "eos_token": eos, "extra": extra}
                case.update(render(source, msgs, agp, bos, eos, extra))
                cases.append(case)
    return cases


# --- single constructs: (name, template, variables) ---

CONSTRUCTS = [
    # whitespace control under trim_blocks + lstrip_blocks
    ("ws_trim_blocks", "{% if true %}\nA\n{% endif %}\nB", {}),
    ("ws_lstrip_blocks", "  {% if true %}\n  x\n  {% endif %}\n", {}),
    ("ws_lstrip_not_variables", "  {{ 'v' }}\n  {% if true %}y{% endif %}", {}),
    ("ws_minus_both", "a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}  \n  c", {}),
    ("ws_minus_var", "a \n {{- 'b' -}} \n c", {}),
    ("ws_plus_disables_lstrip", "  {%+ if true %}x{% endif %}", {}),
    ("ws_plus_disables_trim", "{% if true +%}\nx{% endif %}", {}),
    ("ws_comment", "a\n  {# note #}\nb {#- x -#} c", {}),
    ("ws_trailing_newline_dropped", "x\n", {}),
    ("ws_only_one_trailing_newline_dropped", "x\n\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("ws_mid_line_tag_not_stripped", "a  {% if true %}b{% endif %}", {}),
    ("ws_raw", "{% raw %}{{ not }} {% evaluated %}{% endraw %}", {}),
    # loops
    ("loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                  "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("loop_prev_next", "{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
    ("loop_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("loop_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("loop_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("loop_unpack", "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}", {}),
    ("loop_dict_keys", "{% for k in {'z': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("loop_nested", "{% for a in [1,2] %}{% for b in [3,4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_scope", "{% set x = 0 %}{% for i in [1,2] %}[{{ x }}]{% set x = i %}({{ x }}){% endfor %}{{ x }}", {}),
    ("loop_over_undefined", "{% for x in nothing %}x{% endfor %}ok", {}),
    ("loop_range", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }}", {}),
    # set / namespace
    ("set_namespace", "{% set ns = namespace(found=false, n=0) %}{% for x in [1,2,3] %}{% set ns.n = ns.n + x %}"
                      "{% if x == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}", {}),
    ("set_block", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}]", {"name": "Ann"}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("set_in_if_leaks", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    # expressions
    ("expr_arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 4 / 2 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ 1.5 + 1 }}", {}),
    ("expr_strings", "{{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ 'x' in 'xyz' }} {{ 'q' not in 'xyz' }} {{ \"it's\" }} {{ 'tab\\there' }} {{ 'adj' 'acent' }}", {}),
    ("expr_compare", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1,2] == [1,2] }} {{ none == none }} {{ 1 != 2 }} {{ 2 >= 2 }} {{ 'b' <= 'a' }}", {}),
    ("expr_logic", "{{ true and false }} {{ true or false }} {{ not true }} {{ 0 or 'x' }} {{ '' and 'y' }} {{ none or [] }} {{ not none }}", {}),
    ("expr_ternary", "{{ 'yes' if 1 > 0 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}]", {}),
    ("expr_literals", "{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 'n': [1, {'d': none}]} }} {{ (1, 2) }} {{ {} }} {{ [] }} {{ 'q\"uote' }} {{ [\"it's\"] }}", {}),
    ("expr_floats", "{{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1.5e-7 }} {{ 100.0 * 3 }} {{ 10 / 4 }} {{ 2.0 ** 0.5 }}", {}),
    ("expr_subscript", "{{ xs[0] }} {{ xs[-1] }} {{ xs[1:] }} {{ xs[:2] }} {{ xs[::-1] }} {{ xs[::2] }} {{ 'hello'[1:4] }} {{ 'hello'[::-1] }} [{{ xs[10] }}] {{ d['k'] }} {{ d.k }} [{{ d.missing }}]", {"xs": [1, 2, 3, 4], "d": {"k": "v"}}),
    ("expr_attr_vs_item", "{{ m.role }} {{ m['role'] }} {{ m.get('role') }} {{ m.get('x', 'dflt') }} {{ m.keys() | list }} {{ m.values() | list }}", {"m": {"role": "user", "content": "c"}}),
    ("expr_in", "{{ 'role' in m }} {{ 'x' in m }} {{ 2 in [1,2] }} {{ 'a' in ['a'] }} {{ 3 not in [1] }}", {"m": {"role": "user"}}),
    ("expr_dict_equality", "{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ m == ms[-1] }} {{ m == ms[0] }}", {"m": {"role": "user", "content": "b"}, "ms": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}),
    ("expr_unicode_len", "{{ s | length }} {{ s[1] }} {{ s[-1] }} {{ s | upper }}", {"s": "é🌍ß👍🏽"}),
    # undefined
    ("undefined_renders_empty", "[{{ nope }}] {{ nope is defined }} {{ nope is undefined }} {{ not nope }} {{ nope | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ nope | length }}", {}),
    ("undefined_attr_of_value", "[{{ 'abc'.foo }}] [{{ none.foo }}] [{{ m.nope }}] {{ m.nope is defined }}", {"m": {"a": 1}}),
    # tests
    ("tests_types", "{{ 'a' is string }} {{ 1 is string }} {{ {} is mapping }} {{ [] is mapping }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ nope is iterable }} {{ none is none }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ [] is sequence }} {{ none is not none }} {{ 'x' is not string }}", {}),
    ("tests_values", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 'a' is equalto 'a' }} {{ 2 is eq 2 }} {{ 2 is ne 3 }} {{ 1 is lt 2 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }} {{ true is true }} {{ false is false }} {{ none is sameas none }}", {}),
    # filters
    ("filters_strings", "[{{ '  x  ' | trim }}] {{ 'ab' | upper }} {{ 'AB' | lower }} {{ \"they're bill's-friend (x)\" | title }} {{ 'hELLO wORLD' | capitalize }} {{ 'aXbX' | replace('X', '-') }} {{ 'aaa' | replace('a', 'b', 2) }} [{{ 'xxhixx' | trim('x') }}]", {}),
    ("filters_lists", "{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ [3, 1, 2] | length }} {{ [3, 1, 2] | join(', ') }} {{ [3, 1, 2] | join }} {{ 'abc' | list }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | reverse | list }} {{ [1, 2, 2, 1] | unique | list }} {{ [1, 2, 3] | sum }} {{ [4, 2, 8] | min }} {{ [4, 2, 8] | max }} {{ 'abc' | first }} {{ [] | count }}", {}),
    ("filters_conversions", "{{ '42' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 42 | string }} {{ none | string }} {{ [1, 'a'] | string }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.4 | round(0, 'ceil') }} {{ true | int }}", {}),
    ("filters_dicts", "{{ d | items | list }} {% for k, v in d | items %}{{ k }}:{{ v }};{% endfor %} {{ d | list }} {{ d | length }} {{ d | first }} {{ d | dictsort }}", {"d": {"b": 1, "a": 2}}),
    ("filters_selectattr", "{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }} {{ ms | rejectattr('role', 'eq', 'user') | map(attribute='content') | list }} {{ ms | selectattr('flag') | list | length }} {{ ms | map(attribute='role') | unique | list }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ ['a', 'B'] | map('upper') | list }} {{ ms | map(attribute='missing', default='?') | join }}", {"ms": [{"role": "user", "content": "u1", "flag": True}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]}),
    ("filters_tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}|{{ 'é\"\\n\\u0001/' | tojson }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ [1.5, none, true, 10] | tojson }}", {"d": {"z": [1, {"y": None}], "a": "b", "emoji": "🌍"}}),
    ("filter_chain_precedence", "{{ 'a' + ' b ' | trim + 'c' }} {{ -2 | abs }} {{ not 'x' | length }} {{ [1,2] | length > 1 }}", {}),
    # string methods
    ("methods_strings", "[{{ '  x y  '.strip() }}] [{{ '  x'.lstrip() }}] [{{ 'x  '.rstrip() }}] [{{ '--x--'.strip('-') }}] {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ \"they're x1y\".title() }} {{ 'aXbX'.replace('X', '') }} {{ 'hello'.capitalize() }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ ', '.join(['a', 'b']) }} {{ 'x</think>y'.split('</think>')[-1] }} {{ 'ab\\ncd'.splitlines() }}", {}),
    # globals
    ("globals_raise", "{% if true %}{{ raise_exception('bad thing: ' ~ 42) }}{% endif %}", {}),
    ("globals_dict", "{{ dict(a=1, b='x') }}", {}),
    # conditionals
    ("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
    ("generation_tag", "{% generation %}kept{% endgeneration %}", {}),
    # more whitespace shapes seen in real templates
    ("ws_indented_statements", "{%- for m in ms %}\n    {%- if m %}\n        {{- m ~ ',' }}\n    {%- endif %}\n{%- endfor %}\n", {"ms": ["a", "", "b"]}),
    ("ws_nested_blocks_lines", "<s>\n{% for m in ms %}\n  {% if m %}\n    [{{ m }}]\n  {% endif %}\n{% endfor %}\n</s>\n", {"ms": ["a", "", "b"]}),
    ("ws_tabs_lstrip", "\t\t{% if true %}x{% endif %}\n\t {# c #}\ny", {}),
    ("ws_var_minus_start", "{{- 'a' }}  \n  {{- 'b' -}}  \n  c", {}),
    ("ws_raw_minus", "a  {%- raw -%}  {{ x }}  {%- endraw -%}  b", {}),
    ("ws_block_after_text_same_line", "x {% if true %}\ny{% endif %} z\n{% if true %}  w{% endif %}", {}),
    ("ws_comment_multiline", "a{# one\ntwo #}\nb\n  {#- x\n -#}\n  c", {}),
    # more loops and scoping
    ("loop_filter_loop_vars", "{% for m in ms if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}{{ ';' if not loop.last }}{% endfor %}", {"ms": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]}),
    ("loop_else_after_filter", "{% for x in [1, 3] if x is even %}{{ x }}{% else %}none even{% endfor %}", {}),
    ("loop_tuple_pairs", "{% for a, b in [(1, 'x'), (2, 'y')] %}{{ a }}{{ b }}{% endfor %} {% for a, b in [[3, 'z']] %}{{ a }}{{ b }}{% endfor %}", {}),
    ("loop_string_chars", "{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    ("loop_revindex_range", "{% for i in range(3) %}{{ loop.revindex }}{{ loop.revindex0 }} {% endfor %}", {}),
    ("namespace_in_nested_loops", "{% set ns = namespace(total=0, last='') %}{% for row in rows %}{% for x in row %}{% set ns.total = ns.total + x %}{% if loop.last %}{% set ns.last = ns.last ~ x %}{% endif %}{% endfor %}{% endfor %}{{ ns.total }} {{ ns.last }}", {"rows": [[1, 2], [3], [4, 5, 6]]}),
    ("set_shadow_then_restore", "{% set m = 'outer' %}{% for i in [1] %}{% set m = 'inner' %}{{ m }}{% endfor %} {{ m }}", {}),
    ("set_list_concat", "{% set a = [1, 2] %}{% set b = a + [3] %}{{ b }} {{ a }} {{ (a + b) | length }}", {}),
    ("messages_like", "{{ (ms | last).content }} {{ ms[-1]['role'] }} {{ ms | selectattr('role', 'equalto', 'user') | list | length }} {{ ms[0].content | trim }} {{ ms | map(attribute='role') | join('/') }}", {"ms": [{"role": "user", "content": "  hi  "}, {"role": "assistant", "content": "yo"}]}),
    # more expressions
    ("expr_more_numbers", "{{ 10 / 5 }} {{ 2 ** -1 }} {{ 7 % -3 }} {{ -7.5 // 2 }} {{ 1e16 }} {{ 123456789012345678.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ true + 1 }} {{ 'x' ~ 1.0 }} {{ 3 * 'ab' }} {{ 1_000 + 1 }} {{ 2.5e3 }} {{ 5 // 2.0 }}", {}),
    ("expr_nested_ternary", "{{ 1 if true else 2 if false else 3 }} {{ 1 if false else 2 if false else 3 }} {{ x | default('a') if y else 'b' }} {{ 'p' if 'a' in 'abc' }}", {"y": True}),
    ("expr_string_escapes", "{{ 'a\\nb' }}|{{ \"\\u00e9\\x41\\101\" }}|{{ 'it\\'s \"q\"' }}|{{ \"back\\\\slash\" }}|{{ 'keep \\d' }}", {}),
    ("expr_trailing_commas", "{{ [1, 2,] }} {{ {'a': 1,} }} {{ (1,) }}", {}),
    ("expr_not_precedence", "{{ not x is defined }} {{ x is not defined }} {{ not (true or false) }} {{ not 1 == 2 }} {{ not 'a' in 'abc' }}", {}),
    ("expr_string_compare", "{{ 'B' < 'a' }} {{ 'abc' < 'abd' }} {{ 'é' > 'z' }} {{ [1, 2] < [1, 3] }} {{ 2 > 1.5 }}", {}),
    ("expr_nested_access", "{{ d['a']['b'] }} {{ d.a.b }} {{ d.a['c'][1] }} {{ d['a'].c[-1] }} [{{ d.a.nope }}]", {"d": {"a": {"b": "B", "c": [1, 2, 3]}}}),
    ("expr_is_bare_arg", "{% if 9 is divisibleby 3 %}yes{% endif %} {{ 'a' is in 'cat' }} {{ x is defined and x is string }}", {"x": "s"}),
    ("expr_list_repr_unicode", "{{ ['é', 'a\\nb', \"'\", '\"', 'both\\'\"'] }}", {}),
    ("filters_more", "{{ 'hello world' | title }} {{ 'ÉCOLE' | lower }} {{ 'x1y2' | title }} {{ [1, 2, 3] | join(', ') ~ '!' }} {{ 'abc' | length > 2 and true }} {{ none | string }} {{ [] | string }} {{ 'abc' | reverse }} {{ 5 | round }} {{ -2.5 | round }} {{ [3, 'a'] | length }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [2, 1] | sort(reverse=true) }}", {}),
    ("filters_tojson_types", "{{ 1.0 | tojson }} {{ 1e100 | tojson }} {{ true | tojson }} {{ 'a\\tb\\u0000\\u007f\\u2028' | tojson }} {{ [[], {}, [[]]] | tojson(indent=2) }} {{ {'k': [1, 2]} | tojson(indent='\\t') }} {{ 'x' | tojson(indent=4) }}", {}),
    ("filters_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}", {}),
    ("filters_default_chain", "{{ x | default(y) | default('z') }} {{ none | default('n') }} {{ false | default('f', true) }} {{ x | d('short') }}", {}),
    ("filters_int_float_strings", "{{ ' 42 ' | int }} {{ '4.7' | int }} {{ '-3' | int }} {{ 'abc' | float }} {{ '1e3' | float }} {{ none | int }} {{ '0x1A' | int }}", {}),
    ("methods_more", "{{ 'a-b-c'.split('-', 1) }} {{ ''.split(',') }} {{ ''.split() }} {{ 'A b'.lower().startswith('a') }} {{ '  pad'.lstrip(' p') }} {{ 'x.y.z'.replace('.', '') }} {{ 'abc'.endswith(('z', 'c')) }} {{ 'Hello'.find('z') }} {{ 'abcabc'.count('bc') }}", {}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 0) }} {{ 'a' in d.keys() }} {{ d.values() | sum }}", {"d": {"a": 1, "b": 2}}),
]


# Templates jinja2 rejects (syntax) or fails to render (undefined use, type
# errors): the Swift side must throw too, though messages differ.
FAILURES = [
    ("fail_attr_of_undefined", "{{ nope.attr }}", {}),
    ("fail_item_of_undefined", "{{ nope['k'] }}", {}),
    ("fail_add_undefined", "{{ nope + 1 }}", {}),
    ("fail_call_undefined", "{{ nope() }}", {}),
    ("fail_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("fail_divide_by_zero", "{{ 1 / 0 }}", {}),
    ("fail_unknown_filter", "{{ 'a' | no_such_filter }}", {}),
    ("fail_unknown_test", "{{ 'a' is no_such_test }}", {}),
    ("fail_unclosed_if", "{% if true %}x", {}),
    ("fail_unclosed_tag", "{{ 'a' ", {}),
    ("fail_bad_expression", "{{ 1 + }}", {}),
    ("fail_endfor_without_for", "{% endfor %}", {}),
    ("fail_unknown_tag", "{% frobnicate %}", {}),
    ("fail_unpack_mismatch", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("fail_assign_attr_on_dict", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("fail_iterate_int", "{% for x in 3 %}{% endfor %}", {}),
    ("fail_compare_str_int", "{{ 'a' < 1 }}", {}),
    ("fail_items_of_list", "{% for x in [1] | items %}{% endfor %}", {}),
    ("fail_tojson_undefined", "{{ nope | tojson }}", {}),
    ("fail_unterminated_comment", "a {# never closed", {}),
]


def construct_cases():
    out = []
    for name, source, variables in CONSTRUCTS:
        case = {"name": name, "source": source, "variables": variables}
        try:
            case["expected"] = ENV.from_string(source).render(**variables)
        except jinja2.exceptions.TemplateError as e:
            if type(e) is not jinja2.exceptions.TemplateError:
                raise
            case["error"] = str(e)
        out.append(case)
    for name, source, variables in FAILURES:
        try:
            ENV.from_string(source).render(**variables)
        except Exception as e:
            out.append({"name": name, "source": source, "variables": variables, "failure": type(e).__name__})
            continue
        raise AssertionError("%s unexpectedly rendered" % name)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    goldens = model_cases()
    with open(os.path.join(OUT, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2_version": jinja2.__version__, "cases": goldens}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    constructs = construct_cases()
    with open(os.path.join(OUT, "constructs.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2_version": jinja2.__version__, "cases": constructs}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %d golden cases and %d construct cases to %s" % (len(goldens), len(constructs), OUT))


if __name__ == "__main__":
    sys.exit(main())
