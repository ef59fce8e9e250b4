#!/usr/bin/env python3
"""Side-by-side speed comparison of Python `sbi` NPE and lindley NPE on sbibm two_moons.

Usage (from the repository root; run under `nice -n 10` on shared machines):

    python3 benches/compare_sbi.py [--budget 10000] [--seed 0] [--repeats 3]
                                   [--lindley target/release/lindley] [--json out.json]
    python3 benches/compare_sbi.py --profile [--profile-epochs 5]
    python3 benches/compare_sbi.py --mcmc [--budget 10000] [--seed 0] [--repeats 1]
                                   [--nre-variant default|a|b] [--json out.json]

On first use the script creates benches/.venv, installs benches/requirements-sbi.txt into it and
re-executes itself with the venv's interpreter.

Default mode (NPE): sbi NPE and lindley NPE (NSF, 5 transforms, 50 hidden, 10 bins; batch 200,
learning rate 5e-4, patience 20) are trained on the same budget; reported are the median training
seconds per epoch and the seconds to draw 10,000 posterior samples at observation 1. Last line:
`speed: epoch_ratio=.. sample_ratio=..` (lindley / sbi).

--mcmc mode (NLE and NRE): for each seed, sbi NLE (MAF, sbi's defaults) and sbi NRE (the class
`sbi.inference.NRE` aliases, NRE_B with 10 atoms in sbi 0.27, unless --nre-variant says otherwise;
ResNet classifier) are trained with the same batch size, learning rate, validation fraction and
patience as the NPE mode, the MCMC posterior is built with sbi's defaults (build_posterior() with
no arguments; the method, chains, warm-up, thinning and initialisation actually used are read back
from the posterior object and recorded), and drawing 10,000 samples at observation 1 is timed
(chain initialisation included). lindley runs `lindley bench speed --method nle|nre` with the
same chains, warm-up, thinning and number of initialisation candidates (its own vectorised slice
sampler in the prior's unconstrained space, each chain started by importance resampling a fresh
pool of prior draws, as sbi's "resample" strategy does: `--init-resampling per_chain`). Both sides' samples are scored with one judge, sbi's
`sbi.utils.metrics.c2st` (MLP classifier as in sbibm, 5 folds, seed 1), against the reference
posterior samples of observation 1 (data/sbibm/two_moons/obs1/reference_posterior_samples.csv.bz2);
lindley's own C2ST is recorded beside it. Last line: `speed-mcmc: nle_ratio=.. nre_ratio=..`
(median lindley sampling seconds / median sbi sampling seconds).
"""

import argparse
import bz2
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

REFERENCE_SAMPLES_CANDIDATES = [
    REPO_ROOT / "data/sbibm/two_moons/obs1/reference_posterior_samples.csv.bz2",
    Path("/work/shared/reference/sbibm/two_moons/obs1/reference_posterior_samples.csv.bz2"),
]

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
# --mcmc mode: NLE and NRE with MCMC sampling
# --------------------------------------------------------------------------------------------


def load_reference_samples():
    """The 10,000 reference posterior samples of two_moons observation 1 (bz2-compressed CSV)."""
    import torch

    for path in REFERENCE_SAMPLES_CANDIDATES:
        if path.exists():
            lines = [ln.strip() for ln in bz2.open(path, "rt").read().splitlines() if ln.strip()]
            rows = [[float(v) for v in ln.split(",")] for ln in lines[1:]]
            if not rows:
                sys.exit(f"error: {path}: no data rows")
            return torch.tensor(rows, dtype=torch.float32), path
    sys.exit("error: two_moons obs1 reference posterior samples not found in: "
             + ", ".join(str(p) for p in REFERENCE_SAMPLES_CANDIDATES))


def read_samples_csv(path):
    import torch

    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    return torch.tensor([[float(v) for v in ln.split(",")] for ln in lines[1:]], dtype=torch.float32)


def judge_c2st(samples, reference):
    """One judge for both sides: sbi's own C2ST (MLP classifier, as in sbibm; 5 folds; seed 1)."""
    from sbi.utils.metrics import c2st

    t0 = time.perf_counter()
    score = float(c2st(samples, reference, seed=1, n_folds=5, classifier="mlp"))
    return score, time.perf_counter() - t0


def resolve_nre_class(variant):
    """The sbi NRE class: the one `sbi.inference.NRE` aliases ('default'), or NRE_A / NRE_B."""
    import sbi.inference as si

    classes = {"a": si.NRE_A, "b": si.NRE_B}
    if variant == "default":
        cls = si.NRE
        for key, candidate in classes.items():
            if cls is candidate:
                return cls, key
        sys.exit(f"error: sbi.inference.NRE is {cls.__name__}, which lindley does not implement "
                 "(it has NRE-A and NRE-B); pass --nre-variant a or b")
    return classes[variant], variant


