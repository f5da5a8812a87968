"""The report's plots: optimization history, parallel coordinates, importances, slices, curves.

The figures are Optuna's own (``optuna.visualization``, plotly figures), drawn into ``<div>``s
that share one inlined copy of plotly.js. Big studies are thinned (the best trials and an even
sample of the rest) so the page stays light. A plot that cannot be drawn becomes a note in its
section and leaves the others; plotly and Optuna load only when a figure is drawn.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from search.integrity._ties import fold_scores
from search.watching._report_html import missing, section, wrapped
from search.watching._report_study import ReportStudy

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)

CURVES = 100  # at most this many trials' learning curves
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
            from optuna.visualization import plot_optimization_history

            fig = plot_optimization_history(s.stored(), target_name=s.metric, error_bar=False)
            _add_pruned(fig, s.trials)
            fig.update_layout(title=f"Optimization history: {s.metric}")
            return self._figure(fig)

        return self._plot("Optimization history", draw, s.need(1))

    def pareto(self) -> str:
        """Several objectives: the trials in objective space, the Pareto front marked."""
        s = self.study

        def draw() -> str:
            from optuna.visualization import plot_pareto_front

            names = list(s.directions)
            fig = plot_pareto_front(s.stored(), target_names=names)
            return (
                "<p>Each point is a complete trial; the Pareto front (configs no other beats on "
                "every objective) is highlighted. Infeasible trials (a constraint broken) are "
                "drawn apart.</p>" + self._figure(fig, height=520)
            )

        return self._plot("Pareto front", draw, s.need(1))

    def histories(self) -> str:
        """Several objectives: each objective's history."""
        s = self.study

        def draw() -> str:
            from optuna.visualization import plot_optimization_history

            parts = []
            for i, name in enumerate(s.directions):
                fig = plot_optimization_history(
                    s.stored(), target=_objective(i), target_name=name
                )
                fig.update_layout(title=f"Optimization history: {name}")
                parts.append(self._figure(fig, height=360))
            return "".join(parts)

        return self._plot("Optimization history", draw, s.need(1))

    def parallel(self) -> str:
        s = self.study

        def draw() -> str:
            from optuna.visualization import plot_parallel_coordinate

            shown, note = s.complete, ""
            if len(shown) > LINES:  # Optuna draws a trace per trial: keep the page light
                ranked = s.ranked()
                shown, rest = ranked[: LINES // 2], ranked[LINES // 2 :]
                step = len(rest) / (LINES - len(shown))
                shown = shown + [rest[int(i * step)] for i in range(LINES - len(shown))]
                note = (
                    f"<p>{len(shown)} of {len(s.complete)} complete trials drawn: the "
                    f"{LINES // 2} best and an even sample of the others.</p>"
                )
            study = s.stored() if shown is s.complete else _in_memory(shown, s.direction)
            fig = plot_parallel_coordinate(study, target_name=s.metric)
            _name_dimensions(fig, [t.values[0] for t in shown], sorted({p for t in shown for p in t.params}))
            return note + _note_conditional(s) + self._figure(fig, height=540, bottom=90)

        return self._plot("Parallel coordinates", draw, s.need(2) or s.need_params())

    def importances(self) -> str:
        s = self.study

        def draw() -> str:
            from optuna.visualization import plot_param_importances

            parts: list[str] = []
            skipped: list[str] = []
            for label, trials in s.branch_groups():
                params = _common_params(trials)
                if not params:
                    continue
                if len(trials) < _enough(params):
                    skipped.append(f"{label} ({len(trials)} of {_enough(params)} trials)")
                    continue
                fig = plot_param_importances(
                    _in_memory(trials, s.direction),
                    evaluator=_evaluator(),
                    params=params,
                    target_name=s.metric,
                )
                fig.update_layout(title=f"Hyperparameter importances: {label}")
                parts.append(self._figure(fig, height=max(260, 60 + 32 * len(params))))
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
            from optuna.visualization import plot_slice

            paths, thin = _sliceable(s)
            parts = []
            if thin:
                parts.append(
                    "<p>Not drawn, for want of two different values among the complete trials: "
                    f"{html.escape(', '.join(thin))}.</p>"
                )
            for i in range(0, len(paths), SLICE_GROUP):
                fig = plot_slice(
                    s.stored(), params=paths[i : i + SLICE_GROUP], target_name=s.metric
                )
                fig.update_layout(width=None, autosize=True)  # Optuna fixes 300 px a parameter
                fig.for_each_xaxis(lambda axis: axis.update(title_text=wrapped(axis.title.text)))
                parts.append(self._figure(fig, height=400))
            return "".join(parts)

        return self._plot("Slices", draw, s.need(1) or s.need_params())

    def curves(self) -> str:
        s = self.study
        stepped = [t for t in s.trials if t.intermediate_values and t.state.is_finished()]

        def draw() -> str:
            from optuna.visualization import plot_intermediate_values

            shown = stepped
            note = (
                "<p>Intermediate values the objective reported (folds or epochs); pruned "
                "trials stop early.</p>"
            )
            if len(stepped) > CURVES:
                shown = _best_and_latest(stepped, s.ranked())
                note += (
                    f"<p>{len(shown)} of {len(stepped)} trials shown: the best complete "
                    "ones and the latest.</p>"
                )
            fig = plot_intermediate_values(_in_memory(shown, s.direction))
            step = "fold" if any(fold_scores(t) for t in shown) else "epoch"
            fig.update_layout(
                showlegend=len(shown) <= 20,
                title=f"Learning curves: {s.metric} after each {step}",
                xaxis_title=f"{step} (from 0)",
                yaxis_title=f"{s.metric} ({'running mean over folds' if step == 'fold' else 'validation'})",
            )
            fig.update_xaxes(dtick=1)
            return note + self._figure(fig)

        need = None if stepped else "no trial reported intermediate values (folds or steps)"
        return self._plot("Learning curves", draw, need)

    def _figure(self, fig: Any, height: int = 440, bottom: int = 50) -> str:
        import plotly.io as pio

        fig.update_layout(height=height, template="plotly_white", margin={"t": 60, "b": bottom})
        fig.update_xaxes(exponentformat="e")  # 1e-08, never plotly's SI "10n"
        fig.update_yaxes(exponentformat="e")
        div = f"figure-{len(self.figures)}"
        self.figures.append(div)
        return str(
            pio.to_html(
                fig,
                full_html=False,
                include_plotlyjs=False,
                div_id=div,
                config={"displaylogo": False, "responsive": True},
                default_height=f"{height}px",
            )
        )

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
        values = {repr(t.params[path]) for t in study.complete if path in t.params}
        (found if len(values) >= 2 else thin).append(path)
    return found, thin


def _add_pruned(fig: Any, trials: Sequence[FrozenTrial]) -> None:
    """Pruned trials on the history, at their last reported value, marked apart."""
    import plotly.graph_objects as go

    pruned = [t for t in trials if t.state.name == "PRUNED" and t.intermediate_values]
    if not pruned:
        return
    last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
    fig.add_trace(
        go.Scatter(
            x=[t.number for t in pruned],
            y=last,
            mode="markers",
            marker={"symbol": "x", "color": "#9aa3b2", "size": 7},
            name="pruned (last reported value)",
        )
    )


def _name_dimensions(fig: Any, values: list[float], params: list[str]) -> None:
    """Full, wrapped names on the axes of parallel coordinates (Optuna cuts names longer than
    19 characters, so two axes could read ``model.forest.max_...``), and tick labels on the
    objective's axis with the digits that tell them apart."""
    left, labels = list(params), []
    for label in fig.layout.xaxis.ticktext:
        full = next((p for p in left if p == label or (label.endswith("...") and
                     p.startswith(label[:-3]) and len(p) >= 20)), None)
        if full is not None:
            left.remove(full)
        labels.append(wrapped(full or label))
    fig.update_xaxes(ticktext=labels)
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    digits = 3 if high <= low else max(3, 2 - math.floor(math.log10(high - low)))
    for note in fig.layout.annotations:
        if note.x == 0 and high > low:  # the objective's axis, drawn from 0 (low) to 1 (high)
            note.text = f"{low + float(note.y) * (high - low):.{digits}f}"


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
        common &= set(t.params)
    return sorted(p for p in common if len({repr(t.params[p]) for t in trials}) > 1)


def _objective(index: int) -> Callable[[FrozenTrial], float]:
    """The value of objective ``index`` of a trial, for Optuna's plots of one target."""

    def value(trial: FrozenTrial) -> float:
        return float(trial.values[index])

    return value


def _in_memory(trials: Sequence[FrozenTrial], direction: str) -> optuna.Study:
    import optuna

    study = optuna.create_study(direction=direction)  # type: ignore[arg-type]
    study.add_trials(trials)
    return study


def _evaluator() -> Any:
    from optuna.importance import PedAnovaImportanceEvaluator

    return PedAnovaImportanceEvaluator()
