#!/usr/bin/env python3
"""Decode speed with a JSON Schema against the same request without one
(issue 16's target: at least 80%), on any model `wafer serve` takes:

    .build/e2e-venv/bin/python bench/structured_speed.py [--model smollm2-135m] [--rounds 5]

Tokens/s is completion tokens over the completion time Wafer reports
(`time_info.completion_time`), median of the rounds, alternating the two.
"""
import argparse
import os
import statistics
import sys

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "e2e"))
from conftest import Server  # noqa: E402

SCHEMA = {"type": "object", "properties": {
    "title": {"type": "string", "maxLength": 80}, "severity": {"enum": ["low", "medium", "high"]},
    "steps": {"type": "array", "maxItems": 6, "items": {"type": "string", "maxLength": 120}},
    "confidence": {"type": "number"}}, "required": ["title", "severity", "steps", "confidence"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    s = Server("--model", args.model)
    model = httpx.get(s.base + "/v1/models").json()["data"][0]["id"]
    messages = [{"role": "user", "content": "Write a detailed bug report for: the app crashes when saving a large file."}]
    rates = {"free": [], "schema": []}
    try:
        for _ in range(args.rounds):
            for kind in ("free", "schema"):
                body = {"model": model, "messages": messages, "max_tokens": 160, "temperature": 0}
                if kind == "free":
                    body["ignore_eos"] = True
                else:
                    body["response_format"] = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}
                r = httpx.post(s.base + "/v1/chat/completions", json=body, timeout=600).json()
                t = r["time_info"]
                rates[kind].append(r["usage"]["completion_tokens"] / max(t["completion_time"], 1e-9))
                if args.verbose:
                    print(kind, r["usage"]["completion_tokens"], "tokens in", round(t["completion_time"], 3), "s")
    finally:
        s.stop()
    free, schema = statistics.median(rates["free"]), statistics.median(rates["schema"])
    print(f"{model}: free text {free:.1f} tok/s, with a schema {schema:.1f} tok/s, ratio {schema / free:.2f}")


if __name__ == "__main__":
    main()