def mcmc_defaults_of(posterior):
    """The MCMC settings an sbi MCMCPosterior built with defaults will use, read off the object."""
    settings = {}
    for name in ("method", "num_chains", "thin", "warmup_steps", "init_strategy",
                 "init_strategy_parameters", "init_strategy_num_candidates", "num_workers"):
        if hasattr(posterior, name):
            value = getattr(posterior, name)
            settings[name] = value if isinstance(value, (int, float, str, dict, type(None))) else repr(value)
    return settings


def sbi_init_candidates(settings):
    """Candidates of sbi's "resample" initialisation (its resample_given_potential_fn default: 10,000)."""
    params = settings.get("init_strategy_parameters") or {}
    for key in ("num_candidate_samples", "init_strategy_num_candidates"):
        if isinstance(params, dict) and params.get(key):
            return int(params[key])
    if settings.get("init_strategy_num_candidates"):
        return int(settings["init_strategy_num_candidates"])
    import inspect

    from sbi.samplers.mcmc import resample_given_potential_fn

    default = inspect.signature(resample_given_potential_fn).parameters.get("num_candidate_samples")
    return int(default.default) if default is not None else 10_000


def run_sbi_mcmc_once(method, nre_class, budget, seed, x_o, reference):
    """One seeded sbi NLE or NRE run: simulate, train, build the default MCMC posterior, time 10k draws."""
    import numpy as np
    import torch
    from sbi.inference import NLE

    torch.manual_seed(seed)
    prior = two_moons_prior()
    theta, x = simulate_dataset(budget, seed)
    train_kwargs = dict(training_batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                        validation_fraction=VALIDATION_FRACTION, stop_after_epochs=STOP_AFTER_EPOCHS)
    if method == "nle":
        inference = NLE(prior=prior, density_estimator="maf", tracker=NullTracker(),
                        show_progress_bars=False)
    else:
        inference = nre_class(prior=prior, classifier="resnet", tracker=NullTracker(),
                              show_progress_bars=False)
    inference.append_simulations(theta, x)
    t0 = time.perf_counter()
    inference.train(**train_kwargs)
    train_seconds = time.perf_counter() - t0
    summary = inference.summary
    epoch_durations = list(summary["epoch_durations_sec"])
    epochs = int(summary["epochs_trained"][-1])

    t0 = time.perf_counter()
    posterior = inference.build_posterior()
    build_seconds = time.perf_counter() - t0
    settings = mcmc_defaults_of(posterior)
    settings["init_candidates"] = sbi_init_candidates(settings)

    torch.manual_seed(seed + 1_000_003)
    np.random.seed(seed + 1_000_003)
    t0 = time.perf_counter()
    samples = posterior.sample((NUM_POSTERIOR_SAMPLES,), x=x_o, show_progress_bars=False)
    sample_seconds = time.perf_counter() - t0
    score, c2st_seconds = judge_c2st(samples, reference)
    return {
        "seed": seed,
        "posterior_class": type(posterior).__name__,
        "mcmc": settings,
        "epochs": epochs,
        "epoch_seconds": statistics.median(epoch_durations),
        "train_seconds": train_seconds,
        "best_validation_loss": float(summary["best_validation_loss"][-1]),
        "build_posterior_seconds": build_seconds,
        "sample_seconds": sample_seconds,
        "num_samples": int(samples.shape[0]),
        "samples_inside_prior": bool(((samples >= -1.0) & (samples <= 1.0)).all()),
        "sample_mean": [float(v) for v in samples.mean(dim=0)],
        "c2st": score,
        "c2st_seconds": c2st_seconds,
        "epoch_durations_sec": epoch_durations,
    }


def lindley_mcmc_flags(sbi_settings):
    """`lindley bench speed` flags that reproduce sbi's chains, warm-up, thinning and chain starts."""
    flags = []
    for key, flag in (("num_chains", "--chains"), ("warmup_steps", "--warmup"), ("thin", "--thin"),
                      ("init_candidates", "--init-candidates")):
        value = sbi_settings.get(key)
        if not isinstance(value, int) or value < 1:
            raise LindleyUnavailable(f"sbi's MCMC setting {key} = {value!r} has no lindley equivalent")
        flags += [flag, str(value)]
    # sbi's "resample"/"sir" initialisation runs once per chain on a fresh pool of candidates.
    if sbi_settings.get("init_strategy") in ("resample", "sir"):
        flags += ["--init-resampling", "per_chain"]
    return flags


