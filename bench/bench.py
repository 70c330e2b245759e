#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench.py - the driver of the side-by-side benchmark (bench/run.sh runs it).

Measures the machine (og_peak), then for each thread count starts two
long-lived workers, og_bench (onnxgrad) and torch_bench.py (PyTorch), and
drives them case by case over pipes: both load the same inputs (numpy,
fixed seed, raw float32 files), warm up, then run alternating chunks of
repetitions (onnxgrad, PyTorch, onnxgrad, ...) until each side has at least
the minimum repetitions and time. Then both save their outputs and the
driver compares them. Prints the table and the target checks, writes JSON.
"""

import argparse
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
from cases import LARGE_3X3, all_cases, select as select_cases  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- workers -------------------------------------------------------------
class WorkerError(Exception):
    pass


class Worker:
    """A child speaking the line protocol; restarted after a crash."""

    def __init__(self, label, argv, env, timeout):
        self.label, self.argv, self.env, self.timeout = label, argv, env, timeout
        self.p = None
        self.buf = b""
        self.start()

    def start(self):
        self.errf = tempfile.TemporaryFile()
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errf,
                                  env=self.env)
        self.buf = b""

    def stderr_tail(self):
        try:
            self.errf.seek(0)
            t = self.errf.read().decode("utf-8", "replace").strip().splitlines()
            return " | ".join(t[-3:])
        except Exception:
            return ""

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def restart(self):
        self.kill()
        self.start()

    def kill(self):
        if self.p is not None and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def cmd(self, line, timeout=None):
        """Sends a command; returns the reply after "ok" or raises WorkerError."""
        if not self.alive():
            raise WorkerError(f"{self.label} is not running (exit {self.p.returncode if self.p else '?'}): "
                              f"{self.stderr_tail()}")
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"{self.label} died: {self.stderr_tail()}")
        deadline = time.time() + (timeout or self.timeout)
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                self.kill()
                raise WorkerError(f"{self.label}: no reply within {timeout or self.timeout:.0f} s to '{line[:60]}'")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    self.p.wait()
                    rc = self.p.returncode
                    sig = f" (signal {signal.Signals(-rc).name})" if rc is not None and rc < 0 else ""
                    raise WorkerError(f"{self.label} died, exit {rc}{sig}: {self.stderr_tail()}")
                self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        s = ln.decode("utf-8", "replace")
        if s.startswith("ok"):
            return s[2:].strip()
        raise WorkerError(s[4:] if s.startswith("err ") else s)

    def close(self):
        if self.alive():
            try:
                self.p.stdin.write(b"quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=10)
            except Exception:
                self.kill()


def parse_times(s):
    v = [float(x) for x in s.split()]
    return v[0::2], v[1::2]


# ---- inputs --------------------------------------------------------------
def make_inputs(c, root):
    d = os.path.join(root, c.name)
    if c.kind == "model":
        # exported once per run by bench/models.py (in its own process)
        if not os.path.exists(os.path.join(d, "model.onnx")):
            subprocess.run([sys.executable, os.path.join(HERE, "models.py"), c.name, d], check=True)
        return d
    os.makedirs(d, exist_ok=True)
    for spec in c.inputs():
        name, shape, scale = spec[:3]
        lo, hi = spec[3] if len(spec) > 3 else (-scale, scale)
        path = os.path.join(d, name + ".bin")
        if os.path.exists(path):
            continue
        rng = np.random.default_rng(zlib.crc32(f"{c.name}/{name}".encode()))
        a = rng.uniform(lo, hi, size=shape).astype(np.float32)
        a.tofile(path + ".tmp")
        os.replace(path + ".tmp", path)
    return d


def compare(c, d):
    """max|og - pt| / max|pt| over the float outputs; index mismatches."""
    err, idx_bad = 0.0, None
    for n in c.outputs(d):
        dt = np.int64 if n == "I" else np.float32
        a = np.fromfile(os.path.join(d, "og_" + n + ".bin"), dtype=dt)
        b = np.fromfile(os.path.join(d, "pt_" + n + ".bin"), dtype=dt)
        if a.shape != b.shape:
            raise ValueError(f"{n}: onnxgrad has {a.size} elements, PyTorch {b.size}")
        if n == "I":
            idx_bad = int(np.count_nonzero(a != b))
            continue
        den = float(np.max(np.abs(b))) if b.size else 0.0
        num = float(np.max(np.abs(a.astype(np.float64) - b))) if b.size else 0.0
        e = num / den if den > 0 else (0.0 if num == 0 else math.inf)
        if not np.all(np.isfinite(a)):
            e = math.inf
        err = max(err, e)
    return err, idx_bad


# ---- onnxgrad's plan log (OG_LOG=plan) -----------------------------------
ISA_RE = re.compile(r"(?:^|[^A-Za-z0-9])(avx512|avx2|scalar)(?=$|[^A-Za-z0-9])", re.I)


def og_kernel(d, pas):
    tags = ["fwd", "run"] if pas == "fwd" else ["grad", "run"]
    text = ""
    for t in tags:
        try:
            with open(os.path.join(d, f"og_{pas}.{t}.log"), errors="replace") as f:
                text += f.read()
        except OSError:
            pass
    text = text.strip()
    if not text:
        return "n/a", "n/a"
    # OG_LOG=plan: "onnxgrad plan: N of M nodes, ..., isa ISA" then one
    # "onnxgrad plan:   node 'NAME' (OP): KERNEL" per step
    uniq = []
    for m in re.finditer(r"node '[^']*' \((\w+)\): (.+)", text):
        op, k = m.group(1), m.group(2).strip()
        if k == "view" or op in ("Constant", "ConstantOfShape", "Shape"):
            continue
        item = f"{op}:{k}"
        if item not in uniq:
            uniq.append(item)
    kern = "+".join(uniq) if uniq else text.splitlines()[0][:60]
    m = re.search(r"\bisa (\w+)", text)
    isa = m.group(1) if m else "n/a"
    return kern, isa


# ---- statistics ----------------------------------------------------------
def stats(v):
    v = sorted(v)
    n = len(v)
    med = v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    return med, v[0], v[-1]


def geomean(v):
    v = [x for x in v if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None


# ---- one case ------------------------------------------------------------
def annotate(r, c, peak, bw):
    """Rates from the medians and the machine's figures."""
    T = r["threads"]
    compute = c.kind in ("conv", "convt", "gemm", "lenet", "resblock")
    for s in ("og", "pt"):
        if s not in r or r[s]["median_ms"] <= 0:
            continue
        ms = r[s]["median_ms"]
        if compute and c.flops():
            r[s + "_gflops"] = c.flops() / ms * 1e-6
            if peak.get(str(T)):
                r[s + "_pct_peak"] = 100.0 * r[s + "_gflops"] / peak[str(T)]
        if c.bytes():
            r[s + "_gbs"] = c.bytes() / ms * 1e-6
            if bw.get(str(T)):
                # time over the time to move the bytes once at the measured bandwidth
                r[s + "_vs_bw"] = ms / (c.bytes() / (bw[str(T)] * 1e9) * 1e3)


