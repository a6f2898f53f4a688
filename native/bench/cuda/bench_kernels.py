#!/usr/bin/env python3
"""Benchmark of the JetNative CUDA mixer kernels (native/src/cuda/kernels.h) against torch
baselines at Jet-Nemotron-2B's shapes, on one GPU.

  python3 native/bench/cuda/bench_kernels.py [--arch 90a] [--quick] [--only k1,k2] [--out docs-table.md]

Builds native/bench/cuda/kernels_capi.cu + the selected kernels (native/src/cuda/<kernel>*.cu;
--arch 90a adds the sm_90a wgmma kernels) into a shared library with nvcc (into /tmp), loads it with ctypes and times each kernel and its baseline with CUDA events on the
same torch stream (median of repeated runs after warm-up):
  - attention_prefill vs torch SDPA with its default backend choice (cuDNN on an H100; the
    backend it ran is printed) and enable_gqa (nh=12, nkv=2, hd=128, causal, T = 4K/16K/64K);
    sliding window 1152 reported alone (SDPA takes no window);
  - attention_decode vs torch SDPA (default backend, enable_gqa) on its contiguous copy of the
    cache and vs the copy-bandwidth roof, up to B = 128 and 461 at 64K;
  - gated_delta_chunk vs fla's Triton chunk_gated_delta_rule (the official model's kernel; fla's
    package from .carry/fla or FLA_PATH; the chunked form in plain torch below where fla is
    missing) (H=12, dK=96, dV=256, an initial state), its outputs and final state compared too;
    --profile splits both into prep / state pass / output kernels;
  - gemm: the linear layers with FP8 e4m3 weights (per-channel scales; issue 15) vs the bf16
    path (our GEMV for T <= 4, cuBLAS above) at the 2B's shapes, T = 1, 4 (decode GEMV: also vs
    the copy-bandwidth roof of the weight bytes), 128 (batched decode) and 2048 (prefill chunk);
  - gated_delta_step, dynamic_conv vs the bytes they must move divided by
    the measured device-to-device copy bandwidth; the decode-sized calls are timed inside a CUDA
    graph (50 launches per replay) so that host launch overhead does not count.
Prints a markdown table (and writes it with --out).
"""
import argparse
import ctypes
import glob
import math
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PROFILE = False
KERNELS = ["attention_prefill", "attention_decode", "gated_delta_chunk", "gated_delta_step",
           "dynamic_conv", "gemm"]
# Sources a kernel needs beyond native/src/cuda/<kernel>*.cu (gemm: the unfused prologue ops).
EXTRA_SOURCES = {"gemm": ["rmsnorm.cu", "activations.cu"]}


def build(arch, kernels):
    """Only the selected kernels' sources are compiled (kernels_capi.cu leaves the others out via
    JB_WITHOUT_<KERNEL>), so a half-edited file of another kernel cannot stop the benchmark."""
    kernels = [k for k in KERNELS if k in kernels]
    out = f"/tmp/libjet_kernels_bench_sm{arch}_{'-'.join(k[:6] + k[-4:] for k in kernels)}.so"
    srcs = [f for k in kernels for f in sorted(glob.glob(os.path.join(ROOT, "native/src/cuda", k + "*.cu")))]
    srcs += [os.path.join(ROOT, "native/src/cuda", f) for k in kernels for f in EXTRA_SOURCES.get(k, [])]
    srcs += [os.path.join(ROOT, "native/src/cuda/check.cpp"), os.path.join(HERE, "kernels_capi.cu")]
    defs = [f"-DJB_WITHOUT_{k.upper()}" for k in KERNELS if k not in kernels]
    if arch.endswith("a"):
        defs.append("-DJET_CUDA_SM90A=1")  # the sm_90a (wgmma) kernels are in this build
    cmd = ["nvcc", "-O3", "-std=c++17", "--expt-relaxed-constexpr", "-shared", "-Xcompiler", "-fPIC",
           f"-gencode=arch=compute_{arch},code=sm_{arch}", "-I", os.path.join(ROOT, "native/src"),
           "-I", os.path.join(ROOT, "native/include")] + defs + ["-x", "cu"] + srcs + ["-lcublas", "-o", out]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    lib = ctypes.CDLL(out)
    P, I, F32, SZ = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_size_t
    if "attention_prefill" in kernels:
        lib.jb_attention_prefill.argtypes = [P, P, P, P] + [I] * 9 + [P]
    if "attention_decode" in kernels:
        lib.jb_attention_decode_workspace_bytes.argtypes = [I] * 4
        lib.jb_attention_decode_workspace_bytes.restype = SZ
        lib.jb_attention_decode.argtypes = [P] * 5 + [I] * 7 + [P, SZ, P]
    if "gated_delta_chunk" in kernels:
        lib.jb_gated_delta_chunk_workspace_bytes.argtypes = [I] * 5
        lib.jb_gated_delta_chunk_workspace_bytes.restype = SZ
        lib.jb_gated_delta_chunk.argtypes = [P] * 7 + [I] * 5 + [F32, P, SZ, P]
    if "gated_delta_step" in kernels:
        lib.jb_gated_delta_step.argtypes = [P] * 7 + [I] * 4 + [F32, P]
    if "dynamic_conv" in kernels:
        lib.jb_dynamic_conv.argtypes = [P, I, P, I, P, P, P] + [I] * 4 + [P]
    if "gemm" in kernels:
        lib.jb_gemm.argtypes = [P, I, P, I, P, I, P] + [I] * 4 + [F32, P]
    return lib