def run_lindley_mcmc_once(binary, method, nre_variant, budget, seed, sbi_settings, reference):
    """`lindley bench speed --method nle|nre` with sbi's MCMC run lengths; C2ST by sbi's judge."""
    with tempfile.TemporaryDirectory(prefix="compare_sbi_mcmc_") as tmp:
        out = Path(tmp) / "lindley_speed.json"
        samples_path = Path(tmp) / "samples.csv"
        cmd = [str(binary), "bench", "speed", "--task", "two_moons", "--method", method,
               "--budget", str(budget), "--seed", str(seed), "--samples-out", str(samples_path),
               "--c2st", "--json", str(out), *lindley_mcmc_flags(sbi_settings)]
        if method == "nre":
            cmd += ["--nre-variant", nre_variant]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise LindleyUnavailable(f"could not execute {binary}: {e}") from e
        wall = time.perf_counter() - t0
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        if proc.returncode != 0 or not out.exists() or not samples_path.exists():
            raise LindleyUnavailable(
                f"`{' '.join(cmd)}` exited with status {proc.returncode}"
                + (" without writing its JSON and samples" if proc.returncode == 0 else "")
                + (f"; output:\n{tail}" if tail else ""))
        data = json.loads(out.read_text())
        settings_line = next((ln for ln in proc.stderr.splitlines() if "MCMC:" in ln), "")
        samples = read_samples_csv(samples_path)
    missing = [k for k in LINDLEY_REQUIRED_KEYS if not isinstance(data.get(k), (int, float))]
    if missing:
        raise LindleyUnavailable(f"lindley JSON lacks numeric field(s) {missing}; got keys {sorted(data)}")
    data.pop("samples_file", None)
    data["c2st"], data["c2st_seconds"] = judge_c2st(samples, reference)
    data["mcmc_settings_line"] = settings_line
    data["command"] = " ".join(cmd)
    data["process_wall_seconds"] = wall
    return data


def run_mcmc_mode(args, lindley, lindley_error, x_o):
    """--mcmc: NLE and NRE, sbi vs lindley, sampling time and C2ST."""
    reference, reference_path = load_reference_samples()
    nre_class, nre_variant = resolve_nre_class(args.nre_variant)
    log(f"NRE: sbi class {nre_class.__name__} (sbi.inference.NRE is "
        f"{__import__('sbi.inference', fromlist=['NRE']).NRE.__name__}); lindley NRE-{nre_variant.upper()}")
    results = {m: {"sbi": [], "lindley": []} for m in ("nle", "nre")}
    for r in range(args.repeats):
        seed = args.seed + r
        order = ["sbi", "lindley"] if r % 2 == 0 else ["lindley", "sbi"]
        for method in ("nle", "nre"):
            for side in order:
                if side == "sbi":
                    log(f"round {r + 1}/{args.repeats}: sbi {method.upper()}, seed {seed} ...")
                    res = run_sbi_mcmc_once(method, nre_class, args.budget, seed, x_o, reference)
                    log(f"  sbi {method}: {res['epochs']} epochs, train {res['train_seconds']:.1f} s, "
                        f"MCMC {res['mcmc']}, sample {res['sample_seconds']:.2f} s, C2ST {res['c2st']:.3f}")
                    results[method]["sbi"].append(res)
                elif lindley_error is None:
                    # lindley copies the run lengths sbi's posterior used; round 1 runs sbi first,
                    # so later rounds (which alternate the order) take them from the latest sbi run.
                    known = results[method]["sbi"]
                    log(f"round {r + 1}/{args.repeats}: lindley {method.upper()}, seed {seed} ...")
                    try:
                        res = run_lindley_mcmc_once(lindley, method, nre_variant, args.budget, seed,
                                                    known[-1]["mcmc"], reference)
                    except LindleyUnavailable as e:
                        lindley_error = str(e)
                        log(f"  lindley unavailable: {lindley_error}")
                        continue
                    log(f"  lindley {method}: {res['epochs']} epochs, train {res['train_seconds']:.1f} s, "
                        f"sample {res['sample_seconds']:.2f} s, C2ST {res['c2st']:.3f} "
                        f"(lindley's own {res.get('lindley_c2st', float('nan')):.3f})")
                    results[method]["lindley"].append({"seed": seed, **res})
    return results, lindley_error, reference_path, nre_class.__name__, nre_variant


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


