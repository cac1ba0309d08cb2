"""Tokens per second of the embedded local model (SmolLM2-135M on llama-cpp-python).

    .venv/bin/python bench/local_model.py [--rounds 3]

Prints prompt and generation speed measured end to end through `LocalModel.request` (what an
agent sees): free text of up to 100 tokens, and a grammar-constrained JSON answer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podium.models import LocalModel, ModelRequest, SystemMessage, UserMessage
from podium.models._allow import allow_model_requests

PROMPT = (
    SystemMessage(content="You are a careful science writer."),
    UserMessage(
        content="Explain in a few sentences why the sea has tides, and what spring "
        "tides and neap tides are."
    ),
)
SCHEMA = {
    "type": "object",
    "properties": {"claim": {"type": "string", "maxLength": 200}},
    "required": ["claim"],
}


async def measure(model: LocalModel, request: ModelRequest) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = await model.request(request)
    return time.perf_counter() - started, response.usage.input_tokens, response.usage.output_tokens


async def main(rounds: int) -> None:
    allow_model_requests(True)
    model = LocalModel()
    load = time.perf_counter()
    await model.request(ModelRequest(messages=PROMPT, max_tokens=1))  # load and warm up
    print(f"load + first token: {time.perf_counter() - load:.2f} s")
    print("| request | prompt tokens | output tokens | seconds | output tokens/s |")
    print("|---|---|---|---|---|")
    for label, request in (
        ("free text, 100 tokens", ModelRequest(messages=PROMPT, max_tokens=100)),
        (
            "JSON schema (grammar)",
            ModelRequest(messages=PROMPT, output_schema=SCHEMA, max_tokens=100),
        ),
    ):
        runs = [await measure(model, request) for _ in range(rounds)]
        seconds = statistics.median(r[0] for r in runs)
        out = statistics.median(r[2] for r in runs)
        print(f"| {label} | {runs[0][1]} | {out:.0f} | {seconds:.2f} | {out / seconds:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
