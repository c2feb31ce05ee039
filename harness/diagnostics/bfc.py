"""Backward feature correction, measured: per-layer probe R^2 over training, by training schedule.

The experiment (``hierbench diagnose``).  One hierarchical task (``bfc`` by default) at a fixed d,
for each seed one teacher, one training set of n samples, one noiseless test set and one probe
set (all drawn as in :mod:`harness.run.job`; the probe inputs from the stream ``[seed, 3]``). On the
same data the same DenseNet-like quadratic net (``bfc_net``'s architecture, n_blocks = the task's
number of levels, its connection sets) is trained with the same step budget and hyper-parameters
under several schedules (variants):

* ``end_to_end``: staged, every active block trained (``bfc_net``, backward_depth None);
* ``layerwise``: staged, every block frozen after its stage (``layerwise``, architecture bfc);
* ``m=<m>``: staged, in stage s the gradient reaches blocks max(1, s - m)..s only (``bfc_net``,
  backward_depth m): "how much backward is needed".

m = 0 is the layerwise schedule and m >= L - 1 the end-to-end one (same init, same data, same
steps: the fits are identical).  With ``alias = true`` (default) those m are not fitted again;
their rows are the layerwise / end-to-end fits.

Checkpoints.  Through the learner's step callback the net is probed every ``probe.every`` steps;
at every stage switch (the moment block s switches on: caught by a forward pre-hook, before the
stage's first step, the stage read off which blocks require gradients; stage 1 after its first
step) and once more on the final (early-stopping-restored) net.  A probe maps every block's
hidden representation S_b to every teacher level's features F_l
(:func:`learners.probes.probe_matrix`): an L x L matrix of held-out R^2 per checkpoint.  Probes
taken during lr pilots or diverged attempts are discarded (a new model object resets the trace).

Per fit it also records, from parameter snapshots at each stage start: ``drift`` (block b's
relative parameter change ||theta_b(end) - theta_b(t_{b+1})|| / ||theta_b(t_{b+1})||, t_{b+1}
the start of stage b + 1) and ``frozen_max_change`` (the largest |change| of any parameter of a
block between the stage it is frozen from, b + m + 1, and the end: 0 when freezing works).

Running and resuming: :mod:`harness.diagnostics.runner`; storing: :mod:`harness.diagnostics.store`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.experiment import (
    Budget,
    Seeds,
    find_toml,
    format_validation_error,
    preset_folder,
    read_toml,
    toml_names,
)
from harness.run import (
    draw_test_set,
    draw_training_set,
    normalised_mse,
    now_iso,
    one_line,
)
from harness.store import Status
from tasks.streams import Stream, stream_rng

DEFAULT_PRESET = "bfc-diagnostics"
#: learner parameters the experiment sets itself (per variant or from the task)
RESERVED = ("n_blocks", "depth", "connections", "architecture", "backward_depth", "staged",
            "callback", "callback_every", "random_state", "activation", "residual")
PositiveInt = Annotated[int, Field(gt=0)]


class DiagnosticsError(ValueError):
    """A bad config or run folder; the message is one line."""


# --------------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskCfg(_Strict):
    name: str = "bfc"
    d: PositiveInt
    params: dict[str, Any] = Field(default_factory=dict)


class VariantsCfg(_Strict):
    end_to_end: bool = True
    layerwise: bool = True
    backward_depths: list[Annotated[int, Field(ge=0)]] | None = None  # None: 0..L-1
    alias: bool = True


class ProbeCfg(_Strict):
    every: PositiveInt = 200
    train_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)
    lambdas: list[Annotated[float, Field(gt=0.0)]] | None = None


class ExecutionCfg(_Strict):
    """Where the fits run: the executors of ``hierbench run`` (:mod:`harness.run`).  ``executor``
    None means ``serial`` with one worker and ``local`` with more."""

    executor: Literal["serial", "local", "dask"] | None = None
    workers: PositiveInt | None = None
    threads: PositiveInt | None = None
    scheduler: str | None = None


class DiagConfig(_Strict):
    """A diagnostics config (see docs/diagnostics.md for every key)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    seeds: Seeds = Field(default_factory=lambda: [0, 1, 2])
    n: PositiveInt
    n_test: PositiveInt = 2000
    n_probe: Annotated[int, Field(ge=20)] = 4000
    task: TaskCfg
    learner: dict[str, Any] = Field(default_factory=dict)
    variants: VariantsCfg = VariantsCfg()
    probe: ProbeCfg = ProbeCfg()
    budget: Budget = Budget()
    execution: ExecutionCfg = ExecutionCfg()

    def digest(self) -> str:
        """Hash of what determines the fits (not the budget or the execution settings)."""
        data = self.model_dump(exclude={"execution", "description", "budget"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def preset_dir() -> Path:
    """The shipped diagnostics presets: ``harness/experiment/presets/diagnostics/``."""
    return preset_folder() / "diagnostics"


def diagnostics_presets() -> list[str]:
    return toml_names(preset_dir())


def resolve_config_path(config: str | Path) -> Path:
    """A TOML path, or the name of a diagnostics preset (harness/experiment/presets/diagnostics)."""
    return find_toml(config, preset_dir(), DiagnosticsError, what="config",
                     preset_kind="diagnostics preset")


def load_config(config: str | Path) -> tuple[DiagConfig, str]:
    """(validated config, its TOML text) from a preset name or a path; one-line errors.  The
    file is read by the specs' TOML reader (:func:`harness.experiment.read_toml`)."""
    path = resolve_config_path(config)
    data, text = read_toml(path, DiagnosticsError)
    return parse_config(data, source=path.name), text


def parse_config(data: dict[str, Any], source: str = "config") -> DiagConfig:
    try:
        cfg = DiagConfig.model_validate(data)
    except ValidationError as exc:
        raise DiagnosticsError(f"{source}: {format_validation_error(exc)}") from None
    check_config(cfg, source)
    return cfg


def check_config(cfg: DiagConfig, source: str = "config") -> None:
    """Task builds and has levels; learner params are accepted by both learners, none reserved."""
    bad = sorted(set(cfg.learner) & set(RESERVED))
    if bad:
        raise DiagnosticsError(f"{source}: learner.{bad[0]}: set by the experiment per variant "
                               f"(reserved: {', '.join(RESERVED)})")
    try:
        task = build_task(cfg, cfg.seeds[0])
        n_levels(task)
    except Exception as exc:  # noqa: BLE001 - a plugin's error becomes one line
        raise DiagnosticsError(f"{source}: task ({cfg.task.name}): {first_line(exc)}") from None
    for fit in plan_fits(cfg, n_levels(task)):
        try:
            make_variant_learner(cfg, fit, task, seed=cfg.seeds[0])
        except Exception as exc:  # noqa: BLE001
            raise DiagnosticsError(f"{source}: learner ({fit.variant}): {first_line(exc)}") \
                from None
    if not (cfg.variants.end_to_end or cfg.variants.layerwise or cfg.variants.backward_depths):
        raise DiagnosticsError(f"{source}: variants: nothing to fit")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# plan: the distinct fits of a seed
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FitSpec:
    """One training schedule: its name, the learner that runs it, its backward depth, and the
    m values of the sweep that it stands for (m = 0 layerwise, m >= L - 1 end-to-end)."""

    variant: str
    learner: str
    backward_depth: int | None
    m_values: tuple[int, ...] = ()


def backward_depths(cfg: DiagConfig, L: int) -> list[int]:
    return list(range(L)) if cfg.variants.backward_depths is None \
        else sorted(set(cfg.variants.backward_depths))


def plan_fits(cfg: DiagConfig, L: int) -> list[FitSpec]:
    """The fits of one seed, equivalent schedules merged when ``variants.alias``."""
    v = cfg.variants
    ms = backward_depths(cfg, L)
    e2e_ms = tuple(m for m in ms if m >= L - 1) if v.alias else ()
    lw_ms = tuple(m for m in ms if m == 0) if v.alias else ()
    fits = []
    if v.end_to_end:
        fits.append(FitSpec("end_to_end", "bfc_net", None, e2e_ms))
    if v.layerwise:
        fits.append(FitSpec("layerwise", "layerwise", 0, lw_ms))
    for m in ms:
        covered = (v.end_to_end and m in e2e_ms) or (v.layerwise and m in lw_ms)
        if not covered:
            fits.append(FitSpec(f"m={m}", "bfc_net", m, (m,)))
    return fits


def build_task(cfg: DiagConfig, seed: int):
    from tasks import make_task

    return make_task(cfg.task.name, d=cfg.task.d, seed=seed, **cfg.task.params)


def n_levels(task) -> int:
    """Number of teacher levels (from ``hierarchy`` on two inputs); must be >= 2."""
    X = task._draw_inputs(2, stream_rng(0, Stream.PROBE))
    L = len(task.hierarchy(X))
    if L < 2:
        raise ValueError(f"the task has {L} level(s); the diagnostic needs at least 2")
    return L


def make_variant_learner(cfg: DiagConfig, fit: FitSpec, task, seed: int, callback=None):
    """The variant's learner: the shared params, the task's depth and connections, the seed."""
    from learners.bfc_net import BFCNetLearner
    from learners.layerwise import LayerwiseLearner

    L = n_levels(task)
    conns = getattr(task, "connections", None)
    common = dict(cfg.learner, connections=conns, callback=callback,
                  callback_every=1, random_state=int(seed))
    if fit.learner == "layerwise":
        return LayerwiseLearner(architecture="bfc", depth=L, backward_depth=0, **common)
    return BFCNetLearner(n_blocks=L, staged=True, backward_depth=fit.backward_depth, **common)


# --------------------------------------------------------------------------------------------
# one fit, probed during training
# --------------------------------------------------------------------------------------------
def active_stage(model) -> int:
    """The newest active block: the highest block with a parameter that requires a gradient."""
    return max((b for b, blk in enumerate(model.blocks, start=1)
                if any(p.requires_grad for p in blk.parameters())), default=0)


def block_vectors(model) -> list[np.ndarray]:
    """Each block's parameters as one float64 vector (a snapshot)."""
    return [np.concatenate([p.detach().cpu().double().numpy().ravel()
                            for p in blk.parameters()]) for blk in model.blocks]


@dataclass
class ProbeTracker:
    """The learner's callback: probes at stage starts and every ``every`` steps (module doc).

    Stage switches are caught by a forward pre-hook on the net, registered when the callback
    first sees it: the first forward pass of a new stage (the optimiser's first step) finds a
    new newest trainable block, and the net is probed and snapshotted *before* that step, i.e.
    exactly as the previous stage left it (best state restored).  Stage 1 is seen from the
    first callback, after its first step.  ``stage_starts[s]`` = steps done before stage s.
    """

    X_probe: np.ndarray
    F_train: list[np.ndarray]
    F_test: list[np.ndarray]
    n_train: int
    every: int
    lambdas: tuple[float, ...]
    checkpoints: list[dict] = field(default_factory=list)
    stage_starts: dict[int, int] = field(default_factory=dict)
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)
    probe_seconds: float = 0.0
    _model: Any = None
    _est: Any = None
    _hook: Any = None
    _stage: int = 0
    _step: int = 0

    def __call__(self, step: int, est) -> None:
        model = est.model_
        self._est, self._step = est, int(step)
        if model is not self._model:  # a new run (lr pilot, divergence retry): start over
            self.detach()
            self._model, self._stage = model, 0
            self.checkpoints, self.stage_starts, self.snapshots = [], {}, {}
            self._hook = model.register_forward_pre_hook(lambda *_: self._check_stage())
            self._check_stage()
        elif step % self.every == 0:
            self.probe(est, step, self._stage, "periodic")

    def _check_stage(self) -> None:
        """On a new newest trainable block: record the stage start, snapshot and probe."""
        s = active_stage(self._model)
        if s != self._stage and s > 0:
            self._stage = s
            self.stage_starts[s] = self._step
            self.snapshots[s] = block_vectors(self._model)
            self.probe(self._est, self._step, s, "stage_start")

    def detach(self) -> None:
        """Remove the forward hook from the net (call when training is over)."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def probe(self, est, step: int, stage: int, event: str) -> None:
        """Append the (block x level) R^2 matrix of the learner's current net."""
        from learners.probes import probe_matrix

        t0 = time.perf_counter()
        H = est.hidden_representations(self.X_probe)
        k = self.n_train
        M = probe_matrix([h[:k] for h in H], self.F_train, [h[k:] for h in H], self.F_test,
                         self.lambdas)
        self.checkpoints.append({"step": int(step), "stage": int(stage), "event": event,
                                 "r2": [[_num(v) for v in row] for row in M]})
        self.probe_seconds += time.perf_counter() - t0


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def parameter_checks(tracker: ProbeTracker, model, m: int | None) -> dict[str, Any]:
    """``drift`` per lower block and ``frozen_max_change`` (module doc); None where undefined."""
    end = block_vectors(model)
    L = len(end)
    drift = []
    for b in range(1, L):
        snap = tracker.snapshots.get(b + 1)
        if snap is None:
            drift.append(None)
            continue
        ref = float(np.linalg.norm(snap[b - 1]))
        drift.append(float(np.linalg.norm(end[b - 1] - snap[b - 1]) / max(ref, 1e-300)))
    frozen = None
    if m is not None:
        changes = [float(np.max(np.abs(end[b - 1] - tracker.snapshots[b + m + 1][b - 1])))
                   for b in range(1, L + 1) if b + m + 1 in tracker.snapshots]
        frozen = max(changes) if changes else None
    return {"drift": drift, "frozen_max_change": frozen}


def run_fit(cfg_data: dict[str, Any], fit_data: dict[str, Any], seed: int,
            threads: int = 1) -> dict[str, Any]:
    """Fit one variant on one seed's data with probes; a row for the store (never raises)."""
    cfg, fit = DiagConfig.model_validate(cfg_data), FitSpec(**fit_data)
    row = {"key": fit_key(fit.variant, seed), "variant": fit.variant, "learner": fit.learner,
           "backward_depth": fit.backward_depth, "m_values": list(fit.m_values),
           "seed": int(seed), "started_at": now_iso()}
    try:
        import torch  # noqa: F401 - so that limit_threads also limits torch

        from harness.run import limit_threads

        with limit_threads(threads):
            row.update(_fit_and_probe(cfg, fit, seed))
        row["status"] = Status.OK
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a failed fit is a result
        row.update(status=Status.FAILED, reason=one_line(exc))
    row["finished_at"] = now_iso()
    return row


def _fit_and_probe(cfg: DiagConfig, fit: FitSpec, seed: int) -> dict[str, Any]:
    from harness.run import jsonable
    from learners.probes import LAMBDAS

    task = build_task(cfg, seed)
    X, y = draw_training_set(task, seed, cfg.n)
    X_test, y_test = draw_test_set(task, seed, cfg.n_test)
    X_probe = task._draw_inputs(cfg.n_probe, stream_rng(seed, Stream.PROBE))
    F = task.hierarchy(X_probe)
    k = int(round(cfg.probe.train_fraction * cfg.n_probe))
    tracker = ProbeTracker(X_probe, [f[:k] for f in F], [f[k:] for f in F], k,
                           cfg.probe.every, tuple(cfg.probe.lambdas or LAMBDAS))
    est = make_variant_learner(cfg, fit, task, seed, callback=tracker)
    t0 = time.perf_counter()
    try:
        est.fit(X, y)
    finally:
        tracker.detach()
    wall = time.perf_counter() - t0
    info = jsonable(getattr(est, "fit_info_", {}))
    tracker.probe(est, int(info.get("steps_run", 0)), n_levels(task), "final")
    checks = parameter_checks(tracker, est.model_, fit.backward_depth)
    return {
        "test_error": normalised_mse(est.predict(X_test), y_test),
        "train_error": normalised_mse(est.predict(X), y),
        "fit_wall_s": wall, "probe_wall_s": tracker.probe_seconds,
        "stage_starts": {str(s): v for s, v in tracker.stage_starts.items()},
        "checkpoints": tracker.checkpoints, "fit_info": info,
        "level_shares": [float(s) for s in task.level_shares()], **checks,
    }


def fit_key(variant: str, seed: int) -> str:
    return f"{variant}/seed={int(seed)}"
