"""The export formats: each writes one file and checks it reproduces the model it came from.

Every exporter is a function ``(model, x, path, info) -> check`` that writes ``path``, reloads
it, compares it with ``model`` on the samples ``x`` (the test split) and returns what it checked
(the model card's ``formats.<name>``), or raises :class:`~evolve.errors.UserError` when the file
does not reproduce the model. A format that cannot express every model also declares a cheap
``supports(model, input_shape) -> reason | None``, asked before any file is written.
:data:`EXPORTERS` names them; a new format is one function and one line there.

Warnings the user cannot act on (the tracer's, torch.onnx's, its "torchvision is not installed"
log lines) are silenced around the trace and export calls only, by category or logger.

* TorchScript (traced, fixed T): bit-identical logits on CPU after reloading.
* ONNX (dynamic batch, run by onnxruntime): logits within :data:`ONNX_TOLERANCE`, identical
  predictions.
* NIR (MLPs of IF/LIF with hard reset), textbook or written the way one reader reads it
  (``nir_for``: snnTorch, Norse): read back through :func:`snn_models.nir.from_nir`, identical
  spikes at every layer.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import platform
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from evolve.errors import UserError, one_line

if TYPE_CHECKING:
    import torch

__all__ = [
    "EXPORTERS",
    "FORMATS",
    "ONNX_TOLERANCE",
    "Exporter",
    "data_section",
    "export_nir",
    "export_onnx",
    "export_torchscript",
    "import_extra",
    "nir_reader_refusal",
    "nir_supports",
    "parse_formats",
    "versions",
    "wants_all",
]

#: Largest |logit difference| an ONNX export may show against the model.
ONNX_TOLERANCE = 1e-5

#: How an encoder behaves in eval mode (what every exported file computes), for the card.
ENCODER_EVAL_NOTES = {
    "rate": "deterministic dither (snn_models.encoders): the same spikes on every call, "
    "in the model and in every exported file; training drew Bernoulli spikes",
    "signed_rate": "deterministic dither per polarity (snn_models.encoders); training drew "
    "Bernoulli spikes",
}

#: ``(model, x, path, info) -> check``: write ``path``, reload it, compare it with ``model`` on
#: ``x``; ``info`` holds the data set's ``dataset``, ``input_scale`` and ``n_classes`` (and
#: ``nir_for``, the reader a NIR file is written for).
ExportFn = Callable[["torch.nn.Module", "torch.Tensor", Path, Mapping[str, Any]], dict[str, Any]]
#: ``(model, input_shape) -> reason``: why the format cannot express ``model`` (one line naming
#: the part and the fix), or ``None`` when it can. Cheap; writes nothing.
SupportsFn = Callable[["torch.nn.Module", tuple[int, ...]], "str | None"]

#: torch.onnx logs this once per process for torchvision's operators; an export needs none.
_TORCHVISION_LOGGER = "torch.onnx._internal.exporter._registration"


class _NoTorchvisionNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("torchvision is not installed")


@contextlib.contextmanager
def _quiet_onnx_export() -> Iterator[None]:
    """Around torch.onnx.export: drop its UserWarning/FutureWarning notes on torch internals and
    its "torchvision is not installed" log lines, and nothing else; restored afterwards."""
    logger, notice = logging.getLogger(_TORCHVISION_LOGGER), _NoTorchvisionNotice()
    logger.addFilter(notice)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # buffers it sees as constants
            warnings.simplefilter("ignore", FutureWarning)  # torch's own deprecated calls
            yield
    finally:
        logger.removeFilter(notice)


def import_extra(module: str, what: str) -> Any:
    """``module`` from the ``export`` extra, or a UserError saying how to install it.

    Args:
        module: The module to import (``onnxruntime``, ``nir``).
        what: What needs it, for the message (``"ONNX export"``).

    Raises:
        UserError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"{what} needs the `export` extra: .venv/bin/pip install -c constraints.txt "
            "-e '.[export]'"
        ) from None


def data_section(
    dataset: str,
    input_shape: Sequence[int],
    n_classes: int,
    input_scale: float,
    *,
    model: torch.nn.Module | None = None,
    **more: Any,
) -> dict[str, Any]:
    """The model card's ``data``: what the model reads and how raw values are prepared.

    Args:
        dataset: The data set's name.
        input_shape: One sample's shape, as the model takes it.
        n_classes: How many classes the model scores.
        input_scale: Raw values are multiplied by this before the model sees them.
        model: The model: its fitted front (``preprocessing.in_model``, see
            :mod:`snn_models.preprocess`) and its encoder (``encoder``: what it does to signed
            inputs) are recorded too.
        **more: Further entries (``source``, ``seed``), placed after ``dataset``.
    """
    preprocessing: dict[str, Any] = {
        "input_scale": float(input_scale),
        "rule": "model input = raw values × input_scale, reshaped to input_shape",
    }
    out: dict[str, Any] = {
        "dataset": dataset,
        **more,
        "input_shape": [int(d) for d in input_shape],
        "n_classes": int(n_classes),
        "preprocessing": preprocessing,
    }
    if model is not None:
        from snn_models.encoders import ENCODERS
        from snn_models.preprocess import preprocess_of

        front = preprocess_of(model)
        preprocessing["in_model"] = (
            front.describe() if front is not None else {"method": "none", "rule": "identity"}
        )
        name = str(getattr(getattr(model, "spec", None), "encoder", "direct"))
        cls = ENCODERS.get(name)
        out["encoder"] = {
            "name": name,
            "signed_inputs": cls.signed_inputs if cls is not None else None,
            "in_exported_graph": True,
            "eval_mode": ENCODER_EVAL_NOTES.get(name, "deterministic"),
        }
    return out


