"""What real OpenAI clients expect of a server (issue 15): model aliases, a 404 that
names the models served, usage.cost, CORS for browsers; and the CLI's --help and
`wafer generate` through the engine."""
import subprocess

import httpx
import openai
import pytest

from conftest import MODEL_ID, ROOT, WAFER, Server


@pytest.fixture(scope="module")
def aliased():
    s = Server("--model-alias", "gpt-4o-mini", "--model-alias", "gpt-3.5-turbo", "--cors-origin", "https://app.example")
    yield s
    assert s.stop() == 0


def test_an_unknown_model_404_names_the_models_served(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert MODEL_ID in e.value.body["message"] and e.value.body["param"] == "model"


def test_aliases_answer_for_the_model(aliased):
    c = aliased.client()
    for name in ("gpt-4o-mini", "gpt-3.5-turbo", MODEL_ID):
        r = c.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        assert r.model == MODEL_ID and r.choices[0].message.content is not None
    assert c.models.retrieve("gpt-4o-mini").id == MODEL_ID


def test_usage_cost_mirrors_cost_usd(client):
    r = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
    usage = r.usage.model_dump()
    assert usage["cost"] == usage["cost_usd"] and usage["cost"] > 0


def test_cors_preflight_and_headers(aliased, server):
    pre = httpx.options(aliased.base + "/v1/chat/completions", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"}, timeout=10)
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    r = httpx.get(aliased.base + "/v1/models", headers={"Origin": "https://app.example"}, timeout=10)
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    off = httpx.get(server.base + "/v1/models", headers={"Origin": "https://app.example"}, timeout=10)
    assert "access-control-allow-origin" not in off.headers, "CORS is off by default"
    assert httpx.options(server.base + "/v1/models", timeout=10).status_code == 405


@pytest.mark.parametrize("command", ["serve", "batch", "usage", "plan", "generate", "tokenize", "info", "bench"])
def test_every_command_has_help(command):
    run = subprocess.run([str(WAFER), command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: wafer {command} ") and "[" in run.stdout, run.stdout


def test_generate_goes_through_the_engine_with_stop_strings():
    base = [str(WAFER), "generate", "--prompt", "The numbers from one to twenty: 1, 2, 3,", "--max-tokens", "24"]
    full = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert full.returncode == 0, full.stderr
    text = full.stdout.rstrip("\n")
    assert len(text) > 8
    stop = text[len(text) // 2:len(text) // 2 + 2]
    cut = subprocess.run(base + ["--stop", stop], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert cut.returncode == 0, cut.stderr
    assert cut.stdout.rstrip("\n") == text[:text.index(stop)], "output ends where the stop string begins, without it"


def test_models_by_short_name():
    info = subprocess.run([str(WAFER), "info", "smollm2-135m"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "architecture:  llama" in info.stdout, info.stderr
    unknown = subprocess.run([str(ROOT / "scripts" / "fetch-model"), "no-such-model"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 2 and "qwen2.5-coder-1.5b" in unknown.stderr and "gemma3-270m" in unknown.stderr