def run_case(c, T, og, pt, root, args):
    try:
        d = make_inputs(c, root)
    except (subprocess.CalledProcessError, OSError) as e:
        return {"case": c.name, "pass": c.pas, "kind": c.kind, "threads": T, "params": c.params,
                "in_target": c.in_target, "flops": None, "bytes": None, "failed": True,
                "og_error": f"making the inputs failed: {e}"}
    spec = f"{c.name} {c.kind} {c.pas} {d} " + " ".join(str(x) for x in c.params)
    r = {"case": c.name, "pass": c.pas, "kind": c.kind, "threads": T, "params": c.params,
         "in_target": c.in_target, "flops": c.flops(), "bytes": c.bytes()}
    for n in c.outputs(d):
        for side in ("og", "pt"):
            try:
                os.remove(os.path.join(d, f"{side}_{n}.bin"))
            except OSError:
                pass
    sides = {}
    try:
        og.cmd("case " + spec)
        sides["og"] = og
    except WorkerError as e:
        r["og_error"] = str(e)
    if pt is not None:
        try:
            rep = pt.cmd("case " + spec)
            r["pt_kernels"] = json.loads(rep).get("kernels", []) if rep else []
            sides["pt"] = pt
        except WorkerError as e:
            r["pt_error"] = str(e)
    warm = 1 if args.quick else 2
    times = {s: [] for s in sides}
    raw = {s: ([], []) for s in sides}
    est = {}
    for s, w in list(sides.items()):
        try:
            w.cmd(f"warm {warm}")
            m, f = parse_times(w.cmd("run 1"))
            est[s] = max(1e-3, m[0])
        except WorkerError as e:
            r[s + "_error"] = str(e)
            del sides[s]
    reps_min = args.repeat if args.repeat else (3 if args.quick else 5)
    reps_max = args.repeat if args.repeat else (reps_min if args.quick else 1000)
    min_time = 0.0 if (args.quick or args.repeat) else args.min_time * 1e3
    t_case = time.time()
    while sides:
        progressed = False
        for s, w in list(sides.items()):
            have = len(times[s])
            spent = sum(raw[s][0]) + sum(raw[s][1])
            if have >= reps_max or (have >= reps_min and spent >= min_time):
                continue
            if time.time() - t_case > args.case_budget and have >= 1:
                continue
            k = max(1, min(reps_max - have, int(50.0 / est[s])))
            if args.repeat:
                k = 1
            try:
                m, f = parse_times(w.cmd(f"run {k}"))
            except WorkerError as e:
                r[s + "_error"] = str(e)
                del sides[s]
                continue
            raw[s][0].extend(m)
            raw[s][1].extend(f)
            times[s].extend(m)
            progressed = True
        if not progressed:
            break
    for s in ("og", "pt"):
        if times.get(s):
            med, lo, hi = stats(times[s])
            r[s] = {"median_ms": med, "min_ms": lo, "max_ms": hi, "reps": len(times[s])}
            if s == "og" and c.pas not in ("fwd", "train"):
                # gradient plan minus the forward plan's median in the same run
                gm, glo, ghi = stats(raw[s][0])
                fm, flo, fhi = stats(raw[s][1])
                r[s].update({"median_ms": gm - fm, "min_ms": glo - fm, "max_ms": ghi - fm,
                             "grad_plan_ms": {"median": gm, "min": glo, "max": ghi},
                             "fwd_plan_ms": {"median": fm, "min": flo, "max": fhi}})
    if "og" in r:
        r["og_kernel"], r["og_isa"] = og_kernel(d, c.pas)
    if "og" in r and r["og"]["median_ms"] <= 0:
        # the gradient plan was not slower than the forward plan: noise swamped the difference
        r["unmeasured"] = "gradient plan median <= forward plan median (noise); no ratio"
    if "og" in r and "pt" in r and r["og"]["median_ms"] > 0:
        r["ratio"] = r["pt"]["median_ms"] / r["og"]["median_ms"]
    # outputs
    if "og" in r and "pt" in r:
        names = " ".join(c.outputs(d))
        try:
            og.cmd("save " + names)
            pt.cmd("save " + names)
            r["rel_err"], idx = compare(c, d)
            if idx is not None:
                r["idx_mismatch"] = idx
        except (WorkerError, ValueError, OSError) as e:
            r["compare_error"] = str(e)
    if "og" in r and c.pas == "train":
        try:
            peak, hold, base = (int(v) for v in og.cmd("mem").split()[:3])
            if peak > 0 and hold > 0:
                r["og_mem"] = {"peak_rss_bytes": peak, "hold_bytes": hold, "rss_before_case_bytes": base,
                               "ratio": peak / hold, "ratio_above_base": (peak - base) / hold}
        except (WorkerError, ValueError) as e:
            r["mem_error"] = str(e)
    for w in (og, pt):
        if w is not None:
            try:
                w.cmd("free")
            except WorkerError:
                pass
    for w in (og, pt):
        if w is not None and not w.alive():
            w.restart()
    r["failed"] = "og_error" in r or "og" not in r
    return r