def versions() -> dict[str, str]:
    """The versions of Python and of the installed libraries an export depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("torch", "numpy", "onnx", "onnxruntime", "nir", "snn-evolve"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


# ----------------------------------------------------------------------------- the formats
def export_torchscript(
    model: torch.nn.Module, x: torch.Tensor, path: Path, info: Mapping[str, Any]
) -> dict[str, Any]:
    """Trace, save, reload; the reloaded logits must equal the model's bit for bit.

    Raises:
        UserError: The reloaded module's logits differ.
    """
    import torch

    from snn_models.functional import step_loop

    with torch.no_grad(), step_loop(model), warnings.catch_warnings():
        # shapes fixed at trace time are the point (fixed T); the reload check below is the proof
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, x[:2], check_trace=False)
    with torch.no_grad():
        traced.save(str(path))
        reloaded = torch.jit.load(str(path), map_location="cpu")  # the file just written
        ref, got = model(x), reloaded(x)
    if not torch.equal(ref, got):
        diff = float((ref - got).abs().max())
        raise UserError(f"TorchScript export differs from the model by {diff:.3g}; not kept")
    return {"file": path.name, "bit_identical_logits": True, "checked_samples": len(x)}


def export_onnx(
    model: torch.nn.Module, x: torch.Tensor, path: Path, info: Mapping[str, Any]
) -> dict[str, Any]:
    """torch.onnx (dynamo) with a dynamic batch; onnxruntime must agree within 1e-5.

    Raises:
        UserError: onnxruntime's logits differ by more than :data:`ONNX_TOLERANCE` or its
            predictions differ; the ``export`` extra is missing.
    """
    import torch

    ort = import_extra("onnxruntime", "ONNX export")
    from snn_models.functional import step_loop

    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad(), _quiet_onnx_export(), step_loop(model):
        program = torch.onnx.export(
            model,
            (x[:2],),
            dynamo=True,
            dynamic_shapes={"x": {0: batch}},
            verbose=False,
        )
        if program is None:  # only when given a file name, which we do not
            raise UserError("torch.onnx.export returned no program; ONNX export failed")
        program.save(str(path))
    with torch.no_grad():
        ref = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    diff = float(abs(got - ref).max())
    same = bool((got.argmax(1) == ref.argmax(1)).all())
    if diff > ONNX_TOLERANCE or not same:
        raise UserError(
            f"ONNX export differs from the model (max |Δ| {diff:.3g}, predictions "
            f"{'identical' if same else 'differ'}); not kept"
        )
    return {
        "file": path.name,
        "max_abs_logit_diff": diff,
        "identical_predictions": same,
        "tolerance": ONNX_TOLERANCE,
        "checked_samples": len(x),
        "runtime": "onnxruntime CPUExecutionProvider",
    }


def export_nir(
    model: torch.nn.Module, x: torch.Tensor, path: Path, info: Mapping[str, Any]
) -> dict[str, Any]:
    """NIR graph; read back through our importer, every layer's spikes must be identical.

    ``info["nir_for"]`` names the reader the file is written for (``nir``, the textbook file, by
    default; ``snntorch``, ``norse``: see :mod:`snn_models.nir.peers`); every flavour is read
    back through our importer, which reads all of them.

    Raises:
        UserError: The graph read back spikes differently; the ``export`` extra is missing.
        snn_models.nir.NIRUnsupported: NIR, or the chosen reader, cannot express the model (a
            ``ConfigError``).
    """
    import torch

    nir = import_extra("nir", "NIR export")
    from snn_models.neurons.base import BaseNeuron
    from snn_models.nir import PEERS, from_nir, to_nir

    peer = str(info.get("nir_for", "nir"))
    metadata = {k: v for k, v in info.items() if k != "nir_for"}
    graph = to_nir(model, tuple(x.shape[1:]), metadata=metadata, peer=peer)
    nir.write(str(path), graph)
    back = from_nir(nir.read(str(path)))

    def spikes(m: torch.nn.Module) -> list[torch.Tensor]:
        seen: list[torch.Tensor] = []
        hooks = [
            n.register_forward_hook(lambda _m, _a, out: seen.append(out.detach().clone()))
            for n in m.modules()
            if isinstance(n, BaseNeuron)
        ]
        try:
            with torch.no_grad():
                m(x)
        finally:
            for h in hooks:
                h.remove()
        return seen

    ours, theirs = spikes(model), spikes(back)
    same = len(ours) == len(theirs) and all(
        torch.equal(a, b) for a, b in zip(ours, theirs, strict=False)
    )
    if not same:
        raise UserError("the NIR graph read back does not spike as the model does; not kept")
    return {
        "file": path.name,
        "identical_spikes_every_layer": True,
        "layers_checked": len(ours),
        "checked_samples": len(x),
        "nodes": list(graph.nodes),
        "dt": graph.metadata["dt"],
        "readout": graph.metadata["readout_rule"],
        "written_for": peer,
        "reader": PEERS[peer].reader,
    }


def nir_supports(model: torch.nn.Module, input_shape: tuple[int, ...]) -> str | None:
    """Why NIR cannot express ``model`` (the first part it refuses, and the fix), or None.

    Builds the graph in memory (no file): the same check :func:`export_nir` starts with.

    Raises:
        UserError: The ``export`` extra is missing.
    """
    return nir_reader_refusal(model, input_shape, "nir")


def nir_reader_refusal(
    model: torch.nn.Module, input_shape: tuple[int, ...], nir_for: str
) -> str | None:
    """Why no NIR file of ``model`` can be written for the reader ``nir_for`` (one line naming
    the part and the fix), or None when one can. Builds the graph in memory (no file).

    Args:
        model: The network.
        input_shape: One sample's shape.
        nir_for: ``nir`` (the textbook file), ``snntorch``, ``norse`` or ``rockpool`` (see
            :mod:`snn_models.nir.peers`).

    Raises:
        UserError: An unknown reader; the ``export`` extra is missing.
    """
    import_extra("nir", "NIR export")
    from snn_models.nir import PEERS, NIRUnsupported, to_nir

    if nir_for not in PEERS:
        raise UserError(f"nir_for: unknown reader {nir_for!r}; choose {', '.join(PEERS)}")
    try:
        to_nir(model, tuple(input_shape), peer=nir_for)
    except NIRUnsupported as e:
        return one_line(e)
    return None


# ----------------------------------------------------------------------------- the registry
class Exporter(NamedTuple):
    """One format: its exporter, the file it writes, what its check shows in a few words (a
    :meth:`str.format` template over the check's keys), and, for a format that cannot express
    every model, ``supports``: the reason it cannot express a given one (see :data:`SupportsFn`).
    """

    fn: ExportFn
    file: str
    summary: str = "checked"
    supports: SupportsFn | None = None

    def describe(self, check: Mapping[str, Any]) -> str:
        """The few words on what ``check`` (this exporter's return value) found."""
        return self.summary.format_map(check)

    def refusal(self, model: torch.nn.Module, input_shape: Sequence[int]) -> str | None:
        """Why this format cannot express ``model`` (one line), or None when it can."""
        if self.supports is None:
            return None
        return self.supports(model, tuple(int(d) for d in input_shape))


#: Format name → exporter, in the order ``all`` exports them.
EXPORTERS: dict[str, Exporter] = {
    "torchscript": Exporter(export_torchscript, "model.torchscript", "bit-identical logits"),
    "onnx": Exporter(export_onnx, "model.onnx", "max |Δ| {max_abs_logit_diff:.2g}"),
    "nir": Exporter(
        export_nir, "model.nir", "identical spikes at every layer, read back", nir_supports
    ),
}
#: The format names, in export order.
FORMATS: tuple[str, ...] = tuple(EXPORTERS)


def _names(formats: str | Iterable[str]) -> list[str]:
    parts = formats.split(",") if isinstance(formats, str) else [str(f) for f in formats]
    return [n.strip() for n in parts if n.strip()]


def parse_formats(formats: str | Iterable[str]) -> list[str]:
    """The format names ``formats`` asks for.

    Args:
        formats: ``"all"``, a comma-separated string (``"onnx,nir"``) or a sequence of names.

    Returns:
        Known format names, in the order given.

    Raises:
        UserError: ``formats: unknown ...`` for a name not in :data:`EXPORTERS`, or none given.
    """
    names = _names(formats)
    if names == ["all"]:
        return list(FORMATS)
    bad = [n for n in names if n not in EXPORTERS]
    if bad or not names:
        raise UserError(
            f"formats: unknown {', '.join(bad) or 'empty'}; choose {', '.join(FORMATS)} or all"
        )
    return names


def wants_all(formats: str | Iterable[str]) -> bool:
    """Whether ``formats`` is ``"all"``: every format that can express the model, the others
    skipped (a format named explicitly that cannot is an error)."""
    return _names(formats) == ["all"]
