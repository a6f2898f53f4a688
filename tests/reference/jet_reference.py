"""JetNative's own PyTorch reference ("oracle") for Jet-Nemotron.

Written from /work/shared/spec/jet-nemotron.md only: plain PyTorch, no Triton, no fla, nothing
taken from the official code. It is meant to be read: every op is spelled out, in fp32 unless a
caller asks for autocast (the demo training does).

Contents, in the order of the spec:
  - JetConfig: config.json loading with validation (section 2), and writing it back.
  - rms_norm, rope, Attention (full and sliding window, GQA), MLP (section 4).
  - DynamicConv: the kernel generator and the dynamic causal conv on V (section 4.3).
  - gdr_naive (the recurrent form, section 4.4) and gdr_chunk (the WY/UT chunked form, section 5).
  - JetBlock, DecoderLayer, JetForCausalLM.
  - JetCache: KV (attn), a window of KV (swa), conv state + recurrent state (jet) (section 6).
  - greedy_decode / sample_decode, load_checkpoint / save_checkpoint (HF folder, bf16 <-> fp32),
    save_tensors (safetensors fixtures).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYER_TYPES = ("attn", "swa", "jet")


class ConfigError(ValueError):
    pass


# --------------------------------------------------------------------------------------------
# Config (docs/model.md section 2)
# --------------------------------------------------------------------------------------------
@dataclass
class JetConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    layer_types: list
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    tie_word_embeddings: bool
    jet_num_heads: int
    jet_head_dim: int
    jet_expand_v: float
    jet_conv_size: int
    jet_generator_reduction: int
    jet_norm_eps: float
    swa_window: int
    bos_token_id: int | None = None
    eos_token_id: int | list | None = None
    raw: dict = field(default_factory=dict)

    # derived dims
    @property
    def attn_head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def jet_value_head_dim(self) -> int:
        return int(round(self.jet_head_dim * self.jet_expand_v))

    @property
    def jet_key_dim(self) -> int:
        return self.jet_num_heads * self.jet_head_dim

    @property
    def jet_value_dim(self) -> int:
        return self.jet_num_heads * self.jet_value_head_dim

    @property
    def jet_generator_hidden(self) -> int:
        return self.jet_value_dim // self.jet_generator_reduction

    @staticmethod
    def from_dict(d: dict) -> "JetConfig":
        def need(obj, key, where="config"):
            if key not in obj or obj[key] is None:
                raise ConfigError(f"{where}: missing '{key}'")
            return obj[key]

        if d.get("model_type") != "jet_nemotron":
            raise ConfigError(f"config: model_type is {d.get('model_type')!r}, expected 'jet_nemotron'")
        eac = need(d, "efficient_attention_config")
        jet = need(eac, "jet", "efficient_attention_config")
        swa = eac.get("swa", {})
        layer_types = list(need(d, "layer_types"))
        cfg = JetConfig(
            vocab_size=int(need(d, "vocab_size")),
            hidden_size=int(need(d, "hidden_size")),
            num_hidden_layers=int(need(d, "num_hidden_layers")),
            layer_types=layer_types,
            num_attention_heads=int(need(d, "num_attention_heads")),
            num_key_value_heads=int(need(d, "num_key_value_heads")),
            intermediate_size=int(need(d, "intermediate_size")),
            rms_norm_eps=float(need(d, "rms_norm_eps")),
            rope_theta=float(d.get("rope_theta", 10000.0)),
            max_position_embeddings=int(need(d, "max_position_embeddings")),
            tie_word_embeddings=bool(d.get("tie_word_embeddings", True)),
            jet_num_heads=int(need(jet, "num_heads", "jet")),
            jet_head_dim=int(need(jet, "head_dim", "jet")),
            jet_expand_v=float(need(jet, "expand_v", "jet")),
            jet_conv_size=int(need(jet, "conv_size", "jet")),
            jet_generator_reduction=int(need(jet, "dconv_generator_reduction", "jet")),
            jet_norm_eps=float(need(jet, "norm_eps", "jet")),  # a string in real files
            swa_window=int(swa.get("window_size", 0) or 0),
            bos_token_id=d.get("bos_token_id"),
            eos_token_id=d.get("eos_token_id"),
            raw=dict(d),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "num_key_value_heads", "intermediate_size", "max_position_embeddings",
                     "jet_num_heads", "jet_head_dim", "jet_conv_size", "jet_generator_reduction"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"config: {name} must be positive, got {getattr(self, name)}")
        for name in ("rms_norm_eps", "rope_theta", "jet_expand_v", "jet_norm_eps"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"config: {name} must be positive, got {getattr(self, name)}")
        if len(self.layer_types) != self.num_hidden_layers:
            raise ConfigError(f"config: layer_types has {len(self.layer_types)} entries, "
                              f"num_hidden_layers is {self.num_hidden_layers}")
        for i, t in enumerate(self.layer_types):
            if t not in LAYER_TYPES:
                raise ConfigError(f"config: layer_types[{i}] is {t!r}, expected one of {LAYER_TYPES}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError("config: num_attention_heads does not divide hidden_size")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError("config: num_key_value_heads does not divide num_attention_heads")
        if self.attn_head_dim % 2:
            raise ConfigError("config: attention head dim must be even for RoPE")
        dv = self.jet_head_dim * self.jet_expand_v
        if abs(dv - round(dv)) > 1e-6:
            raise ConfigError(f"config: jet head_dim * expand_v = {dv} is not an integer")
        if self.jet_value_dim % self.jet_generator_reduction:
            raise ConfigError("config: dconv_generator_reduction does not divide the value dim")
        if "swa" in self.layer_types and self.swa_window <= 0:
            raise ConfigError("config: swa layers need efficient_attention_config.swa.window_size > 0")
        rs = self.raw.get("rope_scaling")
        if rs not in (None, {}) and rs.get("rope_type", rs.get("type")) not in ("default", None):
            raise ConfigError(f"config: rope_scaling {rs} is not supported")

    def to_dict(self) -> dict:
        """The HF config.json, with the same keys as a real Jet-Nemotron checkpoint."""
        return {
            "architectures": ["JetNemotronForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": self.bos_token_id,
            "efficient_attention_config": {
                "jet": {
                    "mode": "chunk",
                    "expand_v": self.jet_expand_v,
                    "head_dim": self.jet_head_dim,
                    "num_heads": self.jet_num_heads,
                    "conv_size": self.jet_conv_size,
                    "dconv_generator_reduction": self.jet_generator_reduction,
                    "dconv_implementation": "triton",
                    "norm_eps": f"{self.jet_norm_eps:g}",
                },
                "swa": {"window_size": self.swa_window},
            },
            "eos_token_id": self.eos_token_id,
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "initializer_range": 0.02,
            "intermediate_size": self.intermediate_size,
            "layer_types": list(self.layer_types),
            "max_position_embeddings": self.max_position_embeddings,
            "model_type": "jet_nemotron",
            "num_attention_heads": self.num_attention_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "num_key_value_heads": self.num_key_value_heads,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_scaling": None,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": self.vocab_size,
        }


# --------------------------------------------------------------------------------------------
# Small ops (docs/model.md section 4)
# --------------------------------------------------------------------------------------------
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """w * x / sqrt(mean(x^2) + eps), computed in fp32, returned in x's dtype."""
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (weight.float() * y).to(x.dtype)