# ---- output --------------------------------------------------------------
def fnum(v, fmt):
    return "-" if v is None else format(v, fmt)


def short_kernels(ks):
    """oneDNN primitive names, shortened for the table (the JSON keeps them whole)."""
    out = []
    for k in ks or []:
        f = k.split(":")
        if f and f[0] == "convolution":
            f = f[1:]
        k = ":".join(f)
        for a, b in (("forward_training", "fwd"), ("forward_inference", "fwd"), ("backward_data", "bwd_d"),
                     ("backward_weights", "bwd_w"), ("_core", "")):
            k = k.replace(a, b)
        if k not in out:
            out.append(k)
    return ",".join(out)


def row_text(r, have_torch):
    og, pt = r.get("og"), r.get("pt")
    name = f"{r['case']}"
    cols = [f"{name:<20}", f"{r['pass']:<5}", f"{r['threads']:>2}"]
    if og:
        cols += [f"{og['median_ms']:9.3f}", f"{og['min_ms']:9.3f}", f"{og['max_ms']:9.3f}"]
    else:
        cols += [f"{'FAILED':>9}", f"{'-':>9}", f"{'-':>9}"]
    if have_torch:
        if pt:
            cols += [f"{pt['median_ms']:9.3f}", f"{pt['min_ms']:9.3f}", f"{pt['max_ms']:9.3f}"]
        else:
            cols += [f"{'FAILED':>9}", f"{'-':>9}", f"{'-':>9}"]
        cols.append(f"{fnum(r.get('ratio'), '6.2f'):>6}")
    cols += [f"{fnum(r.get('og_gflops'), '7.1f'):>7}", f"{fnum(r.get('og_pct_peak'), '5.1f'):>5}",
             f"{fnum(r.get('og_gbs'), '6.1f'):>6}"]
    if have_torch:
        e = r.get("rel_err")
        cols.append(f"{('-' if e is None else ('inf' if math.isinf(e) else format(e, '.1e'))):>8}")
    cols.append(f"{(r.get('og_kernel') or 'n/a') + ' (' + (r.get('og_isa') or 'n/a') + ')':<20}")
    if have_torch:
        cols.append(short_kernels(r.get("pt_kernels")) or ("-" if not pt else "aten"))
    return " ".join(cols)


