"""Train the embedded demo model, models/jetnative-demo, from scratch on tiny Shakespeare.

usage (on a machine with a CUDA GPU, PyTorch, tokenizers, safetensors, matplotlib):
    python3 tests/reference/train_demo.py --data ../shared/data/tinyshakespeare.txt \
        --out models/jetnative-demo --seconds 240

Steps: split the text (last 10% of the bytes held out), train a byte-level BPE tokenizer (Qwen2
layout) on the training split, train a small Jet-Nemotron (every layer type) with the oracle's
modules (chunked gated delta rule, bf16 autocast, AdamW, cosine schedule, dropout), keep the
checkpoint with the best validation loss, save it as an HF folder (bf16), then reload it in fp32
and compute the validation perplexity by the protocol in eval.json, sample text, and write the
model card (README.md) and loss.png.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jet_reference as jr  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
                 " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|im_start|>assistant\n' }}{% endif %}")
EVAL_WINDOW = 256

MODEL = {
    "hidden_size": 256, "num_hidden_layers": 8,
    "layer_types": ["jet", "jet", "swa", "jet", "attn", "jet", "swa", "jet"],
    "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
    "jet": {"num_heads": 4, "head_dim": 64, "expand_v": 2.0, "conv_size": 4,
            "dconv_generator_reduction": 8, "norm_eps": "1e-5"},
    "swa_window": 64, "rope_theta": 10000.0, "max_position_embeddings": 4096,
}


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------
def train_tokenizer(train_text: str, vocab_size: int, out: str):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B:1", special_tokens=[])
    n_regular = vocab_size - len(SPECIALS)
    trainer = trainers.BpeTrainer(vocab_size=n_regular, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator([train_text], trainer=trainer)
    got = tok.get_vocab_size(with_added_tokens=False)
    if got != n_regular:
        raise RuntimeError(f"BPE trainer gave {got} tokens, wanted {n_regular}")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    ids = {s: tok.token_to_id(s) for s in SPECIALS}
    assert ids == {s: n_regular + i for i, s in enumerate(SPECIALS)}, ids
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    # Qwen2's tokenizer.json spells the BPE model's empty affixes as "" (tokenizers writes null)
    with open(os.path.join(out, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if tj["model"].get(key) is None:
            tj["model"][key] = ""
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=2)
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    tok.model.save(out)  # vocab.json + merges.txt, as Qwen2 ships them too
    eot = ids["<|endoftext|>"]
    tcfg = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[s]): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                               "single_word": False, "special": True} for s in SPECIALS},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None, "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": MODEL["max_position_embeddings"],
        "pad_token": "<|endoftext|>", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tcfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": eot, "eos_token_id": [eot, ids["<|im_end|>"]], "do_sample": True,
                   "temperature": 0.8, "top_k": 40, "top_p": 0.95, "repetition_penalty": 1.1,
                   "max_new_tokens": 256}, f, indent=2)
        f.write("\n")
    return tok, ids


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
def demo_config(vocab_size: int, bos: int, eos: int) -> jr.JetConfig:
    m = MODEL
    return jr.JetConfig.from_dict({
        "model_type": "jet_nemotron", "vocab_size": vocab_size, "hidden_size": m["hidden_size"],
        "num_hidden_layers": m["num_hidden_layers"], "layer_types": m["layer_types"],
        "num_attention_heads": m["num_attention_heads"], "num_key_value_heads": m["num_key_value_heads"],
        "intermediate_size": m["intermediate_size"], "rms_norm_eps": 1e-6, "rope_theta": m["rope_theta"],
        "max_position_embeddings": m["max_position_embeddings"], "tie_word_embeddings": True,
        "bos_token_id": bos, "eos_token_id": eos,
        "efficient_attention_config": {"jet": m["jet"], "swa": {"window_size": m["swa_window"]}},
    })


@torch.no_grad()
def init_weights(model: jr.JetForCausalLM) -> None:
    L = model.config.num_hidden_layers
    for name, p in model.named_parameters():
        if name.endswith("A_log"):
            p.copy_(torch.log(torch.empty_like(p).uniform_(1, 16)))
        elif name.endswith("dt_bias"):
            dt = torch.exp(torch.empty_like(p).uniform_(math.log(1e-3), math.log(1e-1)))
            p.copy_(dt + torch.log(-torch.expm1(-dt)))
        elif name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            p.fill_(1.0)
        elif name.endswith("kernel_generator.w2.bias"):
            W = model.config.jet_conv_size
            p.zero_()
            p.view(-1, W)[:, -1] = 1.0  # start as the identity conv (current token only)
        elif name.endswith(".bias"):
            p.zero_()
        elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
            p.normal_(0, 0.02 / math.sqrt(2 * L))
        else:
            p.normal_(0, 0.02)


def batches_of_windows(ids: torch.Tensor, n: int) -> torch.Tensor:
    """Consecutive non-overlapping windows of n tokens; the remainder is dropped."""
    k = ids.numel() // n
    return ids[: k * n].view(k, n)


@torch.no_grad()
def eval_loss(model, windows, bs=64, gdr_mode="chunk", autocast=True, device="cuda"):
    """Mean NLL over the n-1 predicted tokens of every window (each window from an empty cache)."""
    model.eval()
    tot, cnt, per_window = 0.0, 0, []
    for s in range(0, windows.shape[0], bs):
        w = windows[s:s + bs].to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(w, gdr_mode=gdr_mode, use_sdpa=autocast)["logits"]
        lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
        nll = -lp.gather(-1, w[:, 1:, None]).squeeze(-1)  # [b, n-1]
        per_window += nll.mean(-1).tolist()
        tot += nll.sum().item()
        cnt += nll.numel()
    return tot / cnt, per_window


def lr_at(step, total, peak, warmup, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * p))


def plot_losses(runs, chosen, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001
        log(f"matplotlib unavailable ({e}); no loss.png")
        return False
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for j, run in enumerate(runs):
        h, name = run["history"], run["name"]
        main_run = j == chosen
        tr, va = h["train"], h["val"]
        ax.plot([s for s, _ in tr], [l for _, l in tr], lw=0.8 if main_run else 0.5, alpha=0.9 if main_run else 0.35,
                color=f"C{j}", label=f"{name} train" + (" (kept)" if main_run else ""))
        ax.plot([s for s, _ in va], [l for _, l in va], "o-", ms=3, lw=1.4 if main_run else 0.8,
                alpha=1.0 if main_run else 0.5, color=f"C{j}", label=f"{name} validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("jetnative-demo on tiny Shakespeare")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    return True


# Candidate training recipes (the data is small, ~0.28M tokens, so the model overfits within a few
# epochs: the candidates differ in schedule length and dropout). Each keeps its best-validation
# checkpoint; the best of all is saved.
RECIPES = [
    {"name": "A", "steps": 500, "dropout": 0.2, "lr": 1.5e-3},
    {"name": "B", "steps": 350, "dropout": 0.2, "lr": 1.5e-3},
    {"name": "C", "steps": 400, "dropout": 0.1, "lr": 1.5e-3},
]


def train_one(recipe, cfg, train_ids, val_windows, args, dev):
    torch.manual_seed(args.seed)
    model = jr.JetForCausalLM(cfg)
    init_weights(model)
    model.to(dev)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=recipe["lr"], betas=(0.9, 0.95), fused=True)
    gen = torch.Generator().manual_seed(args.seed)
    train_gpu = train_ids.to(dev)
    history = {"train": [], "val": [], "lr": []}
    best = (float("inf"), -1, None)
    total, warmup, peak = recipe["steps"], 100, recipe["lr"]
    t0 = time.time()
    for step in range(1, total + 1):
        lr = lr_at(step - 1, total, peak, warmup, peak * 0.1)
        for grp in opt.param_groups:
            grp["lr"] = lr
        starts = torch.randint(0, train_ids.numel() - args.seq - 1, (args.batch,), generator=gen)
        idx = starts[:, None] + torch.arange(args.seq + 1)[None, :]
        xy = train_gpu[idx.to(dev)]
        model.train()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(xy[:, :-1], gdr_mode="chunk", use_sdpa=True, dropout=recipe["dropout"])["logits"]
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 10 == 0:
            history["train"].append((step, loss.item()))
            history["lr"].append((step, lr))
        if step % 50 == 0 or step == total:
            vl, _ = eval_loss(model, val_windows, device=dev)
            history["val"].append((step, vl))
            if step % 100 == 0 or step == total:
                log(f"[{recipe['name']}] step {step}/{total} train {loss.item():.4f} val {vl:.4f} lr {lr:.2e} "
                    f"t {time.time() - t0:.0f}s")
            if vl < best[0]:
                best = (vl, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
    torch.cuda.synchronize()
    seconds = time.time() - t0
    log(f"[{recipe['name']}] {total} steps in {seconds:.1f}s; best val {best[0]:.4f} at step {best[1]}")
    return {"name": recipe["name"], "recipe": recipe, "history": history, "best_val": best[0],
            "best_step": best[1], "seconds": seconds, "state": best[2]}


def write_demo_golden(ref, tok, val_text, model_dir, out_dir):
    """A small golden for the demo model (tests/fixtures/jetnative-demo/): tokenizer ids and the
    oracle's fp32 logits, so the engine + tokenizer can be checked end to end."""
    os.makedirs(out_dir, exist_ok=True)
    texts = ["ROMEO:", "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n", "Hello, world!\n\n  two  spaces\ttab",
             "naïve café — Ünïcödé ✓ 😀 日本語", "It's 2024; we'll see 12345 things...\r\n",
             "<|im_start|>user\nSpeak, friend.<|im_end|>\n<|im_start|>assistant\n", val_text[:600]]
    tg = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts]
    for e in tg:
        e["decoded"] = tok.decode(e["ids"], skip_special_tokens=False)
    with open(os.path.join(out_dir, "tokenizer-golden.json"), "w", encoding="utf-8") as f:
        json.dump(tg, f, ensure_ascii=False, indent=1)
    g = {}
    prompt = tok.encode("ROMEO:", add_special_tokens=False).ids
    val64 = tok.encode(val_text, add_special_tokens=False).ids[:64]
    dev = ref.lm_weight().device
    for i, ids in enumerate((prompt, val64)):
        with torch.no_grad():
            out = ref(torch.tensor([ids], device=dev), gdr_mode="naive")
        g[f"input_ids.{i}"] = torch.tensor(ids, dtype=torch.int64)
        g[f"logits.{i}"] = out["logits"][0].float()
        g[f"final_norm.{i}"] = out["final_norm"][0].float()
        dids, dlogits = jr.greedy_decode(ref, ids, 16)
        g[f"decode_ids.{i}"] = torch.tensor(dids, dtype=torch.int64)
        g[f"decode_logits.{i}"] = dlogits
    jr.save_tensors(g, os.path.join(out_dir, "golden.safetensors"))
    sha = hashlib.sha256(open(os.path.join(model_dir, "model.safetensors"), "rb").read()).hexdigest()
    with open(os.path.join(out_dir, "model_sha256.txt"), "w") as f:
        f.write(sha + "  models/jetnative-demo/model.safetensors\n")
    log(f"demo golden written; greedy after 'ROMEO:': {tok.decode(g['decode_ids.0'].tolist())!r}")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "models", "jetnative-demo"))
    ap.add_argument("--golden-out", default=os.path.join(here, "..", "fixtures", "jetnative-demo"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=EVAL_WINDOW)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--recipes", default="A,B,C", help="names from RECIPES to train")
    args = ap.parse_args()
    dev = "cuda"
    t_start = time.time()

    raw = open(args.data, "rb").read()
    split = len(raw) * 9 // 10
    train_text, val_text = raw[:split].decode("utf-8"), raw[split:].decode("utf-8")
    log(f"data: {len(raw)} bytes, train [0, {split}), validation [{split}, {len(raw)})")

    tok, sid = train_tokenizer(train_text, args.vocab, args.out)
    train_ids = torch.tensor(tok.encode(train_text, add_special_tokens=False).ids, dtype=torch.int64)
    val_ids = torch.tensor(tok.encode(val_text, add_special_tokens=False).ids, dtype=torch.int64)
    log(f"tokenizer: vocab {tok.get_vocab_size()}, train {train_ids.numel()} tokens "
        f"({len(train_text) / train_ids.numel():.2f} chars/token), val {val_ids.numel()} tokens")

    cfg = demo_config(tok.get_vocab_size(), sid["<|endoftext|>"], sid["<|endoftext|>"])
    n_params = sum(p.numel() for p in jr.JetForCausalLM(cfg).parameters())
    log(f"model: {n_params} parameters, layers {cfg.layer_types}")

    torch.backends.cuda.matmul.allow_tf32 = True
    val_windows = batches_of_windows(val_ids, args.seq)
    wanted = args.recipes.split(",")
    runs = [train_one(r, cfg, train_ids, val_windows, args, dev) for r in RECIPES if r["name"] in wanted]
    chosen = min(range(len(runs)), key=lambda j: runs[j]["best_val"])
    run = runs[chosen]
    train_seconds = sum(r["seconds"] for r in runs)
    log(f"kept recipe {run['name']} (best val {run['best_val']:.4f} at step {run['best_step']}); "
        f"all training {train_seconds:.1f}s")

    # ---- save the kept checkpoint (bf16), reload it in fp32 as an engine would ----
    model = jr.JetForCausalLM(cfg)
    model.load_state_dict(run["state"])
    jr.save_checkpoint(model, args.out)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ref = jr.load_checkpoint(args.out, device=dev)

    # ---- validation perplexity, the exact protocol of eval.json ----
    nll, per_window = eval_loss(ref, val_windows, bs=32, gdr_mode="naive", autocast=False, device=dev)
    nll_chunk, _ = eval_loss(ref, val_windows, bs=32, gdr_mode="chunk", autocast=False, device=dev)
    ppl = math.exp(nll)
    log(f"fp32 validation: mean NLL {nll:.6f} (chunk form {nll_chunk:.6f}), ppl {ppl:.4f}")
    ev = {
        "protocol": ("validation text = bytes [byte_start, byte_end) of text_file decoded as UTF-8; tokenized alone "
                     "with tokenizer.json, no special tokens added, no BOS; cut into consecutive non-overlapping "
                     "windows of window tokens starting at token 0, the remainder (fewer than window tokens) "
                     "dropped; each window is one forward from an empty cache (positions 0..window-1); NLL of "
                     "token j+1 given tokens 0..j for j = 0..window-2 (window-1 predictions per window); "
                     "mean_nll = mean over all predictions of all windows (natural log); ppl = exp(mean_nll)."),
        "text_file": "tinyshakespeare.txt (../shared/data/tinyshakespeare.txt)",
        "text_sha256": hashlib.sha256(raw).hexdigest(),
        "text_bytes": len(raw),
        "byte_start": split, "byte_end": len(raw),
        "window": args.seq, "remainder": "dropped",
        "num_tokens": int(val_ids.numel()), "num_windows": int(val_windows.shape[0]),
        "num_predictions": int(val_windows.shape[0] * (args.seq - 1)),
        "first_token_ids": val_ids[:32].tolist(),
        "mean_nll": nll, "ppl": ppl,
        "mean_nll_chunk_form": nll_chunk,
        "precision": "fp32 compute (bf16 weights upcast), no TF32, gated delta rule in the recurrent form",
        "per_window_mean_nll": per_window,
    }
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(ev, f, indent=1)

    # ---- samples with the reloaded fp32 model and the cache ----
    stop = (sid["<|endoftext|>"], sid["<|im_end|>"])
    samples = []
    for prompt, temp, seed in (("ROMEO:", 0.0, 0), ("ROMEO:", 0.8, 1), ("JULIET:\n", 0.8, 2),
                               ("First Citizen:\n", 0.8, 3), ("KING HENRY VI:\nWhat", 0.8, 4)):
        pids = tok.encode(prompt, add_special_tokens=False).ids
        new = jr.sample_decode(ref, pids, 120, temperature=temp, top_k=40 if temp > 0 else 0, seed=seed,
                               stop_ids=stop)
        text = tok.decode(pids + new)
        samples.append({"prompt": prompt, "temperature": temp, "top_k": 40 if temp > 0 else 0, "seed": seed,
                        "text": text})
        log(f"--- sample ({prompt!r}, temp {temp}) ---\n{text}\n")

    write_demo_golden(ref, tok, val_text, args.out, args.golden_out)

    # ---- the tokenizer through transformers (chat template), for the record ----
    chat_check = None
    try:
        from transformers import PreTrainedTokenizerFast
        tc = json.load(open(os.path.join(args.out, "tokenizer_config.json")))
        hf = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.out, "tokenizer.json"),
                                     eos_token=tc["eos_token"], pad_token=tc["pad_token"])
        hf.chat_template = tc["chat_template"]
        chat_check = hf.apply_chat_template([{"role": "user", "content": "Speak, friend."}], tokenize=False,
                                            add_generation_prompt=True)
        same = hf.encode(val_text[:2000], add_special_tokens=False) == tok.encode(val_text[:2000]).ids
        log(f"transformers loads tokenizer.json; same ids: {same}; chat: {chat_check!r}")
    except Exception as e:  # noqa: BLE001
        log(f"transformers check failed: {e!r}")

    has_png = plot_losses(runs, chosen, os.path.join(args.out, "loss.png"))
    summary = {
        "parameters": n_params, "kept": run["name"], "steps": run["recipe"]["steps"], "best_step": run["best_step"],
        "recipe_seconds": run["seconds"], "all_training_seconds": train_seconds, "batch": args.batch, "seq": args.seq,
        "tokens_per_step": args.batch * args.seq, "best_val_loss_bf16": run["best_val"],
        "val_nll_fp32": nll, "val_ppl_fp32": ppl, "train_tokens": int(train_ids.numel()),
        "val_tokens": int(val_ids.numel()), "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "total_seconds": time.time() - t_start,
        "runs": [{k: r[k] for k in ("name", "recipe", "best_val", "best_step", "seconds", "history")} for r in runs],
        "samples": samples, "chat_template_render": chat_check, "loss_png": has_png,
    }
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log(f"done in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