def l2_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """x / sqrt(sum x^2 + eps) over the last dim."""
    return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float):
    """cos/sin [T, head_dim] for the default RoPE, rotate-half layout, computed in fp32."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64,
                                             device=positions.device).float() / head_dim))
    angles = positions.float()[:, None] * inv_freq[None, :]  # [T, head_dim/2]
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, heads, T, hd]: out = [a cos - b sin, b cos + a sin] for halves a, b."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    rotated = torch.cat([-b, a], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


class MLP(nn.Module):
    def __init__(self, cfg: JetConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


# --------------------------------------------------------------------------------------------
# Attention: full causal ("attn") and sliding window ("swa"), GQA, RoPE
# --------------------------------------------------------------------------------------------
class AttnCache:
    """K/V of past tokens. With a window w, only the last w tokens are kept (what a ring buffer of
    w slots holds); a query at position t sees keys t-w+1..t."""

    def __init__(self, window: int | None):
        self.window = window
        self.k = None  # [B, nkv, S, hd]
        self.v = None
        self.pos = None  # [S] absolute positions of the cached keys

    def update(self, k, v, positions):
        if self.k is None:
            k_all, v_all, p_all = k, v, positions
        else:
            k_all = torch.cat([self.k, k], dim=2)
            v_all = torch.cat([self.v, v], dim=2)
            p_all = torch.cat([self.pos, positions])
        keep = k_all.shape[2] if self.window is None else min(self.window, k_all.shape[2])
        self.k, self.v, self.pos = k_all[:, :, -keep:], v_all[:, :, -keep:], p_all[-keep:]
        return k_all, v_all, p_all

    def nbytes(self) -> int:
        return 0 if self.k is None else 2 * self.k.numel() * self.k.element_size()


class Attention(nn.Module):
    def __init__(self, cfg: JetConfig, window: int | None):
        super().__init__()
        d, nh, nkv, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.attn_head_dim
        self.nh, self.nkv, self.hd, self.theta = nh, nkv, hd, cfg.rope_theta
        self.window = window
        self.q_proj = nn.Linear(d, nh * hd, bias=True)
        self.k_proj = nn.Linear(d, nkv * hd, bias=True)
        self.v_proj = nn.Linear(d, nkv * hd, bias=True)
        self.o_proj = nn.Linear(nh * hd, d, bias=False)

    def forward(self, x, pos0: int, cache: AttnCache | None = None, use_sdpa: bool = False, **_):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        positions = torch.arange(pos0, pos0 + T, device=x.device)
        cos, sin = rope_cos_sin(positions, self.hd, self.theta)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v, kpos = cache.update(k, v, positions)
        else:
            kpos = positions
        rep = self.nh // self.nkv  # query head h reads KV head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        mask = kpos[None, :] <= positions[:, None]  # [T, S], True = may attend
        if self.window is not None:
            mask = mask & (kpos[None, :] > positions[:, None] - self.window)
        if use_sdpa:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(self.hd)
            scores = scores.masked_fill(~mask, float("-inf"))
            o = torch.softmax(scores, dim=-1) @ v.float()
        o = o.transpose(1, 2).reshape(B, T, self.nh * self.hd).to(x.dtype)
        return self.o_proj(o)


# --------------------------------------------------------------------------------------------
# JetBlock pieces: dynamic conv (4.3) and the gated delta rule (4.4, 5)
# --------------------------------------------------------------------------------------------
class KernelGenerator(nn.Module):
    """k_t = w2 silu(w1 x) + b2: value_dim*W numbers per token, read as [value_dim][W]."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.w1 = nn.Linear(in_dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, out_dim, bias=True)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)))


