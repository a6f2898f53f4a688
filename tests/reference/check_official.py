"""Check the oracle against the official goldens (../shared/fixtures): tiny-jet-a and kernels.

usage: python3 check_official.py [--fixtures DIR] [--report out.json]
Prints one line per comparison: max |diff|, relative (max |diff| / max |golden|). Exit code 1 when
the fp32 logits are off by more than 1e-5 relative.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jet_reference as jr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "..", "shared", "fixtures"))
    ap.add_argument("--report", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(16, os.cpu_count() or 1)))
    report, worst = {}, 0.0

    def rec(name, r, gate=False):
        nonlocal worst
        report[name] = r
        flag = ""
        if gate:
            worst = max(worst, r["rel"])
            flag = "  OK" if r["rel"] <= 1e-5 else "  FAIL"
        print(f"{name:40s} max|diff| {r['max_abs']:.3e}  rel {r['rel']:.3e}  (max|golden| {r['max_golden']:.3g}){flag}")

    # ---------------- tiny-jet-a: whole model ----------------
    folder = os.path.join(args.fixtures, "tiny-jet-a")
    model = jr.load_checkpoint(folder)
    gold = load_file(os.path.join(folder, "golden.safetensors"))
    L = model.config.num_hidden_layers
    for i in (0, 1):
        ids = gold[f"input_ids.{i}"]
        for mode in ("naive", "chunk"):
            with torch.no_grad():
                out = model(ids[None], gdr_mode=mode, return_hidden=True)
            rec(f"logits.{i} ({mode})", jr.compare(out["logits"][0], gold[f"logits.{i}"]), gate=True)
            if mode == "naive":
                for l in range(L + 1):
                    rec(f"hidden.{i}.{l}", jr.compare(out["hidden"][l][0], gold[f"hidden.{i}.{l}"]))
                rec(f"final_norm.{i}", jr.compare(out["final_norm"][0], gold[f"final_norm.{i}"]))
                bf = gold.get(f"logits_bf16_triton.{i}")
                if bf is not None:
                    r = jr.compare(bf, out["logits"][0])
                    agree = (bf.argmax(-1) == out["logits"][0].argmax(-1)).float().mean().item()
                    r["argmax_agreement"] = agree
                    print(f"  (official bf16+Triton vs oracle fp32: rel {r['rel']:.3e}, argmax agreement {agree:.3f})")
                    report[f"bf16_triton_vs_oracle.{i}"] = r
        # decode with the cache, fed the golden ids (teacher forcing), and the greedy chain
        dids = gold[f"decode_ids.{i}"].tolist()
        my_ids, _ = jr.greedy_decode(model, ids.tolist(), len(dids))
        report[f"greedy_ids_match.{i}"] = my_ids == dids
        print(f"decode_ids.{i} greedy chain equal: {my_ids == dids}")
        cache = model.new_cache()
        with torch.no_grad():
            model(ids[None], cache=cache)
            steps = [model(torch.tensor([[t]]), cache=cache)["logits"][0, -1] for t in dids]
        rec(f"decode_logits.{i}", jr.compare(torch.stack(steps), gold[f"decode_logits.{i}"]), gate=True)

    # ---------------- kernels ----------------
    k = load_file(os.path.join(args.fixtures, "kernels", "kernels.safetensors"))
    args_gdr = (k["gdr_q"], k["gdr_k"], k["gdr_v"], k["gdr_g"], k["gdr_beta"], k["gdr_h0"])
    o, hT = jr.gdr_naive(*args_gdr)
    rec("gdr_o (naive)", jr.compare(o, k["gdr_o"]))
    rec("gdr_hT (naive)", jr.compare(hT, k["gdr_hT"]))
    o, hT = jr.gdr_chunk(*args_gdr)
    rec("gdr_o (chunk)", jr.compare(o, k["gdr_o"]))
    rec("gdr_hT (chunk)", jr.compare(hT, k["gdr_hT"]))

    w1 = k["dconv_kernel_generator_w1_weight"]
    w2, b2 = k["dconv_kernel_generator_w2_weight"], k["dconv_kernel_generator_w2_bias"]
    D, W = k["dconv_state"].shape[1], k["dconv_state"].shape[2]
    conv = jr.DynamicConv(D, w1.shape[1], W, w1.shape[0])
    with torch.no_grad():
        conv.kernel_generator.w1.weight.copy_(w1)
        conv.kernel_generator.w2.weight.copy_(w2)
        conv.kernel_generator.w2.bias.copy_(b2)
        Tp = k["dconv_y"].shape[1]
        x, gi = k["dconv_x"], k["dconv_gen_in"]
        y, st = conv(x[:, :Tp], gi[:, :Tp])
        rec("dconv_y", jr.compare(y, k["dconv_y"]))
        rec("dconv_state", jr.compare(st, k["dconv_state"]))
        ys = []
        for t in range(Tp, x.shape[1]):
            yt, st = conv(x[:, t:t + 1], gi[:, t:t + 1], st)
            ys.append(yt[0, 0])
        rec("dconv_decode_y", jr.compare(torch.stack(ys), k["dconv_decode_y"]))
        rec("dconv_state_after", jr.compare(st, k["dconv_state_after"]))

    ok = worst <= 1e-5
    print(f"worst fp32 logits rel error {worst:.3e}: {'PASS' if ok else 'FAIL'} (limit 1e-5)")
    report["pass"] = ok
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
