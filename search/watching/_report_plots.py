"""The report's plot sections: optimization history, parallel coordinates, importances, slices,
curves, a Population Based Training study's lineage (several objectives: the Pareto front and
each objective's history).

Each section says what it shows and why something is not shown; its figures come from
:mod:`~search.watching._report_figures` and share the page's one inlined copy of plotly.js. Big
studies are thinned (the best trials and an even sample of the rest) so the page stays light. A
plot that cannot be drawn becomes a note in its section and leaves the others.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from search.core._trials import METRICS
from search.integrity._ties import fold_scores
from search.watching import _report_figures as figures
from search.watching._report_html import missing, section
from search.watching._report_lineage import TITLE as LINEAGE_TITLE
from search.watching._report_lineage import lineage_html
from search.watching._report_study import ReportStudy, even_sample
from search.watching._trial_history import lineage

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)

CURVES = 100  # at most this many trials' learning curves
PRUNED_POINTS = 1000  # at most this many pruned trials in the history
IMPORTANCE_TRIALS = 5000  # importances of more complete trials are weighed on an even sample
LINES = 300  # at most this many trials in the parallel coordinates
SLICE_GROUP = 4  # parameters per slice figure


class Plots:
    """Draws the plot sections of one page and counts the figures it drew."""

    def __init__(self, study: ReportStudy) -> None:
        self.study = study
        self.figures: list[str] = []  # the ids of the figures' <div>s

    def history(self) -> str:
        s = self.study

        def draw() -> str:
            pruned = [t for t in s.trials if t.state.name == "PRUNED"]
            drawn = even_sample(pruned, PRUNED_POINTS)
            note = s.sample_note()
            if len(drawn) < len(pruned):
                note += f" Pruned trials: an even sample of {len(drawn):,} of {len(pruned):,}."
            fig = figures.history(s.complete, drawn, s.metric, s.direction, shown=s.shown())
            return _note(note + (" The best value so far is that of every complete trial."
                                 if note else "")) + self._figure(fig)

        return self._plot("Optimization history", draw, s.need(1))

    def pareto(self) -> str:
        """Several objectives: the trials in objective space, the Pareto front marked."""
        s = self.study

        def draw() -> str:
            front = {p["number"] for p in s.best.get("pareto") or []}
            fig = figures.pareto(_with_front(s, front), list(s.directions), front)
            return (
                "<p>Each point is a complete trial; the Pareto front (configs no other beats on "
                "every objective) is highlighted. Infeasible trials (a constraint broken) are "
                "drawn apart.</p>" + _note(_front_note(s, front)) + self._figure(fig, height=520)
            )

        return self._plot("Pareto front", draw, s.need(1))

    def histories(self) -> str:
        """Several objectives: each objective's history."""
        s = self.study
        front = {p["number"] for p in s.best.get("pareto") or []}
        return self._plot("Optimization history", lambda: _note(_front_note(s, front)) + "".join(
            self._figure(figures.objective_history(_with_front(s, front), i, name), height=360)
            for i, name in enumerate(s.directions)), s.need(1))

    def parallel(self) -> str:
        s = self.study

        def draw() -> str:
            shown, note = s.complete, ""
            if len(shown) > LINES:  # a trace per trial: keep the page light
                ranked = s.ranked()
                shown, rest = ranked[: LINES // 2], ranked[LINES // 2 :]
                step = len(rest) / (LINES - len(shown))
                shown = shown + [rest[int(i * step)] for i in range(LINES - len(shown))]
                note = (
                    f"<p>{len(shown)} of {len(s.complete)} complete trials drawn: the "
                    f"{LINES // 2} best and an even sample of the others.</p>"
                )
            params = sorted({p for t in shown for p in t.params})
            fig = figures.parallel(shown, params, s.metric, s.direction)
            return note + _note_conditional(s) + self._figure(fig, height=540, bottom=90)

        return self._plot("Parallel coordinates", draw, s.need(2) or s.need_params())

    def importances(self) -> str:
        s = self.study

        def draw() -> str:
            parts: list[str] = []
            skipped: list[str] = []
            sampled: list[str] = []
            for label, trials in s.branch_groups():
                params = _common_params(trials)
                if not params:
                    continue
                if len(trials) < _enough(params):
                    skipped.append(f"{label} ({len(trials)} of {_enough(params)} trials)")
                    continue
                weighed = even_sample(trials, IMPORTANCE_TRIALS)
                if len(weighed) < len(trials):
                    sampled.append(f"{label}: {len(weighed):,} of {len(trials):,}")
                fig = figures.importances(_importances(weighed, params, s.direction),
                                          f"Hyperparameter importances: {label}", s.metric)
                parts.append(self._figure(fig, height=max(260, 60 + 32 * len(params))))
            if sampled:
                sample_text = ("Weighed on an even sample of the complete trials ("
                                + "; ".join(sampled) + ").")
                parts.insert(0, _note(sample_text))
            note = (
                f"<p>Not assessed, for want of complete trials: {html.escape('; '.join(skipped))}"
                f". An importance needs at least {MIN_IMPORTANCE} complete trials, and twice as "
                "many as the group has parameters.</p>" if skipped else ""
            )
            if not parts:
                return missing("no group of trials has enough complete trials to weigh its "
                               "parameters") + note
            return (
                "<p>PED-ANOVA importances: how much each parameter explains where the best "
                "trials lie. Parameters of a conditional branch are assessed among the "
                "trials that took the branch.</p>" + "".join(parts) + note
            )

        return self._plot("Parameter importances", draw, s.need(2) or s.need_params())

    def slices(self) -> str:
        s = self.study

        def draw() -> str:
            paths, thin = _sliceable(s)
            parts = []
            if thin:
                parts.append(
                    "<p>Not drawn, for want of two different values among the complete trials: "
                    f"{html.escape(', '.join(thin))}.</p>"
                )
            for i in range(0, len(paths), SLICE_GROUP):
                fig = figures.slices(s.shown(), paths[i : i + SLICE_GROUP], s.metric)
                parts.append(self._figure(fig, height=400))
            return _note(s.sample_note()) + "".join(parts)

        return self._plot("Slices", draw, s.need(1) or s.need_params())

    def curves(self) -> str:
        s = self.study
        stepped = [t for t in s.trials if t.intermediate_values
                   and t.state.name in ("COMPLETE", "PRUNED")]

        def draw() -> str:
            shown = stepped
            note = (
                "<p>Intermediate values the objective reported (folds, epochs or steps); "
                "pruned trials stop early.</p>"
            )
            if len(stepped) > CURVES:
                shown = _best_and_latest(stepped, s.ranked())
                note += (
                    f"<p>{len(shown)} of {len(stepped)} trials shown: the best complete "
                    "ones and the latest.</p>"
                )
            step = "fold" if any(fold_scores(t) for t in shown) else (
                "step" if any(METRICS in t.system_attrs for t in shown) else "epoch")
            return note + self._figure(figures.curves(shown, s.metric, step))

        need = None if stepped else "no trial reported intermediate values (folds or steps)"
        return self._plot("Learning curves", draw, need)

    def lineage(self) -> str:
        """A Population Based Training study: each member's segments over the steps; no
        section for a study without PBT."""
        s = self.study
        members = lineage(s.trials)
        if not members:
            return ""

        def draw() -> str:
            return lineage_html(members, s.trials, s.metric, s.direction,
                                lambda fig, height: self._figure(fig, height=height))

        return self._plot(LINEAGE_TITLE, draw, None)

    def _figure(self, fig: figures.Figure, height: int = 440, bottom: int = 50) -> str:
        div = f"figure-{len(self.figures)}"
        self.figures.append(div)
        return figures.figure_html(fig, div, height, bottom)

    def _plot(self, title: str, draw: Callable[[], str], need: str | None) -> str:
        """A section with one or more figures, or the reason it has none."""
        if need is not None:
            return section(title, missing(need))
        try:
            return section(title, draw())
        except Exception as exc:  # noqa: BLE001 - one bad plot leaves the others
            log.exception("report: %s not drawn", title)
            return section(title, missing(f"could not be drawn: {type(exc).__name__}: {exc}"))


def plotly_js() -> str:
    """plotly.js, inlined once in the page's head, so the page opens with no network."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def _note(text: str) -> str:
    """A paragraph saying what a plot leaves out; nothing when it leaves nothing out."""
    return f"<p>{html.escape(text.strip())}</p>" if text.strip() else ""


def _with_front(study: ReportStudy, front: set[int]) -> list[FrozenTrial]:
    """Several objectives: the trials :meth:`ReportStudy.shown` draws and every trial of the
    Pareto front, in trial order."""
    shown = study.shown()
    if len(shown) == len(study.complete):
        return shown
    have = {t.number for t in shown}
    extra = [t for t in study.complete if t.number in front and t.number not in have]
    return sorted(shown + extra, key=lambda t: t.number)


def _front_note(study: ReportStudy, front: set[int]) -> str:
    """What a plot of :func:`_with_front` leaves out, as a sentence; empty when nothing."""
    if not study.sample_note():
        return ""
    drawn = len(_with_front(study, front))
    return (f"Showing {drawn:,} of {len(study.complete):,} complete trials: an even sample "
            "and every trial of the Pareto front.")


def _best_and_latest(stepped: list[FrozenTrial], ranked: list[FrozenTrial]) -> list[FrozenTrial]:
    """Of the trials with curves, the best complete half and the latest, in trial order."""
    numbers = {t.number for t in stepped}
    done = [t for t in ranked if t.number in numbers]
    keep = {t.number for t in done[: CURVES // 2]}
    keep |= {t.number for t in stepped[-(CURVES - len(keep)) :]}
    return [t for t in stepped if t.number in keep]


MIN_IMPORTANCE = 10  # complete trials a group of trials needs before its importances are drawn


def _enough(params: list[str]) -> int:
    """Complete trials an importance of ``params`` needs."""
    return max(MIN_IMPORTANCE, 2 * len(params))


def _sliceable(study: ReportStudy) -> tuple[list[str], list[str]]:
    """The parameters a slice can show (two values or more among the complete trials), and
    the others."""
    found: list[str] = []
    thin: list[str] = []
    for path in study.param_paths():
        (found if _varies(path, study.complete) else thin).append(path)
    return found, thin


def _varies(path: str, trials: Sequence[FrozenTrial]) -> bool:
    """Whether the trials that have ``path`` give it two values or more (it stops at the
    second: a study of 100,000 trials is read no further than it must)."""
    first: str | None = None
    for t in trials:
        params = t.params
        if path in params:
            value = repr(params[path])
            if first is None:
                first = value
            elif value != first:
                return True
    return False


def _note_conditional(study: ReportStudy) -> str:
    partial = study.conditional_paths()
    if not partial:
        return ""
    return (
        "<p>Conditional parameters (" + html.escape(", ".join(partial)) + ") sit on "
        "the axis's <em>missing</em> mark in trials that did not take their branch.</p>"
    )


def _common_params(trials: Sequence[FrozenTrial]) -> list[str]:
    """Parameters every trial has and that take more than one value."""
    if not trials:
        return []
    common = set(trials[0].params)
    for t in trials[1:]:
        common &= t.params.keys()
    return sorted(p for p in common if _varies(p, trials))


def _importances(trials: Sequence[FrozenTrial], params: list[str], direction: str) -> dict[str, float]:
    """PED-ANOVA importances of ``params`` among ``trials`` (Optuna's evaluator), summing to 1."""
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    return get_param_importances(_given(trials, direction), params=params,
                                 evaluator=PedAnovaImportanceEvaluator())


def _given(trials: Sequence[FrozenTrial], direction: str) -> optuna.Study:
    """A study that answers with ``trials`` themselves: Optuna's evaluators only read a study's
    trials, and copying 100,000 trials into an in-memory study took most of a big report."""
    import optuna

    storage = optuna.storages.InMemoryStorage()
    empty = optuna.create_study(storage=storage, direction=direction)  # type: ignore[arg-type]
    kept = list(trials)

    class _Given(optuna.Study):
        def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
            return [t for t in kept if states is None or t.state in states]

    return _Given(study_name=empty.study_name, storage=storage)