class DynamicConv(nn.Module):
    """Causal depthwise conv of width W whose kernel is generated per token, then SiLU."""

    def __init__(self, channels: int, gen_in: int, width: int, gen_hidden: int):
        super().__init__()
        self.channels, self.width = channels, width
        self.kernel_generator = KernelGenerator(gen_in, gen_hidden, channels * width)

    def forward(self, u, gen_x, state=None):
        """u [B, T, C] (pre-conv values), gen_x [B, T, gen_in] (generator input), state [B, C, W]
        (the last W inputs, oldest first; None = zeros). Returns y [B, T, C] and the new state."""
        B, T, C = u.shape
        W = self.width
        kern = self.kernel_generator(gen_x).view(B, T, C, W)
        if state is None:
            state = u.new_zeros(B, C, W, dtype=torch.float32)
        hist = state[:, :, 1:].transpose(1, 2).to(u.dtype)  # the W-1 inputs before this call
        padded = torch.cat([hist, u], dim=1)  # [B, T+W-1, C]
        windows = padded.unfold(1, W, 1)  # [B, T, C, W]; j = W-1 is the current token
        y = F.silu((windows.float() * kern.float()).sum(-1))
        new_state = torch.cat([state, u.transpose(1, 2).float()], dim=2)[:, :, -W:]
        return y.to(u.dtype), new_state


def gdr_naive(q, k, v, g, beta, S0=None, scale=None):
    """Gated delta rule, one token at a time (docs/model.md section 5.4). q, k [B,T,H,K] (L2-normalised), v [B,T,H,V],
    g (log decay) and beta [B,T,H], S0 [B,H,K,V]. Returns o [B,T,H,V] and the final state, fp32."""
    B, T, H, K = q.shape
    V = v.shape[-1]
    scale = K ** -0.5 if scale is None else scale
    q, k, v, g, beta = (t.float() for t in (q, k, v, g, beta))
    S = q.new_zeros(B, H, K, V) if S0 is None else S0.float()
    outs = []
    for t in range(T):
        S = S * torch.exp(g[:, t])[:, :, None, None]
        kt = k[:, t]
        e = beta[:, t][:, :, None] * (v[:, t] - torch.einsum("bhkv,bhk->bhv", S, kt))
        S = S + kt[:, :, :, None] * e[:, :, None, :]
        outs.append(scale * torch.einsum("bhkv,bhk->bhv", S, q[:, t]))
    return torch.stack(outs, dim=1), S


