"""``espnet-warmup probe``: the highest peak LR at which each warmup policy still trains.

    espnet-warmup probe --base conf/train_linear_warmup.yaml \\
        --policy conf/train_linear_warmup.yaml --policy conf/train_exp_warmup.yaml \\
        --peak_lrs 1e-3:1e-1 --grid 4 --refine 2 --seeds "1 2 3" --updates 200 \\
        --train_args "<ESPnet data options>" --workdir exp/probe --cmd run.pl --nj 2

For every policy (a training config: only its ``scheduler``/``scheduler_conf`` are used) and every
peak LR, short seeded trainings of the ``--base`` config run with that schedule, the peak set as
``optim_conf.lr`` and the schedule scaled to the probe budget (:func:`scale_scheduler`: warmup =
``--warmup_fraction`` x ``--updates``, decay ends at ``--updates``, OWSM's absolute knot LRs scaled
with the peak). Each run is judged by the divergence monitor's rules
(:class:`espnet_warmup.recipe.analysis.divergence.DivergenceDetector`: sustained grad-norm spikes,
non-finite updates, loss rising to 2x its best, ESPnet's own "all steps invalid"); the monitor stops a
diverging run early (it has failed; the rest would cost CPU for nothing). A peak is *stable* for a
policy only if every seed trained without divergence.

Round 0 runs a log-spaced grid of ``--grid`` peaks over ``--peak_lrs``; each of ``--refine`` rounds
then runs, per policy, the geometric middle of its highest stable and lowest diverged peak (bisection
on a log scale). Runs go through the Kaldi job launcher (``--cmd``: ``run.pl`` locally with ``--nj``
jobs at a time, ``slurm.pl ...`` as job arrays on a cluster), one ``JOB=1:N`` array per round. A run
whose ``result.json`` exists is reused (a rerun of a finished probe only writes the table).

Outputs in ``--workdir``: ``runs/<policy>/lr<peak>_seed<N>/`` (config, train.log, monitor.log,
result.json), ``probe.md`` (per policy: highest stable peak, lowest diverged peak, updates to
divergence, grad-norm peaks; every run listed), ``probe.json`` and ``stability_map.png`` (peak LR x
policy; colour = final train loss of a stable run, a red cross for a diverged one).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from espnet_warmup.espnet_config import ConfigError, load_config
from espnet_warmup.recipe.atomic import atomic_write_text

RESULT = "result.json"


class ProbeError(ValueError):
    """Bad probe input; the message names the option or file."""


# ----------------------------------------------------------------------------- configs
def _warmup_of(conf: dict[str, Any]) -> int | None:
    """The warmup length a scheduler_conf gives (warmup_steps, ESPnet's warmup_steps_list, or the
    guarded schedule's), None if it gives none."""
    if conf.get("warmup_steps") is not None:
        return int(conf["warmup_steps"])
    if conf.get("warmup_steps_list"):
        return int(conf["warmup_steps_list"][-1])
    if isinstance(conf.get("schedule_conf"), dict):
        return _warmup_of(conf["schedule_conf"])
    return None


def scale_scheduler(name: str, conf: dict[str, Any], warmup: int, total: int, peak_ratio: float) -> dict[str, Any]:
    """``conf`` of scheduler ``name`` for a run of ``total`` updates with ``warmup`` warmup updates and a
    peak ``peak_ratio`` x the config's: step counts scale with the warmup (the warmup's knots, the guard's
    hold and delay) or end at ``total`` (the decay), absolute LRs (ESPnet's ``warmup_lr_list``) with the
    peak. Unknown step or LR keys are refused (naming them), so a schedule is never probed at a length it
    was not scaled to."""
    conf = dict(conf or {})
    old_w = _warmup_of(conf)

    def with_warmup(steps: int) -> int:
        return round(int(steps) * warmup / old_w) if old_w else int(steps)

    out: dict[str, Any] = {}
    for key, value in conf.items():
        if value is None:
            out[key] = value
        elif key == "warmup_steps":
            out[key] = warmup
        elif key == "warmup_steps_list":  # ESPnet's piecewiselinearwarmuplr: [0, w', w] ...
            out[key] = [with_warmup(s) for s in value]
        elif key == "warmup_lr_list":  # ... with absolute LRs
            out[key] = [float(v) * peak_ratio for v in value]
        elif key == "total_steps":
            out[key] = total
        elif key == "knot_steps":
            out[key] = [with_warmup(s) for s in value]
        elif key == "num_decay_steps":
            out[key] = max(1, round(int(value) * total / int(conf.get("total_steps") or total)))
        elif key == "schedule_conf":  # the warmup guard: scale the guarded schedule
            out[key] = scale_scheduler(str(conf.get("schedule")), value, warmup, total, peak_ratio)
        elif key in ("hold_steps", "max_delay"):  # the guard's, in updates of the warmup
            out[key] = max(1, with_warmup(value)) if key == "hold_steps" else with_warmup(value)
        elif key.endswith("_steps") or key.endswith("_lr") or key in ("warmup_ratio",):
            raise ProbeError(f"scheduler_conf.{key} of {name}: the probe does not know how to scale it to "
                             f"{total} updates; known: warmup_steps, total_steps, knot_steps, num_decay_steps, "
                             "warmup_steps_list/warmup_lr_list, schedule_conf, hold_steps, max_delay")
        else:
            out[key] = value
    if old_w is None and name != "warmupguardlr":
        out["warmup_steps"] = warmup  # the constructor default would not match the probe budget
    return out


def run_config(base: dict[str, Any], policy: dict[str, Any], peak: float, seed: int, updates: int,
               warmup_fraction: float, log_interval: int) -> dict[str, Any]:
    """The training config of one probe run."""
    name = policy.get("scheduler")
    if not name:
        raise ProbeError("the policy config has no scheduler")
    old_peak = float((policy.get("optim_conf") or base.get("optim_conf") or {}).get("lr", peak))
    accum = int(base.get("accum_grad", 1) or 1)
    warmup = max(1, round(warmup_fraction * updates))
    conf = dict(base)
    conf["optim_conf"] = {**(base.get("optim_conf") or {}), "lr": float(peak)}
    conf["scheduler"] = name
    conf["scheduler_conf"] = scale_scheduler(str(name), policy.get("scheduler_conf") or {}, warmup, updates,
                                             float(peak) / old_peak if old_peak else 1.0)
    conf.update(max_epoch=1, num_iters_per_epoch=updates * accum, seed=int(seed), log_interval=log_interval,
                keep_nbest_models=1, use_tensorboard=False, use_matplotlib=False, num_att_plot=0,
                best_model_criterion=[["train", "loss", "min"]])
    return conf


# ----------------------------------------------------------------------------- one run
def classify(log: Path) -> dict[str, Any]:
    """stable | diverged from a finished (or stopped) train.log, with the numbers the table shows."""
    from espnet_warmup.recipe.analysis.divergence import DivergenceDetector
    from espnet_warmup.recipe.analysis.logs import Interval, TrainLogParser

    det = DivergenceDetector()
    parser = TrainLogParser()
    first_div, kinds, norms, losses, finished, last_step = None, [], [], [], False, 0
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    for line in text.splitlines():
        if "The training was finished at" in line:
            finished = True
        rec = parser.feed(line)
        if isinstance(rec, Interval):
            last_step = rec.step
            g, loss = rec.get("grad_norm"), rec.get("loss")
            if g == g and abs(g) != math.inf:
                norms.append(g)
            if loss == loss and abs(loss) != math.inf:
                losses.append(loss)
        for f in det.feed(rec, line):
            if f.level == "DIVERGENCE":
                kinds.append(f.kind)
                if first_div is None:
                    first_div = det.step
    status = "diverged" if kinds else ("stable" if finished else "failed")
    return {"status": status, "diverged_kinds": kinds, "diverged_at_iteration": first_div,
            "iterations": last_step, "grad_norm_peak": max(norms) if norms else None,
            "final_train_loss": losses[-1] if losses else None, "spikes": det.n_spikes,
            "skipped_updates": det.n_skipped}


def run_one(run_dir: Path) -> int:
    """Train one probe run under the monitor (stopping it on divergence), classify, write result.json."""
    spec = json.loads((run_dir / "command.json").read_text())
    log = run_dir / "train.log"
    cmd = [sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log", str(log), "--child_log", str(log),
           "--out", str(run_dir / "monitor.log"), "--stop_on_divergence", "true", "--", *spec["train"]]
    code = subprocess.call(cmd)
    result = classify(log)
    result.update(spec["meta"], exit=code)
    if result["status"] == "failed":
        print(f"probe: {run_dir}: the training failed without diverging (exit {code}); read {log}", file=sys.stderr)
        return 1
    atomic_write_text(run_dir / RESULT, json.dumps(result, indent=1) + "\n")
    return 0


# ----------------------------------------------------------------------------- the probe
def parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise ProbeError(f"--peak_lrs must be LO:HI (e.g. 1e-3:1e-1), got {text!r}") from None
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ProbeError(f"--peak_lrs: need 0 < LO < HI, got {text!r}")
    return lo, hi


def grid(lo: float, hi: float, n: int) -> list[float]:
    if n == 1:
        return [lo]
    return [float(f"{lo * (hi / lo) ** (k / (n - 1)):.4g}") for k in range(n)]


def peak_tag(peak: float) -> str:
    return f"lr{peak:.4g}"


class Probe:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.workdir = Path(args.workdir)
        try:
            self.base = load_config(args.base)
        except (OSError, ConfigError) as err:
            raise ProbeError(f"--base {args.base}: {err}") from None
        self.policies: dict[str, dict[str, Any]] = {}
        for path in args.policy:
            label = Path(path).stem
            if label in self.policies:
                raise ProbeError(f"--policy: two policies named {label} (file names must differ)")
            try:
                self.policies[label] = load_config(path)
            except (OSError, ConfigError) as err:
                raise ProbeError(f"--policy {path}: {err}") from None
        if not self.policies:
            raise ProbeError("give at least one --policy <training config>")
        try:
            self.seeds = [int(s) for s in args.seeds.split()]
        except ValueError:
            raise ProbeError(f"--seeds must be integers, got {args.seeds!r}") from None
        if not self.seeds:
            raise ProbeError("--seeds: give at least one seed (3 for a published table)")
        self.lo, self.hi = parse_range(args.peak_lrs)
        accum = int(self.base.get("accum_grad", 1) or 1)
        if args.updates * accum // max(1, args.log_interval) < 10:
            raise ProbeError(f"--updates {args.updates} with --log_interval {args.log_interval} (iterations) and "
                             f"accum_grad {accum} log fewer than 10 intervals: too few for the divergence rules "
                             "(a 5-interval loss median, sustained spikes); raise --updates or lower --log_interval")
        if not 0 < args.warmup_fraction <= 1:
            raise ProbeError(f"--warmup_fraction must be in (0, 1], got {args.warmup_fraction}")

    def run_dir(self, policy: str, peak: float, seed: int) -> Path:
        return self.workdir / "runs" / policy / f"{peak_tag(peak)}_seed{seed}"

    def prepare(self, policy: str, peak: float, seed: int) -> Path | None:
        """Write the run's config and command; None when its result is there already."""
        d = self.run_dir(policy, peak, seed)
        if (d / RESULT).is_file():
            old = json.loads((d / RESULT).read_text())
            for key, want in (("updates", self.args.updates),
                              ("warmup_updates", max(1, round(self.args.warmup_fraction * self.args.updates)))):
                if old.get(key) != want:
                    raise ProbeError(f"{d / RESULT}: made with {key} {old.get(key)}, this probe has {want}; "
                                     "give this probe another --workdir (its runs would not be comparable)")
            return None
        import yaml

        a = self.args
        d.mkdir(parents=True, exist_ok=True)
        conf = run_config(self.base, self.policies[policy], peak, seed, a.updates, a.warmup_fraction, a.log_interval)
        atomic_write_text(d / "config.yaml", yaml.safe_dump(conf, sort_keys=False))
        train = [*shlex.split(a.python), "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train",
                 "--config", str(d / "config.yaml"), "--output_dir", str(d / "exp"), "--ngpu", str(a.ngpu),
                 "--resume", "false", *shlex.split(a.train_args)]
        meta = {"policy": policy, "peak_lr": peak, "seed": seed, "updates": a.updates,
                "warmup_updates": max(1, round(a.warmup_fraction * a.updates))}
        atomic_write_text(d / "command.json", json.dumps({"train": train, "meta": meta}, indent=1))
        if (d / "exp").exists():  # an interrupted run starts again (probe runs are short)
            import shutil

            shutil.rmtree(d / "exp")
        return d

    def launch(self, dirs: list[Path], name: str) -> None:
        if not dirs:
            return
        jobs = self.workdir / "jobs" / name
        jobs.mkdir(parents=True, exist_ok=True)
        for k, d in enumerate(dirs, 1):
            atomic_write_text(jobs / f"job.{k}.sh", f"exec {shlex.quote(sys.executable)} -m espnet_warmup.recipe.probe "
                                                    f"run-one {shlex.quote(str(d))}\n")
        cmd = [*shlex.split(self.args.cmd)]
        if Path(cmd[0]).name == "run.pl" and self.args.nj:
            cmd += ["--max-jobs-run", str(self.args.nj)]
        cmd += [f"JOB=1:{len(dirs)}", str(jobs / "log.JOB.log"), "bash", str(jobs / "job.JOB.sh")]
        print(f"probe: {name}: {len(dirs)} run(s): {' '.join(cmd)}", file=sys.stderr, flush=True)
        code = subprocess.call(cmd)
        if code != 0:
            raise ProbeError(f"probe: {name}: some runs failed (not by diverging); read {jobs}/log.*.log "
                             "(finished runs are kept: rerun to continue)")

    def results(self) -> dict[str, dict[float, list[dict[str, Any]]]]:
        out: dict[str, dict[float, list[dict[str, Any]]]] = {p: {} for p in self.policies}
        for policy in self.policies:
            for f in sorted((self.workdir / "runs" / policy).glob(f"lr*_seed*/{RESULT}")):
                r = json.loads(f.read_text())
                if r.get("seed") in self.seeds:
                    out[policy].setdefault(float(r["peak_lr"]), []).append(r)
        return out

    def boundary(self, runs: dict[float, list[dict[str, Any]]]) -> tuple[float | None, float | None]:
        """(highest stable peak below the lowest diverged one, lowest diverged peak) over complete peaks."""
        complete = {p: rs for p, rs in runs.items() if len(rs) == len(self.seeds)}
        diverged = sorted(p for p, rs in complete.items() if any(r["status"] == "diverged" for r in rs))
        low_div = diverged[0] if diverged else None
        stable = [p for p, rs in complete.items() if all(r["status"] == "stable" for r in rs)
                  and (low_div is None or p < low_div)]
        return (max(stable) if stable else None), low_div

    def run(self) -> dict[str, Any]:
        # The peaks of each round are kept in plan.json: a rerun probes the same peaks (bisection from
        # all results would move on to new ones), running only what is missing.
        plan_path = self.workdir / "plan.json"
        plan = json.loads(plan_path.read_text()) if plan_path.is_file() else {}
        key = {"peak_lrs": self.args.peak_lrs, "grid": self.args.grid, "seeds": self.seeds}
        if plan and plan.get("key") != key:
            plan = {}  # another grid: its rounds are planned afresh (finished runs are still reused)
        plan["key"] = key
        rounds = plan.setdefault("rounds", [])
        if not rounds:
            rounds.append({p: grid(self.lo, self.hi, self.args.grid) for p in self.policies})
        for r in range(self.args.refine + 1):
            if r == len(rounds):
                nxt = {}
                for policy, runs in self.results().items():
                    s, d = self.boundary(runs)
                    if s is None or d is None:
                        continue  # no bracket: the range holds no boundary for this policy
                    mid = float(f"{math.sqrt(s * d):.4g}")
                    if mid not in (s, d):
                        nxt[policy] = [mid]
                rounds.append(nxt)
            atomic_write_text(plan_path, json.dumps(plan, indent=1) + "\n")
            todo = [d for policy, peaks in rounds[r].items() if policy in self.policies
                    for lr in peaks for seed in self.seeds if (d := self.prepare(policy, lr, seed))]
            self.launch(todo, f"round{r}")
        return self.report()

    def report(self) -> dict[str, Any]:
        res = self.results()
        rows = []
        for policy, runs in res.items():
            s, d = self.boundary(runs)
            div_runs = [r for rs in runs.values() for r in rs if r["status"] == "diverged"]
            at_d = [r for r in runs.get(d, []) if r["status"] == "diverged"] if d is not None else []
            accum = int(self.base.get("accum_grad", 1) or 1)
            rows.append({
                "policy": policy, "highest_stable_peak": s, "lowest_diverged_peak": d,
                "updates_to_divergence": min((r["diverged_at_iteration"] // accum for r in at_d
                                              if r["diverged_at_iteration"] is not None), default=None),
                "grad_norm_peak_stable": max((r["grad_norm_peak"] or 0 for r in runs.get(s, [])), default=None)
                if s is not None else None,
                "grad_norm_peak_diverged": max((r["grad_norm_peak"] or 0 for r in at_d), default=None) if at_d else None,
                "runs": sum(len(rs) for rs in runs.values()), "diverged_runs": len(div_runs),
            })
        f = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
        lines = ["<!-- Generated by espnet-warmup probe -->", "# Stability probe", "",
                 f"Base config `{self.args.base}`; {self.args.updates} updates per run, warmup "
                 f"{max(1, round(self.args.warmup_fraction * self.args.updates))} updates; seeds "
                 f"{', '.join(map(str, self.seeds))} (a peak is stable only if every seed trained); peaks "
                 f"{self.args.peak_lrs} ({self.args.grid}-point log grid, {self.args.refine} bisection rounds).", "",
                 "|policy|highest stable peak|lowest diverged peak|updates to divergence|grad-norm peak (stable)|"
                 "grad-norm peak (diverged)|runs (diverged)|", "|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"|{r['policy']}|{f(r['highest_stable_peak'])}|{f(r['lowest_diverged_peak'])}|"
                         f"{f(r['updates_to_divergence'])}|{f(r['grad_norm_peak_stable'])}|"
                         f"{f(r['grad_norm_peak_diverged'])}|{r['runs']} ({r['diverged_runs']})|")
        lines += ["", "## Runs", "", "|policy|peak LR|seed|status|divergence (kind, update)|grad-norm peak|final train loss|",
                  "|---|---|---|---|---|---|---|"]
        accum = int(self.base.get("accum_grad", 1) or 1)
        for policy, runs in res.items():
            for peak in sorted(runs):
                for r in sorted(runs[peak], key=lambda x: x["seed"]):
                    div = (f"{', '.join(r['diverged_kinds'])} at {r['diverged_at_iteration'] // accum}"
                           if r["status"] == "diverged" and r["diverged_at_iteration"] is not None else "-")
                    lines.append(f"|{policy}|{peak:.4g}|{r['seed']}|{r['status']}|{div}|{f(r['grad_norm_peak'])}|"
                                 f"{f(r['final_train_loss'])}|")
        lines += ["", "![stability map](stability_map.png)", ""]
        self.workdir.mkdir(parents=True, exist_ok=True)
        plot_map(res, self.workdir / "stability_map.png")
        atomic_write_text(self.workdir / "probe.md", "\n".join(lines))
        out = {"rows": rows, "seeds": self.seeds, "updates": self.args.updates,
               "runs": {p: {str(k): v for k, v in rs.items()} for p, rs in res.items()}}
        atomic_write_text(self.workdir / "probe.json", json.dumps(out, indent=1) + "\n")
        return out


def plot_map(res: dict[str, dict[float, list[dict[str, Any]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    policies = list(res)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.6 * len(policies)))
    xs, ys, cs = [], [], []
    for y, policy in enumerate(policies):
        for peak, rs in res[policy].items():
            if any(r["status"] == "diverged" for r in rs):
                ax.plot([peak], [y], "x", color="red", ms=10, mew=2)
            else:
                losses = [r["final_train_loss"] for r in rs if r["final_train_loss"] is not None]
                xs.append(peak)
                ys.append(y)
                cs.append(sum(losses) / len(losses) if losses else math.nan)
    if xs:
        sc = ax.scatter(xs, ys, c=cs, cmap="viridis", s=80)
        fig.colorbar(sc, ax=ax, label="final train loss (stable, mean over seeds)")
    ax.set_xscale("log")
    ax.set_yticks(range(len(policies)), policies)
    ax.set_ylim(-0.5, len(policies) - 0.5)
    ax.set_xlabel("peak LR (red x: diverged under at least one seed)")
    ax.set_title("stability map")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="the training config probed (model, data, optimizer)")
    parser.add_argument("--policy", action="append", default=[], required=True,
                        help="a training config whose scheduler is a policy (repeat for several)")
    parser.add_argument("--peak_lrs", default="1e-3:1e-1", help="LO:HI range of peak LRs (default 1e-3:1e-1)")
    parser.add_argument("--grid", type=int, default=4, help="log-spaced peaks of round 0 (default 4)")
    parser.add_argument("--refine", type=int, default=2, help="bisection rounds after the grid (default 2)")
    parser.add_argument("--seeds", default="1 2 3", help='seeds per peak (default "1 2 3")')
    parser.add_argument("--updates", type=int, default=200, help="optimizer updates per run (default 200)")
    parser.add_argument("--warmup_fraction", type=float, default=0.5, help="warmup / updates (default 0.5)")
    parser.add_argument("--log_interval", type=int, default=2, help="ESPnet --log_interval of the runs (default 2)")
    parser.add_argument("--train_args", default="", help="ESPnet options every run gets (the data, token list ...)")
    parser.add_argument("--workdir", default="exp/probe", help="where runs and results go (default exp/probe)")
    parser.add_argument("--cmd", default="run.pl", help="job launcher (run.pl, slurm.pl --config ...)")
    parser.add_argument("--nj", type=int, default=1, help="runs at a time with run.pl (default 1)")
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the trainings (default: the one running the probe)")
    parser.add_argument("--report_only", action="store_true", help="only write the table from finished runs")


def run(args: argparse.Namespace) -> int:
    try:
        probe = Probe(args)
        out = probe.report() if args.report_only else probe.run()
    except ProbeError as err:
        print(f"probe: {err}", file=sys.stderr)
        return 1
    n = sum(len(rs) for p in out["runs"].values() for rs in p.values())
    print(f"probe: {n} run(s); wrote {Path(args.workdir) / 'probe.md'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run-one"] and len(argv) == 2:
        return run_one(Path(argv[1]))
    parser = argparse.ArgumentParser(prog="espnet-warmup probe", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