def ptr(t):
    return ctypes.c_void_p(t.data_ptr())


def stream():
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def timeit(fn, iters=None, min_ms=200.0):
    """Median milliseconds of fn() over repeated runs, each run timed with CUDA events."""
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record(); fn(); e.record(); torch.cuda.synchronize()
    one = max(s.elapsed_time(e), 1e-3)
    n = iters or max(3, min(200, int(min_ms / one)))
    times = []
    for _ in range(n):
        s.record(); fn(); e.record(); torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


def timeit_graph(fn, reps=50):
    """Per-call milliseconds of fn() launched reps times inside one CUDA graph: for kernels of a
    few microseconds, where host launch overhead (ctypes + launcher) would dominate otherwise."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    return timeit(g.replay) / reps


def ok(rc):
    if rc != 0:
        raise RuntimeError("kernel launch failed")


def copy_bandwidth():
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    ms = timeit(lambda: y.copy_(x), iters=20)
    return 2 * x.numel() / (ms * 1e-3)  # bytes read + written per second


def rel_rms(a, b):
    a, b = a.float(), b.float()
    return ((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt().clamp_min(1e-30)).item()


def sdpa_backend(fn):
    """Which kernel torch's default SDPA selection ran (cuDNN, flash, efficient or math), from the
    names of the CUDA kernels one call launches."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = " ".join(e.key.lower() for e in prof.key_averages())
    for key, label in [("cudnn", "cuDNN"), ("flash", "flash"), ("fmha", "efficient"), ("efficient", "efficient")]:
        if key in names:
            return label
    return "math"