def gdr_chunk(q, k, v, g, beta, S0=None, scale=None, chunk: int = 64):
    """The same map as gdr_naive, in the chunked WY/UT form of docs/model.md section 5.6."""
    B, T, H, K = q.shape
    V = v.shape[-1]
    C = chunk
    scale = K ** -0.5 if scale is None else scale
    # [B, H, T, *], fp32, padded to a multiple of C (padding: g = 0, beta = 0, k = v = q = 0,
    # which neither decays nor writes the state and comes after every real token)
    q, k, v = (t.float().transpose(1, 2) for t in (q, k, v))
    g, beta = (t.float().transpose(1, 2) for t in (g, beta))
    pad = (-T) % C
    if pad:
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        g, beta = F.pad(g, (0, pad)), F.pad(beta, (0, pad))
    N = (T + pad) // C
    q, k, v = (t.reshape(B, H, N, C, -1) for t in (q, k, v))
    g, beta = g.reshape(B, H, N, C), beta.reshape(B, H, N, C)

    gam = g.cumsum(-1)  # gamma_i, cumulative log decay inside the chunk
    diff = gam[..., :, None] - gam[..., None, :]  # gamma_i - gamma_j
    ones = torch.ones(C, C, dtype=torch.bool, device=q.device)
    strict, incl = torch.tril(ones, -1), torch.tril(ones, 0)
    decay_strict = torch.exp(diff.masked_fill(~strict, float("-inf")))
    decay_incl = torch.exp(diff.masked_fill(~incl, float("-inf")))  # M
    # 1. A[i][j] = beta_i exp(gamma_i - gamma_j) k_i.k_j (j < i);  2. T = (I + A)^-1
    A = beta[..., :, None] * decay_strict * (k @ k.transpose(-1, -2))
    L = A + torch.eye(C, device=q.device)
    Wc = torch.linalg.solve_triangular(L, (beta * gam.exp())[..., None] * k, upper=False, unitriangular=True)
    Uc = torch.linalg.solve_triangular(L, beta[..., None] * v, upper=False, unitriangular=True)
    qk = (q @ k.transpose(-1, -2)) * decay_incl  # M o (Q K^T)
    eg = gam.exp()
    eg_last = gam[..., -1].exp()
    k_dec = (gam[..., -1:] - gam).exp()[..., None] * k  # diag(exp(gamma_C - gamma)) K

    S = q.new_zeros(B, H, K, V) if S0 is None else S0.float()
    outs = []
    for n in range(N):  # only this part is sequential
        E = Uc[:, :, n] - Wc[:, :, n] @ S  # 3.
        o = scale * (eg[:, :, n, :, None] * (q[:, :, n] @ S) + qk[:, :, n] @ E)  # 4.
        S = eg_last[:, :, n, None, None] * S + k_dec[:, :, n].transpose(-1, -2) @ E  # 5.
        outs.append(o)
    o = torch.stack(outs, dim=2).reshape(B, H, N * C, V)[:, :, :T]
    return o.transpose(1, 2), S


class JetState:
    """Decode state of one JetBlock: conv [B, value_dim, W] and S [B, H, dK, dV], both fp32."""

    def __init__(self):
        self.conv = None
        self.S = None

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.conv, self.S) if t is not None)


class GateNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, o, gate):
        return rms_norm(o.float(), self.weight, self.eps) * F.silu(gate.float())


