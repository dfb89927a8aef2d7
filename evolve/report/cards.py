"""The pieces of the report page: escaped text, numbers, embedded images and the best models'
cards."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents import Objective, TrialRecord
    from evolve.report.figures import Figures

__all__ = ["card", "card_figures", "esc", "img", "num", "per_layer", "raw"]


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 4) -> str:
    """A number as the page shows it (blank for none or a non-finite float)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def img(png: bytes, alt: str, ident: str = "") -> str:
    """An ``<img>`` with the PNG inline as a ``data:`` URI."""
    data = base64.b64encode(png).decode("ascii")
    attr = f' id="{esc(ident)}"' if ident else ""
    return f'<img{attr} alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def per_layer(arch: Mapping[str, Any], key: str) -> str:
    """The ``layer.N.<key>`` values of an architecture in layer order, comma-separated."""
    items = [(k, v) for k, v in arch.items() if k.endswith(f".{key}") and k.count(".") == 2]
    items.sort(key=lambda kv: int(kv[0].split(".")[1]) if kv[0].split(".")[1].isdigit() else 0)
    return ",".join(str(v) for _, v in items)


def _total(value: Any) -> Any:
    """A per-layer dict of numbers as its sum (other values as they are)."""
    if isinstance(value, dict):
        nums = [v for v in value.values() if isinstance(v, int | float)]
        return sum(nums) if nums else None
    return value


def raw(value: Any) -> str:
    """A table cell's sort key (blank for none)."""
    return "" if value is None else str(value)


def card(trial: TrialRecord, why: Sequence[str], objectives: Sequence[Objective]) -> list[str]:
    """The HTML lines of a best model's card (closed by the caller, after its figures)."""
    attrs = trial.attrs
    arch = trial.arch
    rows: list[tuple[str, str]] = []
    for o, v in zip(objectives, (trial.values or {}).values(), strict=False):
        rows.append((o.name, num(v)))
    extra = [
        ("test accuracy", attrs.get("test_accuracy")),
        ("ANN twin energy (µJ)", attrs.get("ann_energy_uj")),
        ("energy / ANN twin", attrs.get("energy_ratio_to_ann")),
        ("SOPs per inference", attrs.get("sops")),
        ("MACs per inference", attrs.get("macs")),
        ("spikes per inference", _total(attrs.get("spikes_per_inference"))),
        ("parameters", attrs.get("n_params")),
        # NeuroBench's metrics, counted on the same validation forwards as the energy
        ("energy model", attrs.get("energy_model")),
        ("NeuroBench Effective_ACs per inference", attrs.get("effective_acs")),
        ("NeuroBench Effective_MACs per inference", attrs.get("effective_macs")),
        ("NeuroBench Dense synaptic ops per inference", attrs.get("dense_synops")),
        ("NeuroBench footprint (bytes)", attrs.get("footprint_bytes")),
        ("NeuroBench connection sparsity", attrs.get("connection_sparsity")),
        ("NeuroBench activation sparsity", attrs.get("activation_sparsity")),
        ("latency (ms)", attrs.get("latency_ms")),
        ("epochs run", attrs.get("epochs_run")),
    ]
    rows += [(k, num(v)) for k, v in extra if v is not None]
    if attrs.get("cv_folds"):  # k-fold selection: the accuracy objective is the folds' mean
        rows.insert(
            len(objectives),
            (
                f"accuracy over {attrs['cv_folds']} folds",
                f"{num(attrs.get('cv_accuracy_mean'))} ± {num(attrs.get('cv_accuracy_std'), 2)}",
            ),
        )
        rows.insert(
            len(objectives) + 1, ("holdout validation accuracy", num(attrs.get("val_accuracy")))
        )
    teacher = attrs.get("teacher")
    if isinstance(teacher, dict) and teacher.get("name"):
        rows.append(("distilled from", str(teacher["name"])))
    summary = [
        ("kind", arch.get("kind", "")),
        ("T", arch.get("timesteps", "")),
        ("neurons", per_layer(arch, "neuron")),
        ("attentions", per_layer(arch, "attention")),
        ("widths", per_layer(arch, "width") or per_layer(arch, "channels")),
    ]
    rows = [(k, str(v)) for k, v in summary if v not in ("", None)] + rows
    out = [
        f'<div class="card" id="card-{trial.number}" data-trial="{trial.number}">',
        '<div class="stats">',
        f'<div class="why">{esc(", ".join(why))}</div>',
        f"<h3>trial {trial.number}</h3>",
        "<table>",
        *(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows),
        "</table>",
    ]
    rates = attrs.get("firing_rates")
    if isinstance(rates, dict) and rates:
        out.append("<h4>firing rates (recorded on validation data)</h4><table>")
        for name, r in rates.items():
            width = max(0.0, min(1.0, float(r))) * 120
            out.append(
                f'<tr><td><code>{esc(name)}</code></td><td><span class="bar" '
                f'style="width:{width:.0f}px"></span> {float(r):.3f}</td></tr>'
            )
        out.append("</table>")
    out.append(
        "<details><summary>architecture</summary><table>"
        + "".join(
            f"<tr><td><code>{esc(k)}</code></td><td>{esc(v)}</td></tr>" for k, v in arch.items()
        )
        + "</table></details></div>"
    )
    return out


def card_figures(figs: Figures) -> list[str]:
    """The HTML lines of a card's figures, or why there are none."""
    out = ['<div class="figs">']
    for title, png in figs.images.items():
        out.append(f"<div><strong>{esc(title)}</strong>{img(png, title)}</div>")
    if not figs.images and figs.note:
        out.append(f'<p class="note">{esc(figs.note)}</p>')
    out.append("</div>")
    return out