def report_mcmc(args, lindley, lindley_error, x_o, obs_path, versions, threads, interop):
    """Run --mcmc mode, print its table and the `speed-mcmc:` line, write the JSON."""
    results, lindley_error, reference_path, nre_class_name, nre_variant = run_mcmc_mode(
        args, lindley, lindley_error, x_o)
    keys = ("sample_seconds", "c2st", "train_seconds", "epochs", "epoch_seconds")
    medians = {m: {side: ({k: median_of(runs, k) for k in keys} if runs else None)
                   for side, runs in sides.items()}
               for m, sides in results.items()}
    ratios = {}
    for m in ("nle", "nre"):
        s_med, l_med = medians[m]["sbi"], medians[m]["lindley"]
        ratios[f"{m}_ratio"] = (l_med["sample_seconds"] / s_med["sample_seconds"]
                                if (s_med and l_med) else None)
    print(f"two_moons NLE (MAF) and NRE (sbi {nre_class_name} / lindley NRE-{nre_variant.upper()}, "
          f"ResNet), budget {args.budget}, seeds {args.seed}..{args.seed + args.repeats - 1}, "
          f"medians over {args.repeats} alternating round(s); {NUM_POSTERIOR_SAMPLES} samples at x_o "
          f"= {[round(float(v), 6) for v in x_o]}")
    for m in ("nle", "nre"):
        runs = results[m]["sbi"]
        if runs:
            print(f"{m.upper()} sbi MCMC defaults: {runs[-1]['mcmc']}")
        lruns = results[m]["lindley"]
        if lruns:
            print(f"{m.upper()} {lruns[-1].get('mcmc_settings_line', '')}")
    print(f"{'':<22}{'sbi':>10}{'lindley':>10}{'lindley/sbi':>13}")
    rows = [("sample-10k s", "sample_seconds", 3), ("C2ST (sbi judge)", "c2st", 3),
            ("train s", "train_seconds", 1), ("epochs", "epochs", 0),
            ("s/epoch (median)", "epoch_seconds", 4)]
    for m in ("nle", "nre"):
        for label, key, digits in rows:
            s = medians[m]["sbi"][key] if medians[m]["sbi"] else None
            lv = medians[m]["lindley"][key] if medians[m]["lindley"] else None
            ratio = f"{lv / s:.3f}" if (lv is not None and s) else "n/a"
            print(f"{m.upper() + ' ' + label:<22}{fmt(s, digits):>10}{fmt(lv, digits):>10}{ratio:>13}")
        lruns = results[m]["lindley"]
        if lruns:
            own = statistics.median(float(r["lindley_c2st"]) for r in lruns if "lindley_c2st" in r)
            print(f"{m.upper()} lindley's own C2ST (median): {own:.3f}")
    print(f"reference samples: {reference_path}")
    print(f"versions: sbi {versions['sbi']}, torch {versions['torch']}, numpy {versions['numpy']}, "
          f"python {versions['python']}")
    print(f"threads: torch default {threads} intra-op, {interop} inter-op; "
          f"os.cpu_count() {os.cpu_count()}; niceness {os.nice(0)}")
    if args.json:
        report = {
            "mode": "mcmc", "task": "two_moons", "budget": args.budget, "seed": args.seed,
            "repeats": args.repeats,
            "settings": {"nle_model": "maf", "nre_classifier": "resnet",
                         "sbi_nre_class": nre_class_name, "lindley_nre": f"NRE-{nre_variant.upper()}",
                         "training_batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
                         "stop_after_epochs": STOP_AFTER_EPOCHS,
                         "validation_fraction": VALIDATION_FRACTION,
                         "num_posterior_samples": NUM_POSTERIOR_SAMPLES,
                         "c2st_judge": "sbi.utils.metrics.c2st(classifier='mlp', n_folds=5, seed=1)"},
            "x_o": [float(v) for v in x_o], "observation_file": str(obs_path),
            "reference_samples_file": str(reference_path),
            "versions": versions,
            "threads": {"torch_intra_op": threads, "torch_inter_op": interop,
                        "cpu_count": os.cpu_count(), "niceness": os.nice(0)},
            "runs": results, "medians": medians, "ratios": ratios,
            "lindley": {"binary": str(lindley), "error": lindley_error},
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {args.json}")
    if lindley_error is not None:
        print(f"error: no lindley figures: {lindley_error}", file=sys.stderr)
        return EXIT_LINDLEY_UNAVAILABLE
    print(f"speed-mcmc: nle_ratio={ratios['nle_ratio']:.4f} nre_ratio={ratios['nre_ratio']:.4f}")
    return 0


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
    parser.add_argument("--mcmc", action="store_true",
                        help="compare NLE and NRE with MCMC sampling instead of NPE (see above)")
    parser.add_argument("--nre-variant", choices=("default", "a", "b"), default="default",
                        help="--mcmc: sbi NRE class; default: the one sbi.inference.NRE aliases")
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

    if args.mcmc:
        return report_mcmc(args, lindley, lindley_error, x_o, obs_path, versions, threads, interop)

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