class JetBlock(nn.Module):
    def __init__(self, cfg: JetConfig):
        super().__init__()
        d = cfg.hidden_size
        self.H, self.dK, self.dV = cfg.jet_num_heads, cfg.jet_head_dim, cfg.jet_value_head_dim
        kd, vd = cfg.jet_key_dim, cfg.jet_value_dim
        self.q_proj = nn.Linear(d, kd, bias=False)
        self.k_proj = nn.Linear(d, kd, bias=False)
        self.v_proj = nn.Linear(d, vd, bias=False)
        self.a_proj = nn.Linear(d, self.H, bias=False)
        self.b_proj = nn.Linear(d, self.H, bias=False)
        self.A_log = nn.Parameter(torch.zeros(self.H))
        self.dt_bias = nn.Parameter(torch.zeros(self.H))
        self.g_proj = nn.Linear(d, vd, bias=False)
        self.o_norm = GateNorm(self.dV, cfg.jet_norm_eps)
        self.o_proj = nn.Linear(vd, d, bias=False)
        self.dynamic_conv1d = DynamicConv(vd, d, cfg.jet_conv_size, cfg.jet_generator_hidden)

    def forward(self, x, pos0: int = 0, cache: JetState | None = None, gdr_mode: str = "naive", **_):
        B, T, _ = x.shape
        H, dK, dV = self.H, self.dK, self.dV
        q = l2_normalize(F.silu(self.q_proj(x)).float().view(B, T, H, dK))
        k = l2_normalize(F.silu(self.k_proj(x)).float().view(B, T, H, dK))
        beta = torch.sigmoid(self.b_proj(x).float())
        g = -torch.exp(self.A_log.float()) * F.softplus(self.a_proj(x).float() + self.dt_bias.float())
        u = self.v_proj(x)
        v, conv_state = self.dynamic_conv1d(u, x, None if cache is None else cache.conv)
        v = v.float().view(B, T, H, dV)
        S0 = None if cache is None else cache.S
        mode = gdr_mode if gdr_mode != "auto" else ("chunk" if T > 64 else "naive")
        with torch.autocast(device_type=x.device.type, enabled=False):
            if mode == "naive":
                o, S = gdr_naive(q, k, v, g, beta, S0)
            elif mode == "chunk":
                o, S = gdr_chunk(q, k, v, g, beta, S0)
            else:
                raise ValueError(f"unknown gdr_mode {gdr_mode!r}")
        if cache is not None:
            cache.conv, cache.S = conv_state, S
        gate = self.g_proj(x).view(B, T, H, dV)
        o = self.o_norm(o, gate).reshape(B, T, H * dV).to(x.dtype)
        return self.o_proj(o)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------
class DecoderLayer(nn.Module):
    def __init__(self, cfg: JetConfig, layer_type: str):
        super().__init__()
        self.layer_type = layer_type
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if layer_type == "attn":
            self.self_attn = Attention(cfg, None)
        elif layer_type == "swa":
            self.self_attn = Attention(cfg, cfg.swa_window)
        else:
            self.self_attn = JetBlock(cfg)
        self.mlp = MLP(cfg)


class JetCache:
    def __init__(self, cfg: JetConfig):
        self.layers = [JetState() if t == "jet" else AttnCache(cfg.swa_window if t == "swa" else None)
                       for t in cfg.layer_types]
        self.pos = 0

    def nbytes(self) -> int:
        return sum(c.nbytes() for c in self.layers)


class JetForCausalLM(nn.Module):
    def __init__(self, cfg: JetConfig):
        super().__init__()
        self.config = cfg
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.model.layers = nn.ModuleList(DecoderLayer(cfg, t) for t in cfg.layer_types)
        self.model.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def new_cache(self) -> JetCache:
        return JetCache(self.config)

    def lm_weight(self):
        return self.model.embed_tokens.weight if self.config.tie_word_embeddings else self.lm_head.weight

    def forward(self, ids, cache: JetCache | None = None, gdr_mode: str = "naive",
                return_hidden: bool = False, use_sdpa: bool = False, dropout: float = 0.0):
        """ids [B, T] -> dict(logits [B, T, V], hidden (list of [B, T, d]: embedding, then after
        each layer), final_norm). With a cache, positions continue from cache.pos."""
        B, T = ids.shape
        if int(ids.min()) < 0 or int(ids.max()) >= self.config.vocab_size:
            raise ValueError(f"token id out of range [0, {self.config.vocab_size})")
        pos0 = 0 if cache is None else cache.pos
        x = self.model.embed_tokens(ids)
        hidden = [x] if return_hidden else None
        for i, layer in enumerate(self.model.layers):
            lc = None if cache is None else cache.layers[i]
            m = layer.self_attn(layer.input_layernorm(x), pos0=pos0, cache=lc, gdr_mode=gdr_mode, use_sdpa=use_sdpa)
            x = x + F.dropout(m, dropout, self.training)
            m = layer.mlp(layer.post_attention_layernorm(x))
            x = x + F.dropout(m, dropout, self.training)
            if return_hidden:
                hidden.append(x)
        xn = self.model.norm(x)
        logits = F.linear(xn, self.lm_weight())
        if cache is not None:
            cache.pos += T
        return {"logits": logits, "hidden": hidden, "final_norm": xn}


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def greedy_decode(model: JetForCausalLM, prompt: list, steps: int, gdr_mode: str = "naive"):
    """Prefill the prompt with a cache, then `steps` single-token forwards. Returns (ids, logits):
    ids[0] is the argmax after the prompt; logits[s] is the forward of ids[s] (its argmax is ids[s+1])."""
    dev = model.lm_weight().device
    cache = model.new_cache()
    out = model(torch.tensor([prompt], device=dev), cache=cache, gdr_mode=gdr_mode)
    ids = [int(out["logits"][0, -1].argmax())]
    logits = []
    for s in range(steps):
        out = model(torch.tensor([[ids[-1]]], device=dev), cache=cache, gdr_mode=gdr_mode)
        logits.append(out["logits"][0, -1].float())
        if s < steps - 1:
            ids.append(int(logits[-1].argmax()))
    return ids, torch.stack(logits)