# ---------------------------------------------------------------- attention prefill
def bench_attention_prefill(lib, rows, Ts):
    nh, nkv, hd = 12, 2, 128
    for T, window in [(t, 0) for t in Ts] + [(Ts[min(1, len(Ts) - 1)], 1152)]:
        q = torch.randn(1, T, nh, hd, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, T, nkv, hd, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(1, T, nkv, hd, device="cuda", dtype=torch.bfloat16)
        out = torch.empty_like(q)
        fn = lambda: ok(lib.jb_attention_prefill(ptr(q), ptr(k), ptr(v), ptr(out), 1, T, T, nh, nkv, hd,
                                                 0, 0, window, stream()))
        ms = timeit(fn)
        # Visible (query, key) pairs -> 4 * hd flops each (QK^T and PV).
        pairs = T * (T + 1) / 2 if window == 0 else sum(min(i + 1, window) for i in range(T))
        tflops = 4 * hd * nh * pairs / (ms * 1e-3) / 1e12
        base_ms, err, base = None, None, "-"
        if window == 0:
            qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            sdpa = lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=True, enable_gqa=True)
            ref = sdpa()
            base_ms = timeit(sdpa)
            fn()
            err = rel_rms(out.transpose(1, 2), ref)
            base = f"SDPA ({sdpa_backend(sdpa)}) {base_ms:.3f} ms"
        rows.append(("attention_prefill", f"T={T} nh=12 nkv=2 hd=128" + (f" window={window}" if window else " causal"),
                     f"{ms:.3f} ms", f"{tflops:.0f} TFLOP/s", base,
                     f"{base_ms / ms:.2f}x" if base_ms else "-", f"{err:.1e}" if err is not None else "-"))
        del q, k, v, out
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- attention decode
def bench_attention_decode(lib, rows, bw, Ls):
    """Ours on our cache layout [B, L, nkv*hd]; torch SDPA (default backend, enable_gqa) on its
    preferred contiguous [B, nkv, L, hd] copy of the same cache, outputs compared."""
    nh, nkv, hd = 12, 2, 128
    big = Ls[-1]
    cases = [(1, L, 0, 0) for L in Ls] + [(8, Ls[min(1, len(Ls) - 1)], 0, 0), (128, big, 0, 0)]
    if big >= 65536:
        cases.append((461, big, 0, 0))  # the largest batch of the 2B at 64K on an 80 GB card
    cases += [(1, 1152, 1152, 1), (32, 1152, 1152, 1)]
    for B, L, window, ring in cases:
        q = torch.randn(B, nh * hd, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(B, L, nkv * hd, device="cuda", dtype=torch.bfloat16)
        v = torch.randn_like(k)
        qpos = torch.full((B,), L - 1 if not ring else 5 * L + 7, device="cuda", dtype=torch.int32)
        out = torch.empty_like(q)
        wsb = lib.jb_attention_decode_workspace_bytes(B, L, nh, hd)
        ws = torch.empty(max(wsb, 1), dtype=torch.uint8, device="cuda")
        fn = lambda: ok(lib.jb_attention_decode(ptr(q), ptr(k), ptr(v), ptr(qpos), ptr(out), B, L, nh, nkv, hd,
                                                window, ring, ptr(ws), wsb, stream()))
        ms = timeit_graph(fn, reps=50 if B * L <= (1 << 20) else 5)
        nbytes = 2 * k.numel() * 2
        ideal = nbytes / bw * 1e3
        base, err = f"copy-bound {ideal * 1e3:.1f} us", "-"
        if not ring:
            kt = k.view(B, L, nkv, hd).transpose(1, 2).contiguous()
            del k
            vt = v.view(B, L, nkv, hd).transpose(1, 2).contiguous()
            del v
            qt = q.view(B, nh, 1, hd)
            sdpa = lambda: F.scaled_dot_product_attention(qt, kt, vt, enable_gqa=True)
            ref = sdpa()
            base_ms = timeit_graph(sdpa, reps=50 if B * L <= (1 << 20) else 5)
            err = f"{rel_rms(out.view(B, nh, 1, hd), ref):.1e}"
            base += f"; SDPA ({sdpa_backend(sdpa)}) {base_ms * 1e3:.1f} us = {ideal / base_ms:.0%}, ours {base_ms / ms:.2f}x"
            del kt, vt
        rows.append(("attention_decode", f"B={B} L={L}" + (" ring window=1152" if ring else ""),
                     f"{ms * 1e3:.1f} us", f"{nbytes / (ms * 1e-3) / 1e12:.2f} TB/s",
                     base, f"{ideal / ms:.0%} of copy", err))
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- FP8 weight-only linear layers
def bench_gemm(lib, rows, bw, Ts):
    # (name, K, N) of the 2B: MLP gate|up and down, JetBlock fused input projection (q k v g w1 a b,
    # 8872 rows) and o_proj, the dynamic-conv generator's second matrix, attention o_proj.
    shapes = [("mlp gate_up", 1536, 17920), ("mlp down", 8960, 1536), ("jet in", 1536, 8872),
              ("jet o", 3072, 1536), ("dconv w2", 384, 12288), ("attn o", 1536, 1536)]
    for name, K, N in shapes:
        W = torch.randn(N, K, device="cuda", dtype=torch.bfloat16) * 0.02
        s = (W.float().abs().amax(dim=1, keepdim=True) / 448.0).clamp_min(1e-12)
        q = (W.float() / s).to(torch.float8_e4m3fn)
        s = s.contiguous()
        deq = q.float() * s
        for T in Ts:
            x = torch.randn(T, K, device="cuda", dtype=torch.bfloat16)
            y8 = torch.empty(T, N, device="cuda", dtype=torch.float32)
            yb = torch.empty_like(y8)
            f8 = lambda: ok(lib.jb_gemm(ptr(x), K, ptr(q), 1, ptr(s), K, ptr(y8), 1, T, K, N, 0.0, stream()))
            fb = lambda: ok(lib.jb_gemm(ptr(x), K, ptr(W), 0, None, 0, ptr(yb), 1, T, K, N, 0.0, stream()))
            small = T <= 128
            ms8 = timeit_graph(f8) if small else timeit(f8)
            msb = timeit_graph(fb) if small else timeit(fb)
            err = rel_rms(y8, x.float() @ deq.t())
            nbytes = N * K + N * 4 + T * K * 2 + T * N * 4
            if T <= 4:
                ideal = nbytes / bw * 1e3
                bound = f"{ideal / ms8:.0%} of copy; {msb / ms8:.2f}x bf16"
            else:
                bound = f"{msb / ms8:.2f}x bf16; {2 * T * K * N / (ms8 * 1e-3) / 1e12:.0f} TFLOP/s"
            rows.append(("gemm fp8 (per-channel)", f"{name} K={K} N={N} T={T}", f"{ms8 * 1e3:.1f} us",
                         f"{nbytes / (ms8 * 1e-3) / 1e12:.2f} TB/s", f"bf16 {msb * 1e3:.1f} us", bound,
                         f"{err:.1e} (vs dequantized fp32)"))


# ---------------------------------------------------------------- gated delta, plain torch
def torch_chunk_gdn(q, k, v, g, beta, S0, scale, C=64):
    """The chunked gated delta rule (docs/model.md section 5.6) in plain torch: q, k [B,T,H,K], v [B,T,H,V],
    g, beta [B,T,H], S0 [B,H,K,V] fp32. Parallel parts batched over chunks (fp32), the state
    recurrence a Python loop over chunks. Returns o [B,T,H,V] fp32 and the final state."""
    B, T, H, K = q.shape
    V = v.shape[-1]
    pad = (C - T % C) % C
    def prep(x):
        x = x.float().transpose(1, 2)  # [B,H,T,...]
        if pad:
            x = F.pad(x, (0, 0, 0, pad)) if x.dim() == 4 else F.pad(x, (0, pad))
        return x
    q, k, v, g, beta = prep(q), prep(k), prep(v), prep(g), prep(beta)
    N = (T + pad) // C
    q, k, v = (x.reshape(B, H, N, C, -1) for x in (q, k, v))
    g, beta = g.reshape(B, H, N, C), beta.reshape(B, H, N, C)
    gam = g.cumsum(-1)
    diff = gam[..., :, None] - gam[..., None, :]
    tril = torch.tril(torch.ones(C, C, device=q.device, dtype=torch.bool))
    strict = torch.tril(torch.ones(C, C, device=q.device, dtype=torch.bool), -1)
    decay = torch.where(tril, diff, torch.full_like(diff, -float("inf"))).exp()
    A = (beta[..., None] * (k @ k.transpose(-1, -2)) * decay).masked_fill(~strict, 0)
    eye = torch.eye(C, device=q.device)
    Tm = torch.linalg.solve_triangular(eye + A, eye.expand_as(A), upper=False, unitriangular=True)
    W = Tm @ (k * (beta * gam.exp())[..., None])
    U = Tm @ (v * beta[..., None])
    Aqk = (q @ k.transpose(-1, -2)) * decay
    qg = q * gam.exp()[..., None]
    kd = k * (gam[..., -1:] - gam).exp()[..., None]
    S = S0.clone()
    o = torch.empty(B, H, N, C, V, device=q.device)
    for n in range(N):
        E = U[:, :, n] - W[:, :, n] @ S
        o[:, :, n] = scale * (qg[:, :, n] @ S + Aqk[:, :, n] @ E)
        S = gam[:, :, n, -1, None, None].exp() * S + kd[:, :, n].transpose(-1, -2) @ E
    o = o.reshape(B, H, N * C, V)[:, :, :T].transpose(1, 2)
    return o, S


def gdn_inputs(B, T, H, K, V):
    q = F.normalize(torch.randn(B, T, H, K, device="cuda"), dim=-1).bfloat16()
    k = F.normalize(torch.randn(B, T, H, K, device="cuda"), dim=-1).bfloat16()
    v = torch.randn(B, T, H, V, device="cuda").bfloat16()
    g = -torch.rand(B, T, H, device="cuda") * 0.5
    beta = torch.rand(B, T, H, device="cuda")
    return q, k, v, g, beta


def load_fla(name="chunk_gated_delta_rule"):
    """fla's `name` from fla.ops.gated_delta_rule (chunk_gated_delta_rule: the official model's
    prefill kernel; fused_recurrent_gated_delta_rule: its decode step), from a copy of fla's
    package under .carry/fla (the GPU machine) or FLA_PATH; None where it cannot be imported."""
    for d in [os.environ.get("FLA_PATH"), os.path.join(ROOT, ".carry", "fla"), ".carry/fla"]:
        if d and os.path.isdir(os.path.join(d, "fla")) and d not in sys.path:
            sys.path.insert(0, d)
    try:
        import einops  # noqa: F401  (fla's model layers import it; its kernels do not)
    except ImportError:
        # The GPU machine has no einops: a module whose functions fail if called lets fla's
        # package import; the gated delta kernels never call it.
        import types

        def missing(name):
            def fail(*args, **kwargs):
                raise RuntimeError(f"einops.{name} is not installed here")
            return fail
        stub = types.ModuleType("einops")
        stub.__getattr__ = missing
        sys.modules["einops"] = stub
    try:
        import fla.ops.gated_delta_rule as ops
        return getattr(ops, name)
    except Exception as e:  # noqa: BLE001 - report and fall back
        print(f"fla's {name} not importable ({type(e).__name__}: {e})")
        return None


def kernel_split(fn, groups, other="other"):
    """Per-launch GPU milliseconds of fn()'s kernels, summed into groups: {label: substring}
    (the rest under `other`), from the torch profiler."""
    fn()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    out = {label: 0.0 for label in groups}
    out[other] = 0.0
    for ev in prof.key_averages():
        us = getattr(ev, "device_time_total", None)
        if us is None:
            us = getattr(ev, "cuda_time_total", 0.0)
        if not us or ev.key.startswith("ProfilerStep") or "Memcpy" in ev.key or "Memset" in ev.key:
            continue
        label = next((l for l, sub in groups.items() if sub in ev.key), None)
        if label is None:
            # CPU-side ops (aten::...) also carry device time of their kernels: skip them,
            # count only the kernels themselves.
            if ev.key.startswith("aten::") or ev.key.startswith("cuda"):
                continue
            label = other
        out[label] += us / 1e3
    return out


def bench_gated_delta_chunk(lib, rows, Ts):
    H, K, V = 12, 96, 256
    scale = K ** -0.5
    torch.backends.cuda.matmul.allow_tf32 = True
    fla = load_fla()
    for T in Ts:
        q, k, v, g, beta = gdn_inputs(1, T, H, K, V)
        S0 = 0.1 * torch.randn(1, H, K, V, device="cuda")  # an initial state, as after a prefill
        S = S0.clone()
        o = torch.empty(1, T, H, V, device="cuda")
        wsb = lib.jb_gated_delta_chunk_workspace_bytes(1, T, H, K, V)
        ws = torch.empty(wsb, dtype=torch.uint8, device="cuda")
        def fn():
            S.copy_(S0)
            ok(lib.jb_gated_delta_chunk(ptr(q), ptr(k), ptr(v), ptr(g), ptr(beta), ptr(S), ptr(o), 1, T, H, K, V,
                                        scale, ptr(ws), wsb, stream()))
        ms = timeit(fn)
        fn()
        if fla is not None:
            # fla's layout is ours: q, k [B,T,H,K] bf16, v [B,T,H,V] bf16, g (natural-log decay)
            # and beta [B,T,H] fp32, initial state [B,H,K,V] fp32; it returns o (bf16) and hT.
            run_fla = lambda: fla(q, k, v, g, beta, scale=scale, initial_state=S0,
                                  output_final_state=True, use_qk_l2norm_in_kernel=False)
            base_ms = timeit(run_fla)
            ro, rS = run_fla()
            base = "fla chunk_gated_delta_rule"
        else:
            base_ms = timeit(lambda: torch_chunk_gdn(q, k, v, g, beta, S0, scale), min_ms=100.0)
            ro, rS = torch_chunk_gdn(q, k, v, g, beta, S0, scale)
            base = "torch chunked (fp32/TF32)"
        err = max(rel_rms(o, ro), rel_rms(S, rS))
        if T == Ts[0]:  # both against the fp32 torch form (cheap at this length)
            to, tS = torch_chunk_gdn(q, k, v, g, beta, S0, scale)
            print(f"gated_delta_chunk T={T}: rel RMS vs fp32 torch: ours o {rel_rms(o, to):.1e} "
                  f"S {rel_rms(S, tS):.1e}" + (f"; fla o {rel_rms(ro, to):.1e} S {rel_rms(rS, tS):.1e}"
                                                if fla is not None else ""))
        if PROFILE:
            ours = kernel_split(fn, {"prep": "gdc_prep", "state pass": "gdc_state",
                                     "output": "gdc_out"}, other="state reset copy")
            print(f"gated_delta_chunk T={T} ours by kernel (ms): " +
                  ", ".join(f"{l} {t:.3f}" for l, t in ours.items()))
            if fla is not None:
                theirs = kernel_split(run_fla, {"state pass": "chunk_gated_delta_rule_fwd_kernel_h",
                                                "output": "chunk_fwd_kernel_o"},
                                      other="prep (cumsum, kkt, solve_tril, w/u) + casts")
                print(f"gated_delta_chunk T={T} fla by kernel (ms): " +
                      ", ".join(f"{l} {t:.3f}" for l, t in theirs.items()))
        rows.append(("gated_delta_chunk", f"T={T} H=12 dK=96 dV=256", f"{ms:.3f} ms",
                     f"{T / ms / 1e3:.2f} Mtok/s", f"{base} {base_ms:.3f} ms",
                     f"{base_ms / ms:.2f}x", f"{err:.1e}"))


def bench_gated_delta_step(lib, rows, bw):
    """One decode step of B sequences (2B heads) in place on the fp32 state, vs fla's
    fused_recurrent_gated_delta_rule (the official model's decode kernel; out of place: it reads
    the state and writes a new one, the same bytes); both timed inside a CUDA graph."""
    H, K, V = 12, 96, 256
    fla = load_fla("fused_recurrent_gated_delta_rule")
    for B in (1, 8, 64, 128):
        q, k, v, g, beta = gdn_inputs(B, 1, H, K, V)
        S0 = torch.randn(B, H, K, V, device="cuda") * 0.1
        S = S0.clone()
        o = torch.empty(B, H, V, device="cuda")
        fn = lambda: ok(lib.jb_gated_delta_step(ptr(q), ptr(k), ptr(v), ptr(g), ptr(beta), ptr(S), ptr(o),
                                                B, H, K, V, K ** -0.5, stream()))
        ms = timeit_graph(fn)
        nbytes = 2 * S.numel() * 4 + o.numel() * 4
        ideal = nbytes / bw * 1e3
        base, ratio, err = f"copy-bound {ideal * 1e3:.1f} us", f"{ideal / ms:.0%} of copy", "-"
        if fla is not None:
            run_fla = lambda: fla(q, k, v, g=g, beta=beta, scale=K ** -0.5, initial_state=S0,
                                  output_final_state=True, use_qk_l2norm_in_kernel=False)
            try:
                base_ms = timeit_graph(run_fla)
            except Exception:  # noqa: BLE001 - Triton launches that cannot be captured
                base_ms = timeit(run_fla)
            S.copy_(S0)
            fn()
            ro, rS = run_fla()
            err = f"{max(rel_rms(o, ro.float().view(B, H, V)), rel_rms(S, rS)):.1e}"
            base = f"fla fused_recurrent {base_ms * 1e3:.1f} us ({ideal / base_ms:.0%} of copy)"
            ratio += f"; {base_ms / ms:.2f}x"
        rows.append(("gated_delta_step", f"B={B} H=12 dK=96 dV=256", f"{ms * 1e3:.1f} us",
                     f"{nbytes / (ms * 1e-3) / 1e12:.2f} TB/s", base, ratio, err))


def bench_dynamic_conv(lib, rows, bw, Ts):
    C, W = 3072, 4
    for B, T in [(1, t) for t in Ts] + [(1, 1), (64, 1)]:
        u = torch.randn(B * T, C, device="cuda")
        kern = torch.randn(B * T, C * W, device="cuda")
        bias = torch.randn(C * W, device="cuda").bfloat16()
        st = torch.zeros(B, C, W, device="cuda")
        y = torch.empty(B * T, C, device="cuda", dtype=torch.bfloat16)
        fn = lambda: ok(lib.jb_dynamic_conv(ptr(u), C, ptr(kern), C * W, ptr(bias), ptr(st), ptr(y), B, T, C, W,
                                            stream()))
        ms = timeit_graph(fn) if T == 1 else timeit(fn)
        nbytes = u.numel() * 4 + kern.numel() * 4 + y.numel() * 2 + 2 * st.numel() * 4 + bias.numel() * 2
        ideal = nbytes / bw * 1e3
        rows.append(("dynamic_conv", f"B={B} T={T} C=3072 W=4", f"{ms * 1e3:.1f} us",
                     f"{nbytes / (ms * 1e-3) / 1e12:.2f} TB/s", f"copy-bound {ideal * 1e3:.1f} us",
                     f"{ideal / ms:.0%} of copy", "-"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="90a", help="nvcc target: 90a (Hopper, wgmma kernels), 90, 80")
    ap.add_argument("--quick", action="store_true", help="only the 4K shapes")
    ap.add_argument("--out")
    ap.add_argument("--only", help="comma-separated kernels")
    ap.add_argument("--profile", action="store_true", help="gated_delta_chunk (ours and fla) split into prep / state pass / output kernels")
    a = ap.parse_args()
    global PROFILE
    PROFILE = a.profile
    only = set(a.only.split(",")) if a.only else set(KERNELS)
    lib = build(a.arch, only)
    torch.manual_seed(0)
    Ts = [4096] if a.quick else [4096, 16384, 65536]
    bw = copy_bandwidth()
    dev = torch.cuda.get_device_name()
    rows = []
    for name, fn in [("attention_prefill", lambda: bench_attention_prefill(lib, rows, Ts)),
                     ("attention_decode", lambda: bench_attention_decode(lib, rows, bw, Ts)),
                     ("gated_delta_chunk", lambda: bench_gated_delta_chunk(lib, rows, Ts)),
                     ("gated_delta_step", lambda: bench_gated_delta_step(lib, rows, bw)),
                     ("dynamic_conv", lambda: bench_dynamic_conv(lib, rows, bw, Ts)),
                     ("gemm", lambda: bench_gemm(lib, rows, bw, [1, 4, 128] if a.quick else [1, 4, 128, 2048]))]:
        if name in only:
            try:
                fn()
            except Exception as e:  # keep the other kernels' numbers
                rows.append((name, "FAILED", str(e)[:80], "-", "-", "-", "-"))
            torch.cuda.empty_cache()
    lines = [f"Device: {dev}; torch {torch.__version__}; measured copy bandwidth {bw / 1e12:.2f} TB/s "
             "(read + write).", "",
             "| kernel | shape | ours | throughput | baseline | speed-up / of bound | rel RMS vs baseline |",
             "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
