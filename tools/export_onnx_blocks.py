"""Export small PyTorch transformer blocks to ONNX, as users do, to test cpsched's ONNX import.

Not part of the package and not needed by CI: it needs torch (and onnxsim for the simplified
variants), which cpsched does not depend on. Run it in a separate environment::

    python tools/export_onnx_blocks.py --out tests/data/onnx --zero-weights   # the committed set
    python tools/export_onnx_blocks.py --out /tmp/onnx --all --d-model 256 --seq 64 128

Blocks: nn.TransformerEncoderLayer (post- and pre-LN), nn.MultiheadAttention, a nanoGPT-style
GPT-2 block (fused QKV, split), a Llama-style block (RMSNorm, RoPE with rotate_half, SwiGLU).
Exporters: TorchScript (``dynamo=False``, constant folding on or off) and dynamo, each at a
given opset; optionally simplified by onnxsim. The file name says how it was made:
``{block}_{exporter}{opset}[_nofold][_sim]_d{d_model}_s{seq}.onnx``.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


class GPT2Block(nn.Module):
    """nanoGPT's Block: pre-LN, one fused QKV projection split into q, k, v, causal attention."""

    def __init__(self, d: int, heads: int, ff: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, ff)
        self.mlp_proj = nn.Linear(ff, d)

    def attn(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(c, dim=2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_proj(nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class RMSNorm(nn.Module):
    """Llama's RMSNorm, computed in float32 as the Hugging Face code does."""

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """RoPE's rotate_half: the two halves of the last dim swapped, the first negated."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class LlamaBlock(nn.Module):
    """A Llama decoder layer: RMSNorm, q/k/v projections, RoPE, causal attention, SwiGLU MLP."""

    def __init__(self, d: int, heads: int, ff: int, seq: int) -> None:
        super().__init__()
        self.heads = heads
        self.hd = d // heads
        self.input_layernorm = RMSNorm(d)
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d)
        self.gate_proj = nn.Linear(d, ff, bias=False)
        self.up_proj = nn.Linear(d, ff, bias=False)
        self.down_proj = nn.Linear(ff, d, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        freqs = torch.outer(torch.arange(seq).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        q = q * self.cos + rotate_half(q) * self.sin
        k = k * self.cos + rotate_half(k) * self.sin
        att = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o_proj(att.transpose(1, 2).reshape(b, t, d))
        h = self.post_attention_layernorm(x)
        mlp = self.down_proj(nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))
        return x + mlp


class MHA(nn.Module):
    """nn.MultiheadAttention as self-attention (packed in-projection), returning the output."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mha(x, x, x, need_weights=False)[0]


class Encoder(nn.Module):
    """nn.TransformerEncoderLayer called with its input only: exported directly, the
    TorchScript exporter fails on its `is_causal` argument ("must be bool, not Tensor")."""

    def __init__(self, d: int, heads: int, ff: int, norm_first: bool) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(
            d, heads, ff, dropout=0.0, batch_first=True, norm_first=norm_first
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def make_block(block: str, d: int, seq: int) -> nn.Module:
    """One of the blocks, in eval mode, with fixed random weights."""
    torch.manual_seed(0)
    heads = 4
    ff = d  # small files: the MLP as wide as the model
    made: nn.Module
    if block == "encoder_post":
        made = Encoder(d, heads, ff, norm_first=False)
    elif block == "encoder_pre":
        made = Encoder(d, heads, ff, norm_first=True)
    elif block == "mha":
        made = MHA(d, heads)
    elif block == "gpt2":
        made = GPT2Block(d, heads, ff)
    elif block == "llama":
        made = LlamaBlock(d, heads, ff, seq)
    else:
        raise ValueError(block)
    return made.eval()


def export(
    block: str,
    d: int,
    seq: int,
    exporter: str,
    opset: int,
    fold: bool,
    sim: bool,
    out: Path,
    zero_weights: bool = False,
) -> Path:
    """Export one block to `out` and return the file's path."""
    model = make_block(block, d, seq)
    x = torch.randn(1, seq, d)
    name = f"{block}_{exporter}{opset}{'' if fold else '_nofold'}{'_sim' if sim else ''}"
    path = out / f"{name}_d{d}_s{seq}.onnx"
    # Not under no_grad: PyTorch would take the fused fast path (aten::_transformer_encoder_
    # layer_fwd, _native_multi_head_attention), which the TorchScript exporter cannot export.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "ts":
            torch.onnx.export(
                model,
                (x,),
                str(path),
                dynamo=False,
                opset_version=opset,
                do_constant_folding=fold,
                input_names=["x"],
                output_names=["y"],
            )
        else:
            prog = torch.onnx.export(
                model, (x,), dynamo=True, opset_version=opset, optimize=fold, external_data=False
            )
            assert prog is not None
            prog.save(str(path), external_data=False)
    if sim:
        import onnxsim

        simplified, ok = onnxsim.simplify(onnx.load(str(path)))
        assert ok, path
        onnx.save(simplified, str(path))
    if zero_weights:
        zero_large_initializers(path)
    onnx.checker.check_model(str(path))
    return path


def zero_large_initializers(path: Path, min_elements: int = 256) -> None:
    """Set every float initializer of at least `min_elements` to zeros, in place.

    The import reads shapes, not values; zeros keep the graph as exported while git stores
    the committed files in a few KB each.
    """
    model = onnx.load(str(path))
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and math.prod(init.dims) >= min_elements:
            zeros = numpy_helper.from_array(np.zeros(tuple(init.dims), np.float32), init.name)
            init.CopyFrom(zeros)
    onnx.save(model, str(path))


BLOCKS = ("encoder_post", "encoder_pre", "mha", "gpt2", "llama")
# The committed set: each block through each exporter once, plus the variants that keep shape
# chains (TorchScript without folding) and that onnxsim rewrites.
COMMITTED = [
    ("encoder_post", "ts", 17, True, False),
    ("encoder_pre", "dynamo", 20, True, False),
    ("mha", "ts", 17, False, False),
    ("gpt2", "dynamo", 18, True, False),
    ("gpt2", "ts", 17, True, True),
    ("llama", "ts", 17, False, False),
    ("llama", "dynamo", 20, True, False),
]


def main() -> None:
    """Export the committed set, or (--all) every block, exporter, opset, folding and onnxsim."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--seq", type=int, nargs="+", default=[16])
    parser.add_argument("--all", action="store_true", help="every variant, not the committed set")
    parser.add_argument(
        "--zero-weights", action="store_true", help="zero large weights (the committed set)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variants = COMMITTED
    if args.all:
        variants = [
            (b, e, o, f, s)
            for b in BLOCKS
            for e, o in (("ts", 17), ("ts", 18), ("ts", 20), ("dynamo", 18), ("dynamo", 20))
            for f in (True, False)
            for s in (False, True)
        ]
    for seq in args.seq:
        for block, exporter, opset, fold, sim in variants:
            try:
                path = export(
                    block,
                    args.d_model,
                    seq,
                    exporter,
                    opset,
                    fold,
                    sim,
                    args.out,
                    zero_weights=args.zero_weights,
                )
            except Exception as exc:  # report and go on: one exporter failing is data too
                print(f"FAILED {block} {exporter}{opset} fold={fold} sim={sim}: {exc!r}"[:300])
            else:
                print(path, path.stat().st_size)


if __name__ == "__main__":
    main()
