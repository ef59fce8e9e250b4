#!/usr/bin/env python3
"""Side-by-side speed comparison of Python `sbi` NPE and lindley NPE on sbibm two_moons.

Usage (from the repository root; run under `nice -n 10` on shared machines):

    python3 benches/compare_sbi.py [--budget 10000] [--seed 0] [--repeats 3]
                                   [--lindley target/release/lindley] [--json out.json]
    python3 benches/compare_sbi.py --profile [--profile-epochs 5]

On first use the script creates benches/.venv, installs benches/requirements-sbi.txt into it and
re-executes itself with the venv's interpreter. See benches/README.md for what is measured.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv"
REQUIREMENTS = BENCH_DIR / "requirements-sbi.txt"
INSTALL_MARKER = VENV_DIR / ".compare_sbi-requirements.sha256"
REEXEC_GUARD = "LINDLEY_COMPARE_SBI_IN_VENV"

OBSERVATION_CANDIDATES = [
    REPO_ROOT / "data/sbibm/two_moons/obs1/observation.csv",
    Path("/work/shared/reference/sbibm/two_moons/obs1/observation.csv"),
]

# Training settings shared by both sides (sbi's own defaults, spelled out).
NSF_HIDDEN = 50
NSF_TRANSFORMS = 5
NSF_BINS = 10
BATCH_SIZE = 200
LEARNING_RATE = 5e-4
STOP_AFTER_EPOCHS = 20
VALIDATION_FRACTION = 0.1
NUM_POSTERIOR_SAMPLES = 10_000

LINDLEY_REQUIRED_KEYS = ("epoch_seconds", "sample_seconds", "epochs", "train_seconds")

EXIT_LINDLEY_UNAVAILABLE = 2


def log(msg):
    """Progress messages go to stderr so stdout holds only the report."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# venv bootstrap (standard library only)
# --------------------------------------------------------------------------------------------


