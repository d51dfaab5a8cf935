"""A LoRA adapter for a served model, written without torch: zero weights in the PEFT layout
(`adapter_config.json` + `adapter_model.safetensors`), so a real vLLM started with
`--enable-lora` can load it (a zero adapter changes nothing the model says)."""

from __future__ import annotations

import json
import struct
from pathlib import Path


def _safetensors(tensors: dict[str, tuple[int, int]], path: Path) -> None:
    """Write float32 zero tensors of the given shapes in the safetensors format."""
    header: dict[str, object] = {}
    offset = 0
    for name, (rows, cols) in tensors.items():
        size = rows * cols * 4
        header[name] = {"dtype": "F32", "shape": [rows, cols], "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(raw)))
        out.write(raw)
        out.write(bytes(offset))


def write_zero_adapter(folder: Path, model_config: Path, rank: int = 8) -> Path:
    """An adapter on q_proj and v_proj of every layer of the model whose `config.json` is
    `model_config` (a Llama/Qwen2-style decoder), in `folder`; returns the folder."""
    config = json.loads(model_config.read_text())
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    kv_out = config.get("num_key_value_heads", heads) * head_dim
    tensors: dict[str, tuple[int, int]] = {}
    for layer in range(config["num_hidden_layers"]):
        for module, out in (("q_proj", heads * head_dim), ("v_proj", kv_out)):
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors[f"{prefix}.lora_A.weight"] = (rank, hidden)
            tensors[f"{prefix}.lora_B.weight"] = (out, rank)
    folder.mkdir(parents=True, exist_ok=True)
    _safetensors(tensors, folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": ["q_proj", "v_proj"],
        "lora_dropout": 0.0, "bias": "none", "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(model_config.parent)}))
    return folder