def header(have_torch):
    h = [f"{'case':<20}", f"{'pass':<5}", f"{'T':>2}", f"{'og_ms':>9}", f"{'og_min':>9}", f"{'og_max':>9}"]
    if have_torch:
        h += [f"{'pt_ms':>9}", f"{'pt_min':>9}", f"{'pt_max':>9}", f"{'ratio':>6}"]
    h += [f"{'GF/s':>7}", f"{'%pk':>5}", f"{'GB/s':>6}"]
    if have_torch:
        h.append(f"{'err':>8}")
    h.append(f"{'og kernel (isa)':<20}")
    if have_torch:
        h.append("pt kernel (oneDNN)")
    return " ".join(h)


def targets(results, threads, have_torch):
    """The issue's targets: list of {target, threads, value, need, status}."""
    out = []

    def find(case, pas, T):
        for r in results:
            if r["case"] == case and r["pass"] == pas and r["threads"] == T:
                return r
        return None

    def add(name, T, value, need, ok, note=""):
        st = "n/a" if ok is None else ("met" if ok else "missed")
        out.append({"target": name, "threads": T, "value": value, "need": need, "status": st, "note": note})

    def ratio_check(name, rows, need, T):
        rows = [r for r in rows if r is not None]
        if not rows:
            return
        if not have_torch:
            add(name, T, None, f">= {need}x torch", None, "no torch")
            return
        if any(r.get("failed") or (r.get("ratio") is None and not r.get("unmeasured")) for r in rows):
            add(name, T, None, f">= {need}x torch", False, "a case failed")
            return
        if any(r.get("unmeasured") for r in rows):
            add(name, T, None, f">= {need}x torch", None, "unmeasured (noise)")
            return
        v = min(r["ratio"] for r in rows)
        add(name, T, v, f">= {need}x torch", v >= need)

    for T in threads:
        conv = [r for r in results if r["threads"] == T and r["kind"] == "conv" and r["in_target"]]
        if conv:
            if not have_torch:
                add("conv geomean (30 passes)", T, None, ">= 1.3x", None, "no torch")
            else:
                failed = [r for r in conv if r.get("ratio") is None and not r.get("unmeasured")]
                unmeasured = [r for r in conv if r.get("unmeasured")]
                g = geomean([r.get("ratio") for r in conv])
                note = (f"{len(conv)} passes" + (f", {len(failed)} failed" if failed else "") +
                        (f", {len(unmeasured)} unmeasured (noise)" if unmeasured else ""))
                add("conv geomean (30 passes)", T, g, ">= 1.3x", (g is not None and g >= 1.3 and not failed), note)
                measured = [r for r in conv if r.get("ratio") is not None]
                worst = min(measured, key=lambda r: r["ratio"]) if measured else None
                add("conv: no pass < 0.9x", T, worst["ratio"] if worst else None, ">= 0.9x",
                    worst is not None and worst["ratio"] >= 0.9 and not failed,
                    f"worst {worst['case']}.{worst['pass']}" if worst else "")
        for case in LARGE_3X3:
            for pas, need in (("fwd", 80), ("dx", 80), ("dw", 75)):
                r = find(case, pas, T)
                if r is None:
                    continue
                v = r.get("og_pct_peak")
                add(f"{case}.{pas} % of peak", T, v, f">= {need}%", None if v is None and not r["failed"]
                    else (v is not None and v >= need))
        ratio_check("MaxPool fwd+indices", [find("maxpool_3x3s2", "fwd", T)], 5.0, T)
        ratio_check("MaxPool bwd", [find("maxpool_3x3s2", "bwd", T)], 1.5, T)
        for pas in ("fwd", "bwd"):
            r = find("relu", pas, T)
            if r is None:
                continue
            ratio_check(f"Relu {pas}", [r], 1.0, T)
            v = r.get("og_vs_bw")
            add(f"Relu {pas} time vs bandwidth", T, v, "<= 1.25x of bytes/BW",
                None if v is None and not r["failed"] else (v is not None and v <= 1.25))
        # the real-models issue: elementwise ops and BatchNormalization within 1.5x of the
        # time their tensors take once at the bandwidth
        for name in ("add", "bn_infer", "bn_train"):
            r = find(name, "fwd", T)
            if r is None:
                continue
            v = r.get("og_vs_bw")
            add(f"{name} time vs bandwidth", T, v, "<= 1.5x of bytes/BW",
                None if v is None and not r["failed"] else (v is not None and v <= 1.5))
        for g in ("gemm_64x512x1000", "gemm_16x9216x4096"):
            for pas in ("fwd", "dA", "dB"):
                ratio_check(f"{g}.{pas}", [find(g, pas, T)], 0.95, T)
        for r in results:
            if r["kind"] == "model" and r["threads"] == T:
                ratio_check(f"{r['case']}.{r['pass']}", [r], 1.0, T)
        for tr in ("train_lenet5", "train_resblock"):
            ratio_check(f"{tr}", [find(tr, "train", T)], 1.3, T)
            r = find(tr, "train", T)
            if r is not None and r.get("og_mem"):
                m = r["og_mem"]
                add(f"{tr} peak RSS / bytes held", T, m["ratio"], "<= 1.5x", m["ratio"] <= 1.5,
                    f"peak {m['peak_rss_bytes'] / 2**20:.1f} MiB ({m['rss_before_case_bytes'] / 2**20:.1f} before the "
                    f"case), must hold {m['hold_bytes'] / 2**20:.1f} MiB")
    if 1 in threads and 2 in threads:
        for case in LARGE_3X3:
            for pas in ("fwd", "dx", "dw"):
                a, b = find(case, pas, 1), find(case, pas, 2)
                if a is None or b is None:
                    continue
                if a.get("unmeasured") or b.get("unmeasured"):
                    add(f"{case}.{pas} 2T speed-up", 2, None, ">= 1.8x", None, "unmeasured (noise)")
                elif a.get("og") and b.get("og") and b["og"]["median_ms"] > 0:
                    v = a["og"]["median_ms"] / b["og"]["median_ms"]
                    add(f"{case}.{pas} 2T speed-up", 2, v, ">= 1.8x", v >= 1.8)
                else:
                    add(f"{case}.{pas} 2T speed-up", 2, None, ">= 1.8x", False, "a case failed")
    return out