def running_in_bench_venv():
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def requirements_digest():
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_venv_and_reexec():
    """Create/refresh benches/.venv when needed and re-run this script inside it."""
    if running_in_bench_venv():
        return
    if os.environ.get(REEXEC_GUARD) == "1":
        sys.exit(f"error: re-executed into {VENV_DIR} but sys.prefix is {sys.prefix}")
    venv_python = VENV_DIR / "bin" / "python"
    if not venv_python.exists():
        log(f"creating venv at {VENV_DIR} ...")
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    digest = requirements_digest()
    installed = INSTALL_MARKER.read_text().strip() if INSTALL_MARKER.exists() else ""
    if installed != digest:
        log(f"installing {REQUIREMENTS.name} into {VENV_DIR} (torch is large; this takes a while) ...")
        subprocess.run(
            [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check",
             "-r", str(REQUIREMENTS)],
            check=True,
        )
        INSTALL_MARKER.write_text(digest + "\n")
    env = dict(os.environ, **{REEXEC_GUARD: "1"})
    os.execve(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


# --------------------------------------------------------------------------------------------
# Task: sbibm two_moons
# --------------------------------------------------------------------------------------------


def two_moons_simulate(theta, generator):
    """sbibm two_moons simulator: a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2),
    p = (r cos a + 0.25, r sin a), x = p + (-|t1 + t2| / sqrt 2, (-t1 + t2) / sqrt 2)."""
    import torch

    n = theta.shape[0]
    a = (torch.rand(n, generator=generator) - 0.5) * math.pi
    r = 0.1 + 0.01 * torch.randn(n, generator=generator)
    p = torch.stack([r * torch.cos(a) + 0.25, r * torch.sin(a)], dim=1)
    t1, t2 = theta[:, 0], theta[:, 1]
    shift = torch.stack([-(t1 + t2).abs() / math.sqrt(2.0), (t2 - t1) / math.sqrt(2.0)], dim=1)
    return p + shift


def two_moons_prior():
    import torch
    from sbi.utils import BoxUniform

    return BoxUniform(low=-torch.ones(2), high=torch.ones(2))


def simulate_dataset(budget, seed):
    """theta ~ U([-1, 1]^2) and x from the simulator, both from one seeded torch generator."""
    import torch

    g = torch.Generator().manual_seed(seed)
    theta = 2.0 * torch.rand(budget, 2, generator=g) - 1.0
    return theta, two_moons_simulate(theta, g)


def load_observation():
    import torch

    for path in OBSERVATION_CANDIDATES:
        if path.exists():
            lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            if len(lines) < 2:
                sys.exit(f"error: {path}: expected a header line and one data row")
            values = [float(v) for v in lines[1].split(",")]
            return torch.tensor(values, dtype=torch.float32), path
    sys.exit("error: two_moons obs1 observation.csv not found in: "
             + ", ".join(str(p) for p in OBSERVATION_CANDIDATES))


# --------------------------------------------------------------------------------------------
# sbi side
# --------------------------------------------------------------------------------------------


class NullTracker:
    """sbi's default tracker writes TensorBoard logs into ./sbi-logs; this one records nothing."""

    @property
    def log_dir(self):
        return None

    def log_metric(self, name, value, step=None):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_params(self, params):
        pass

    def add_figure(self, name, figure, step=None):
        pass

    def flush(self):
        pass


def make_npe(prior):
    from sbi.inference import NPE
    from sbi.neural_nets import posterior_nn

    estimator = posterior_nn(
        model="nsf",
        hidden_features=NSF_HIDDEN,
        num_transforms=NSF_TRANSFORMS,
        num_bins=NSF_BINS,
    )  # z-scoring left at sbi's default ("independent" for theta and x)
    return NPE(prior=prior, density_estimator=estimator, tracker=NullTracker(),
               show_progress_bars=False)


def run_sbi_once(budget, seed, x_o):
    """One seeded sbi NPE run: simulate, train, build the posterior, draw 10k samples."""
    import torch

    torch.manual_seed(seed)  # network init, train/validation split, batch shuffling
    prior = two_moons_prior()
    theta, x = simulate_dataset(budget, seed)
    inference = make_npe(prior)
    inference.append_simulations(theta, x)

    t0 = time.perf_counter()
    inference.train(
        training_batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        validation_fraction=VALIDATION_FRACTION,
        stop_after_epochs=STOP_AFTER_EPOCHS,
    )
    train_seconds = time.perf_counter() - t0

    summary = inference.summary
    epoch_durations = list(summary["epoch_durations_sec"])
    epochs = int(summary["epochs_trained"][-1])

    t0 = time.perf_counter()
    posterior = inference.build_posterior()
    build_seconds = time.perf_counter() - t0

    torch.manual_seed(seed + 1_000_003)
    t0 = time.perf_counter()
    samples = posterior.sample((NUM_POSTERIOR_SAMPLES,), x=x_o, show_progress_bars=False)
    sample_seconds = time.perf_counter() - t0

    inside = bool(((samples >= -1.0) & (samples <= 1.0)).all())
    return {
        "seed": seed,
        "epochs": epochs,
        "epoch_seconds": statistics.median(epoch_durations),
        "epoch_seconds_mean": statistics.fmean(epoch_durations),
        "train_seconds": train_seconds,
        "train_seconds_per_epoch": train_seconds / epochs,
        "best_validation_loss": float(summary["best_validation_loss"][-1]),
        "build_posterior_seconds": build_seconds,
        "sample_seconds": sample_seconds,
        "num_samples": int(samples.shape[0]),
        "samples_inside_prior": inside,
        "sample_mean": [float(v) for v in samples.mean(dim=0)],
        "epoch_durations_sec": epoch_durations,
    }


def profile_sbi(budget, seed, epochs):
    """Train sbi NPE for `epochs` epochs under cProfile and print the top 15 by cumulative time."""
    import cProfile
    import pstats

    import torch

    torch.manual_seed(seed)
    prior = two_moons_prior()
    theta, x = simulate_dataset(budget, seed)
    inference = make_npe(prior)
    inference.append_simulations(theta, x)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    # sbi's loop runs while epoch <= max_num_epochs, i.e. max_num_epochs + 1 epochs.
    inference.train(
        training_batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        validation_fraction=VALIDATION_FRACTION,
        stop_after_epochs=STOP_AFTER_EPOCHS,
        max_num_epochs=epochs - 1,
    )
    profiler.disable()
    wall = time.perf_counter() - t0
    durations = inference.summary["epoch_durations_sec"]
    print(f"sbi NPE training under cProfile: {len(durations)} epochs, {wall:.2f} s wall "
          f"(profiler overhead included), per-epoch s: "
          + ", ".join(f"{d:.3f}" for d in durations))
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(15)


# --------------------------------------------------------------------------------------------
# lindley side
# --------------------------------------------------------------------------------------------


class LindleyUnavailable(Exception):
    pass


def run_lindley_once(binary, budget, seed):
    """Run `lindley bench speed` and return its JSON (must contain LINDLEY_REQUIRED_KEYS)."""
    with tempfile.TemporaryDirectory(prefix="compare_sbi_") as tmp:
        out = Path(tmp) / "lindley_speed.json"
        cmd = [str(binary), "bench", "speed", "--task", "two_moons", "--budget", str(budget),
               "--seed", str(seed), "--json", str(out)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise LindleyUnavailable(f"could not execute {binary}: {e}") from e
        wall = time.perf_counter() - t0
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        if proc.returncode != 0:
            raise LindleyUnavailable(
                f"`{' '.join(cmd)}` exited with status {proc.returncode}"
                + (f"; output:\n{tail}" if tail else " and printed nothing"))
        if not out.exists():
            raise LindleyUnavailable(
                f"`{' '.join(cmd)}` exited 0 but wrote no JSON file (the `bench speed` command "
                "is probably not implemented in this binary yet)"
                + (f"; output:\n{tail}" if tail else ""))
        try:
            data = json.loads(out.read_text())
        except json.JSONDecodeError as e:
            raise LindleyUnavailable(f"lindley wrote invalid JSON to {out}: {e}") from e
    missing = [k for k in LINDLEY_REQUIRED_KEYS if not isinstance(data.get(k), (int, float))]
    if missing:
        raise LindleyUnavailable(f"lindley JSON lacks numeric field(s) {missing}; got keys {sorted(data)}")
    data["process_wall_seconds"] = wall
    return data


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def median_of(records, key):
    return statistics.median(float(r[key]) for r in records) if records else None


def fmt(v, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, float) and v.is_integer() and digits == 0:
        return str(int(v))
    return f"{v:.{digits}f}"


def print_table(sbi_med, lin_med):
    rows = [
        ("s/epoch (median)", "epoch_seconds", 4),
        ("epochs", "epochs", 1),
        ("train s", "train_seconds", 2),
        ("sample-10k s", "sample_seconds", 3),
    ]
    print(f"{'':<18}{'sbi':>12}{'lindley':>12}{'lindley/sbi':>14}")
    for label, key, digits in rows:
        s = sbi_med.get(key)
        lv = lin_med.get(key) if lin_med else None
        ratio = f"{lv / s:.2f}" if (lv is not None and s) else "n/a"
        print(f"{label:<18}{fmt(s, digits):>12}{fmt(lv, digits):>12}{ratio:>14}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=10_000, help="number of simulations")
    parser.add_argument("--seed", type=int, default=0, help="round r uses seed + r")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    parser.add_argument("--lindley", default="target/release/lindley",
                        help="lindley binary (relative paths are taken from the repo root)")
    parser.add_argument("--json", help="write all figures to this file")
    parser.add_argument("--profile", action="store_true",
                        help="only profile sbi training (cProfile) and print the top 15 functions")
    parser.add_argument("--profile-epochs", type=int, default=5)
    args = parser.parse_args()
    if args.budget < 10 or args.repeats < 1 or args.profile_epochs < 1:
        parser.error("need --budget >= 10, --repeats >= 1, --profile-epochs >= 1")

    ensure_venv_and_reexec()

    import numpy
    import sbi
    import torch

    threads = torch.get_num_threads()
    interop = torch.get_num_interop_threads()
    versions = {"sbi": sbi.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
                "python": platform.python_version()}

    if args.profile:
        log(f"profiling sbi {versions['sbi']} (torch {versions['torch']}, {threads} threads)")
        profile_sbi(args.budget, args.seed, args.profile_epochs)
        return 0

    x_o, obs_path = load_observation()
    lindley = Path(args.lindley)
    if not lindley.is_absolute():
        lindley = REPO_ROOT / lindley
    lindley_error = None
    if not lindley.is_file() or not os.access(lindley, os.X_OK):
        lindley_error = (f"lindley binary not found or not executable at {lindley} "
                         "(build it with `cargo build --release -p lindley-cli`)")

    sbi_runs, lindley_runs = [], []
    for r in range(args.repeats):
        seed = args.seed + r
        # Alternate which side goes first so slow drifts in machine load hit both equally.
        order = ["sbi", "lindley"] if r % 2 == 0 else ["lindley", "sbi"]
        for side in order:
            if side == "sbi":
                log(f"round {r + 1}/{args.repeats}: sbi NPE, seed {seed} ...")
                res = run_sbi_once(args.budget, seed, x_o)
                log(f"  sbi: {res['epochs']} epochs, {res['epoch_seconds']:.4f} s/epoch, "
                    f"train {res['train_seconds']:.2f} s, sample {res['sample_seconds']:.3f} s")
                sbi_runs.append(res)
            elif lindley_error is None:
                log(f"round {r + 1}/{args.repeats}: lindley, seed {seed} ...")
                try:
                    res = run_lindley_once(lindley, args.budget, seed)
                except LindleyUnavailable as e:
                    lindley_error = str(e)
                    log(f"  lindley unavailable: {lindley_error}")
                    continue
                log(f"  lindley: {res['epochs']} epochs, {res['epoch_seconds']:.4f} s/epoch, "
                    f"train {res['train_seconds']:.2f} s, sample {res['sample_seconds']:.3f} s")
                lindley_runs.append({"seed": seed, **res})

    keys = ("epoch_seconds", "epochs", "train_seconds", "sample_seconds")
    sbi_med = {k: median_of(sbi_runs, k) for k in keys}
    sbi_med["train_seconds_per_epoch"] = median_of(sbi_runs, "train_seconds_per_epoch")
    lin_med = {k: median_of(lindley_runs, k) for k in keys} if lindley_error is None else None
    ratios = None
    if lin_med is not None:
        ratios = {"epoch_ratio": lin_med["epoch_seconds"] / sbi_med["epoch_seconds"],
                  "sample_ratio": lin_med["sample_seconds"] / sbi_med["sample_seconds"]}

    print(f"two_moons NPE (NSF {NSF_TRANSFORMS} transforms, {NSF_HIDDEN} hidden, {NSF_BINS} bins), "
          f"budget {args.budget}, seeds {args.seed}..{args.seed + args.repeats - 1}, "
          f"medians over {args.repeats} alternating round(s)")
    print(f"x_o = {[round(float(v), 6) for v in x_o]} from {obs_path}")
    print_table(sbi_med, lin_med)
    print(f"sbi mean train s/epoch incl. overhead (train s / epochs): "
          f"{sbi_med['train_seconds_per_epoch']:.4f}")
    print(f"versions: sbi {versions['sbi']}, torch {versions['torch']}, numpy {versions['numpy']}, "
          f"python {versions['python']}")
    print(f"threads: torch default {threads} intra-op, {interop} inter-op; "
          f"os.cpu_count() {os.cpu_count()}; niceness {os.nice(0)}")

    if args.json:
        report = {
            "task": "two_moons", "budget": args.budget, "seed": args.seed, "repeats": args.repeats,
            "settings": {"model": "nsf", "hidden_features": NSF_HIDDEN,
                         "num_transforms": NSF_TRANSFORMS, "num_bins": NSF_BINS,
                         "training_batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
                         "stop_after_epochs": STOP_AFTER_EPOCHS,
                         "validation_fraction": VALIDATION_FRACTION,
                         "num_posterior_samples": NUM_POSTERIOR_SAMPLES},
            "x_o": [float(v) for v in x_o], "observation_file": str(obs_path),
            "versions": versions,
            "threads": {"torch_intra_op": threads, "torch_inter_op": interop,
                        "cpu_count": os.cpu_count(), "niceness": os.nice(0)},
            "sbi": {"runs": sbi_runs, "median": sbi_med},
            "lindley": {"binary": str(lindley), "runs": lindley_runs, "median": lin_med,
                        "error": lindley_error},
            "ratios": ratios,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {args.json}")

    if lindley_error is not None:
        print(f"error: no lindley figures: {lindley_error}", file=sys.stderr)
        return EXIT_LINDLEY_UNAVAILABLE
    print(f"speed: epoch_ratio={ratios['epoch_ratio']:.2f} sample_ratio={ratios['sample_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
