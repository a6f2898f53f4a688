"""Write JetNative's own fixtures with the oracle (CPU, fp32, deterministic seeds):

  tests/fixtures/tiny-jet-b/    config.json, model.safetensors (bf16), golden.safetensors, README.md
  tests/fixtures/kernels-small/ kernels.safetensors, README.md

usage: python3 make_fixtures.py [--out tests/fixtures]
golden.safetensors uses exactly the key scheme of ../shared/fixtures/tiny-jet-a/golden.safetensors
(without logits_bf16_triton.i, which needs the official Triton kernels).
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jet_reference as jr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

TINY_B = {
    "vocab_size": 777,
    "hidden_size": 96,
    "num_hidden_layers": 7,
    "layer_types": ["jet", "swa", "jet", "attn", "jet", "swa", "jet"],
    "num_attention_heads": 3,
    "num_key_value_heads": 1,
    "intermediate_size": 201,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
    "jet": {"num_heads": 3, "head_dim": 24, "expand_v": 2.0, "conv_size": 4, "dconv_generator_reduction": 8,
            "norm_eps": "1e-5"},
    "swa_window": 24,
}
PROMPT_LENGTHS = (77, 131)
DECODE_STEPS = 12


def tiny_b_config() -> jr.JetConfig:
    t = TINY_B
    d = {
        "model_type": "jet_nemotron", "vocab_size": t["vocab_size"], "hidden_size": t["hidden_size"],
        "num_hidden_layers": t["num_hidden_layers"], "layer_types": t["layer_types"],
        "num_attention_heads": t["num_attention_heads"], "num_key_value_heads": t["num_key_value_heads"],
        "intermediate_size": t["intermediate_size"], "rms_norm_eps": t["rms_norm_eps"],
        "rope_theta": t["rope_theta"], "max_position_embeddings": t["max_position_embeddings"],
        "tie_word_embeddings": t["tie_word_embeddings"], "bos_token_id": 1, "eos_token_id": 2,
        "efficient_attention_config": {"jet": t["jet"], "swa": {"window_size": t["swa_window"]}},
    }
    return jr.JetConfig.from_dict(d)


@torch.no_grad()
def random_init(model: jr.JetForCausalLM, gen: torch.Generator) -> None:
    """Random weights that keep activations O(1) and make every part matter (not the official init:
    the kernel generator is non-zero so the conv is really dynamic; decays span fast and slow)."""
    def randn(*shape):
        return torch.randn(*shape, generator=gen)

    for name, p in model.named_parameters():
        if name.endswith("A_log"):
            p.copy_(torch.log(1 + 15 * torch.rand(p.shape, generator=gen)))
        elif name.endswith("dt_bias"):
            dt = torch.exp(math.log(1e-3) + (math.log(1e-1) - math.log(1e-3)) * torch.rand(p.shape, generator=gen))
            p.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)
        elif name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            p.copy_(1 + 0.1 * randn(*p.shape))
        elif name.endswith(".bias"):
            p.copy_(0.3 * randn(*p.shape))
        elif name in ("model.embed_tokens.weight", "lm_head.weight"):
            p.copy_(randn(*p.shape))
        else:  # linear weights [out, in]
            p.copy_(randn(*p.shape) / math.sqrt(p.shape[1]))


def write_tiny_b(out_dir: str) -> dict:
    folder = os.path.join(out_dir, "tiny-jet-b")
    gen = torch.Generator().manual_seed(20261126)
    cfg = tiny_b_config()
    model = jr.JetForCausalLM(cfg)
    random_init(model, gen)
    jr.save_checkpoint(model, folder)  # bf16 on disk
    model = jr.load_checkpoint(folder)  # bf16 -> fp32, exactly what an engine reads
    golden, checks = {}, {}
    for i, T in enumerate(PROMPT_LENGTHS):
        ids = torch.randint(0, cfg.vocab_size, (T,), generator=gen, dtype=torch.int64)
        with torch.no_grad():
            out = model(ids[None], gdr_mode="naive", return_hidden=True)
            chunk = model(ids[None], gdr_mode="chunk")["logits"][0]
            prefix = model(ids[None, : T // 2], gdr_mode="naive")["logits"][0]
        logits = out["logits"][0]
        golden[f"input_ids.{i}"] = ids
        golden[f"logits.{i}"] = logits
        for l, h in enumerate(out["hidden"]):
            golden[f"hidden.{i}.{l}"] = h[0]
        golden[f"final_norm.{i}"] = out["final_norm"][0]
        dids, dlogits = jr.greedy_decode(model, ids.tolist(), DECODE_STEPS)
        golden[f"decode_ids.{i}"] = torch.tensor(dids, dtype=torch.int64)
        golden[f"decode_logits.{i}"] = dlogits
        with torch.no_grad():  # decode with the cache vs one prefill of prompt + decoded tokens
            full = model(torch.cat([ids, torch.tensor(dids)])[None], gdr_mode="naive")["logits"][0]
        checks[f"chunk_vs_naive.{i}"] = jr.compare(chunk, logits)
        checks[f"causality_prefix.{i}"] = jr.compare(prefix, logits[: T // 2])
        checks[f"decode_vs_prefill.{i}"] = jr.compare(dlogits, full[T:T + DECODE_STEPS])
        checks[f"max_abs_logit.{i}"] = logits.abs().max().item()
    jr.save_tensors(golden, os.path.join(folder, "golden.safetensors"))
    with open(os.path.join(folder, "checks.json"), "w") as f:
        json.dump(checks, f, indent=1)
    for k, v in checks.items():
        print(f"tiny-jet-b {k}: {v}")
    return checks


def write_kernels_small(out_dir: str) -> dict:
    folder = os.path.join(out_dir, "kernels-small")
    gen = torch.Generator().manual_seed(97)
    B, T, H, K, V = 1, 97, 2, 32, 48
    q = jr.l2_normalize(torch.randn(B, T, H, K, generator=gen))
    k = jr.l2_normalize(torch.randn(B, T, H, K, generator=gen))
    v = torch.randn(B, T, H, V, generator=gen)
    g = F.logsigmoid(2 + 2 * torch.randn(B, T, H, generator=gen))  # log decay <= 0
    beta = torch.sigmoid(torch.randn(B, T, H, generator=gen))
    h0 = 0.5 * torch.randn(B, H, K, V, generator=gen)
    o, hT = jr.gdr_naive(q, k, v, g, beta, h0)
    oc, hTc = jr.gdr_chunk(q, k, v, g, beta, h0)
    t = {"gdr_q": q, "gdr_k": k, "gdr_v": v, "gdr_g": g, "gdr_beta": beta, "gdr_h0": h0, "gdr_o": o, "gdr_hT": hT}

    D, W, G, Tx, Tp = 32, 4, 24, 40, 37
    r = D // 8
    conv = jr.DynamicConv(D, G, W, r)
    with torch.no_grad():
        conv.kernel_generator.w1.weight.copy_(torch.randn(r, G, generator=gen) / math.sqrt(G))
        conv.kernel_generator.w2.weight.copy_(torch.randn(D * W, r, generator=gen) / math.sqrt(r))
        conv.kernel_generator.w2.bias.copy_(0.5 * torch.randn(D * W, generator=gen))
        x = torch.randn(1, Tx, D, generator=gen)
        gi = torch.randn(1, Tx, G, generator=gen)
        y, st = conv(x[:, :Tp], gi[:, :Tp])
        st0 = st.clone()
        ys = []
        for i in range(Tp, Tx):
            yi, st = conv(x[:, i:i + 1], gi[:, i:i + 1], st)
            ys.append(yi[0, 0])
        yfull, _ = conv(x, gi)
    kg = conv.kernel_generator
    t.update({
        "dconv_kernel_generator_w1_weight": kg.w1.weight.detach(), "dconv_kernel_generator_w2_weight": kg.w2.weight.detach(),
        "dconv_kernel_generator_w2_bias": kg.w2.bias.detach(), "dconv_x": x, "dconv_gen_in": gi, "dconv_y": y,
        "dconv_state": st0, "dconv_decode_y": torch.stack(ys), "dconv_state_after": st,
    })
    jr.save_tensors(t, os.path.join(folder, "kernels.safetensors"))
    checks = {"gdr_chunk_vs_naive_o": jr.compare(oc, o), "gdr_chunk_vs_naive_hT": jr.compare(hTc, hT),
              "dconv_decode_vs_prefill": jr.compare(torch.stack(ys), yfull[0, Tp:])}
    with open(os.path.join(folder, "checks.json"), "w") as f:
        json.dump(checks, f, indent=1)
    for k2, v2 in checks.items():
        print(f"kernels-small {k2}: {v2}")
    return checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(16, os.cpu_count() or 1)))
    write_kernels_small(args.out)
    write_tiny_b(args.out)


if __name__ == "__main__":
    main()