def main():
    ap = argparse.ArgumentParser(description="onnxgrad vs PyTorch, side by side (see bench/README.md)")
    ap.add_argument("--og-bench", required=True, help="path of the og_bench program")
    ap.add_argument("--og-peak", required=True, help="path of the og_peak program")
    ap.add_argument("-r", "--repeat", type=int, default=0, help="exactly N timed repetitions per case and side")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 warm-up, 3 repetitions, no minimum time")
    ap.add_argument("--cases", default="", help="comma-separated case names, name.pass ids or kinds")
    ap.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"), help="JSON output path")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per case and side (default 0.3)")
    ap.add_argument("--case-budget", type=float, default=60.0, help="stop adding repetitions after this many s")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds a worker may take for one command")
    ap.add_argument("--no-torch", action="store_true", help="onnxgrad's figures alone")
    ap.add_argument("--pt-spin", action="store_true",
                    help="let PyTorch's idle OpenMP and OpenBLAS workers spin (their defaults; see README, Noise)")
    ap.add_argument("--keep", action="store_true", help="keep the input/output files")
    ap.add_argument("--tmp", default=None, help="directory for the input/output files")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    cases = select_cases(all_cases(), names)
    if not cases:
        sys.exit(f"bench: no case matches --cases {args.cases}")

    # the machine, measured before and after the cases (the higher figure is used)
    def measure():
        try:
            m = json.loads(subprocess.run([args.og_peak, "--threads", ",".join(map(str, threads))] +
                                          (["--quick"] if args.quick else []), check=True, capture_output=True,
                                          text=True).stdout)
        except (OSError, subprocess.CalledProcessError, ValueError) as e:
            log(f"og_peak failed ({e}); % of peak and bandwidth checks will be n/a")
            m = {"isa": "unknown", "error": str(e)}
        m.setdefault("peak_gflops", {})
        m.setdefault("bw_gbs", {})
        return m

    def machine_line(m):
        pk, b = m.get("peak_gflops", {}), m.get("bw_gbs", {})
        return (f"FMA peak ({m.get('isa')}, {m.get('fma_chains')} chains): " +
                ", ".join(f"{t}T {pk.get(str(t), 0):.1f} GFLOP/s" for t in threads) + "; bandwidth (scale): " +
                ", ".join(f"{t}T {b.get(str(t), 0):.1f} GB/s" for t in threads))

    mach = measure()
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    except Exception:
        cpu = "unknown"
    mach["cpu"] = cpu
    log(f"machine (before): {machine_line(mach)}")

    # PyTorch's environment: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset
    base = dict(os.environ)
    og_env_base = dict(base)
    pt_env_base = {k: v for k, v in base.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if not args.pt_spin:
        # PyTorch's idle OpenMP workers (libgomp: oneDNN, ATen) would otherwise busy-wait a few
        # ms after every parallel region, on the cores onnxgrad's interleaved chunks then use;
        # PASSIVE makes them sleep at once (README, Noise). OpenBLAS's own pthread workers
        # (PyTorch's Gemm and linear layers) spin 2^28 cycles (~0.1 s) by default; 2^4 makes
        # them sleep at once as well (OPENBLAS_THREAD_TIMEOUT, driver/others/blas_server.c).
        pt_env_base["OMP_WAIT_POLICY"] = "PASSIVE"
        pt_env_base["OPENBLAS_THREAD_TIMEOUT"] = "20"
    have_torch = False
    why = ""
    if not args.no_torch:
        t = subprocess.run([sys.executable, "-c", "import torch"], env=pt_env_base, capture_output=True, text=True)
        have_torch = t.returncode == 0
        why = (t.stderr.strip().splitlines() or ["?"])[-1] if not have_torch else ""
    torch_note = "" if have_torch else ("PyTorch: not available" + (f" ({why})" if why else " (--no-torch)") +
                                        "; onnxgrad's figures alone")
    if torch_note:
        log(torch_note)

    root = args.tmp or tempfile.mkdtemp(prefix="ogbench-")
    os.makedirs(root, exist_ok=True)
    results, torch_info, torch_lines = [], {}, []
    t_start = time.time()
    workers = []
    try:
        # one og_bench and one torch_bench per thread count, all alive for the whole run, so
        # that each case runs at every thread count back to back (the 2-thread speed-up
        # compares times taken under the same machine load)
        ogs, pts = {}, {}
        for T in threads:
            og_env = dict(og_env_base, OG_NUM_THREADS=str(T))
            og_env.setdefault("OG_LOG", "plan")
            ogs[T] = Worker(f"og_bench (T={T})", [args.og_bench, "--threads", str(T)], og_env, args.timeout)
            workers.append(ogs[T])
            pts[T] = None
            if have_torch:
                pt_env = dict(pt_env_base, OPENBLAS_NUM_THREADS=str(T), OMP_NUM_THREADS=str(T),
                              MKL_NUM_THREADS=str(T))
                pts[T] = Worker(f"torch_bench (T={T})", [sys.executable, os.path.join(HERE, "torch_bench.py"),
                                                         "--threads", str(T)], pt_env, args.timeout)
                workers.append(pts[T])
                try:
                    torch_info[str(T)] = json.loads(pts[T].cmd("info", timeout=300))
                    ti = torch_info[str(T)]
                    ob = ti.get("openblas", {})
                    torch_lines.append(
                        f"PyTorch {ti['torch']} at {T} thread(s): torch.get_num_threads()={ti['threads']}, "
                        f"OpenBLAS core {ob.get('corename', 'unknown')} ({ob.get('threads', '?')} threads; "
                        f"OPENBLAS_CORETYPE/L2_SIZE unset), oneDNN ISA: {ti.get('onednn_isa')}, "
                        f"ATen CPU capability: {ti.get('cpu_capability')}")
                    log(torch_lines[-1])
                except WorkerError as e:
                    torch_lines.append(f"PyTorch worker at {T} thread(s) failed: {e}")
                    log(torch_lines[-1])
        for c in cases:
            for T in threads:
                t0 = time.time()
                r = run_case(c, T, ogs[T], pts[T], root, args)
                r["case_obj"] = c
                results.append(r)
                og_s = f"{r['og']['median_ms']:.3f} ms" if "og" in r else "FAILED"
                pt_s = (f"{r['pt']['median_ms']:.3f} ms" if "pt" in r else "FAILED") if have_torch else "-"
                log(f"[{T}T] {c.id:<28} onnxgrad {og_s:>12}  PyTorch {pt_s:>12}  ({time.time() - t0:.1f} s)")
                for k in ("og_error", "pt_error", "compare_error", "unmeasured"):
                    if k in r:
                        log(f"      ! {k.split('_')[0]}: {r[k]}")
        for w in workers:
            w.close()
    finally:
        for w in workers:
            w.kill()
        if not args.keep and not args.tmp:
            shutil.rmtree(root, ignore_errors=True)

    after = measure()
    log(f"machine (after):  {machine_line(after)}")
    mach["before"] = {k: mach[k] for k in ("peak_gflops", "bw_gbs")}
    mach["after"] = {k: after[k] for k in ("peak_gflops", "bw_gbs")}
    for k in ("peak_gflops", "bw_gbs"):
        mach[k] = {t: max(mach["before"][k].get(t, 0), mach["after"][k].get(t, 0)) for t in mach["before"][k]}
    peak, bw = mach["peak_gflops"], mach["bw_gbs"]
    for r in results:
        annotate(r, r.pop("case_obj"), peak, bw)

    # the table
    print(f"machine: {cpu}; {machine_line(mach)} (higher of before/after)")
    for line in torch_lines:
        print(line)
    if torch_note:
        print(torch_note)
    for T in threads:
        print(f"\n== {T} thread(s) ==")
        print(header(have_torch))
        for r in results:
            if r["threads"] != T:
                continue
            print(row_text(r, have_torch))
            for k in ("og_error", "pt_error", "compare_error", "unmeasured"):
                if k in r:
                    print(f"   ! {k.split('_')[0]} {r['case']}.{r['pass']}: {r[k][:300]}")

    # summary
    geo = {}
    print("\n== summary ==")
    for T in threads:
        conv = [r for r in results if r["threads"] == T and r["kind"] == "conv" and r["in_target"]]
        g = geomean([r.get("ratio") for r in conv]) if have_torch else None
        geo[str(T)] = {"conv_ratio_geomean": g, "n_passes": len(conv),
                       "n_failed": sum(1 for r in conv if r.get("ratio") is None)}
        og_gf = geomean([r.get("og_gflops") for r in conv])
        geo[str(T)]["og_gflops_geomean"] = og_gf
        if conv:
            print(f"{T} thread(s): conv geomean ratio (PyTorch ms / onnxgrad ms) over {len(conv)} passes: "
                  f"{fnum(g, '.3f')}; onnxgrad conv GFLOP/s geomean {fnum(og_gf, '.1f')}")
    tg = targets(results, threads, have_torch)
    print("\n== targets ==")
    for t in tg:
        v = t["value"]
        vs = "-" if v is None else f"{v:.2f}"
        print(f"[{t['status']:>6}] {t['threads']}T {t['target']:<38} {vs:>8}  (need {t['need']})"
              + (f"  {t['note']}" if t["note"] else ""))
    met = sum(1 for t in tg if t["status"] == "met")
    missed = sum(1 for t in tg if t["status"] == "missed")
    print(f"{met} of {len(tg)} target checks met, {missed} missed; "
          f"{sum(1 for r in results if r['failed'])} case(s) failed; {time.time() - t_start:.0f} s")
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": mach,
           "torch": torch_info if have_torch else None, "torch_available": have_torch,
           "config": {"threads": threads, "quick": args.quick, "repeat": args.repeat, "min_time_s": args.min_time,
                      "cases": names},
           "results": results, "conv_geomean": geo, "targets": tg}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(f"JSON: {args.json}")

if __name__ == "__main__":
    main()