@torch.no_grad()
def sample_decode(model: JetForCausalLM, prompt: list, steps: int, temperature: float = 0.0,
                  top_k: int = 0, seed: int = 0, stop_ids=(), gdr_mode: str = "auto"):
    """Generate up to `steps` tokens (temperature 0 = greedy). Returns the new ids."""
    dev = model.lm_weight().device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    cache = model.new_cache()
    logits = model(torch.tensor([prompt], device=dev), cache=cache, gdr_mode=gdr_mode)["logits"][0, -1]
    out = []
    for _ in range(steps):
        lf = logits.float().cpu()
        if temperature <= 0:
            nxt = int(lf.argmax())
        else:
            lf = lf / temperature
            if top_k > 0:
                kth = torch.topk(lf, min(top_k, lf.numel())).values[-1]
                lf = lf.masked_fill(lf < kth, float("-inf"))
            nxt = int(torch.multinomial(torch.softmax(lf, -1), 1, generator=gen))
        out.append(nxt)
        if nxt in stop_ids:
            break
        logits = model(torch.tensor([[nxt]], device=dev), cache=cache, gdr_mode=gdr_mode)["logits"][0, -1]
    return out


# --------------------------------------------------------------------------------------------
# Checkpoints and fixtures
# --------------------------------------------------------------------------------------------
def load_checkpoint(folder: str, device="cpu", dtype=torch.float32) -> JetForCausalLM:
    """Load an HF checkpoint folder (config.json + model.safetensors or a sharded index); weights
    are converted (bf16 -> fp32 by default)."""
    from safetensors.torch import load_file

    with open(os.path.join(folder, "config.json")) as f:
        cfg = JetConfig.from_dict(json.load(f))
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        tensors.update(load_file(os.path.join(folder, name)))
    model = JetForCausalLM(cfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{folder}: missing tensors {missing[:5]}, unexpected tensors {unexpected[:5]}")
    for name, t in tensors.items():
        if tuple(t.shape) != tuple(expected[name].shape):
            raise ValueError(f"{folder}: {name} has shape {tuple(t.shape)}, expected {tuple(expected[name].shape)}")
    model.load_state_dict({k: v.to(dtype) for k, v in tensors.items()})
    return model.to(device=device, dtype=dtype).eval()


def save_checkpoint(model: JetForCausalLM, folder: str, dtype=torch.bfloat16) -> None:
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    tensors = {k: v.detach().to(dtype).contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(model.config.to_dict(), f, indent=2)
        f.write("\n")


def save_tensors(tensors: dict, path: str) -> None:
    from safetensors.torch import save_file

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, path)


def compare(a: torch.Tensor, b: torch.Tensor) -> dict:
    """max |a-b|, and relative = max |a-b| / max |b| (b is the golden)."""
    a, b = a.double().cpu(), b.double().cpu()
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {tuple(a.shape)} vs {tuple(b.shape)}")
    d = (a - b).abs().max().item()
    m = b.abs().max().item()
    return {"max_abs": d, "rel": d / m if m > 0 else d, "max_golden": m}
