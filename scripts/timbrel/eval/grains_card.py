"""Reconstruction scores of the neural granular models (VAE_fi and VAE_fi+pp) beside the
thesis's Table 1 (DIGEST.md §3d: 8 Drums, RMSE 2.65 / 2.79, LSD 0.52 / 0.52).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.grains_card --data $TIMBREL_DATA/full \\
        --runs $TIMBREL_DATA/runs [--names small-fi small-pp] [--out FILE.json] [--max-items N]
        [--samples 32] [--temperatures 1 0.5] [--exports DIR ...]
        [--write-card models/grains/MODEL_CARD.md] [--from-json]
        [--beatbox-json FILE.json | --model-file M.tmbl [--binary build/core/timbrel]]

Every one-shot of the test split and of the held-out split is encoded and resynthesised
through the posterior means, with the contract's fixed noise (xorshift32 from NOISE_SEED;
``NeuralGranular.render``), along two paths: ``grains`` (z_i = mu_i -> grain decoder, the
bottom VAE, what the thesis's Table 1 compares) and ``sequence`` (e = mu_e -> z^_i -> grain
decoder, the whole hierarchy; only once the joint stage has run).

Class agreement, judged by the reference drum classifier (``timbrel.eval.drum_classifier``,
trained once on the training split and cached under ``<runs>/drum-classifier/``):
- ``prior``: per class and temperature T, ``--samples`` one-shots drawn from the sequence
  prior as the engine's hits are (docs/grains.md: e = T N(0, I) from a seeded generator,
  the class one-hot, the sequence decoder, the grain decoder, the contract's synthesis with
  the xorshift32 noise from NOISE_SEED); the share the classifier labels as the
  conditioning class (issue 15's bar: ``BAR`` = 0.85 on average over the classes);
- ``classified`` (per split and path): the resyntheses above labelled by the classifier,
  as a share of the true classes and as agreement with its label of the original.
Beat-box (``timbrel.eval.beatbox``, through the native ``timbrel grains beatbox``): onset
timing, detection and class agreement on vocal percussion synthesised with espeak-ng and sox
(not recorded), from ``--beatbox-json`` or computed when ``--model-file`` and the tool exist.
``--write-card`` writes the model card from the JSON (``--from-json``: from an existing
JSON, no evaluation).

Conventions (the thesis does not define its normalisation; these are ours, fixed here):
STFTs as the training loss: windows n in (128, 256, 512, 1024, 2048), periodic Hann, hop
n / 4, centred with reflect padding, unnormalised (torch.stft), of the reference x and the
reconstruction x^ cut to 34816 samples, computed in float64.
- RMSE = mean over the 5 sizes of sqrt(mean over frames and bins of (|X| - |X^|)^2),
  per one-shot, then the mean over one-shots.
- LSD = mean over the 5 sizes of mean over frames of
  sqrt(mean over bins of (l(X) - l(X^))^2), l = ln(5e-3 + |X|^2) (natural log of the
  power, the thesis's l(x) and eps), per one-shot, then the mean over one-shots. This is
  the averaged form (the thesis's granular and VQ values are 0.4-1.6) and not the summed
  one of its earlier chapters (100-800).
- LSD dB (the project's convention, ``timbrel.eval.metrics.lsd``): power spectra of
  1024-sample frames at hop 256, 10 log10 with eps 1e-10, for comparison with the other
  cards.
The thesis's drums were 16 kHz one-shots of 1 s (grains of 1024, STFTs of 32-1024) from
another corpus: its numbers are a scale to read ours against, not a target to match. The
card also scores two baselines per split (``baselines``): silence, and the noise filtered
by each grain's own spectrum. Most of a decayed one-shot lies under the eps floor, so
silence already scores a low LSD (0.56 on our test split), which is the floor to beat.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from timbrel.train.loss import SIZES
from timbrel.train.grains import STAGES

LOG_EPS = 5e-3
BAR = 0.85                      # issue 15: mean share of prior samples labelled as their class
TEMPERATURES = (1.0, 0.5)
PRIOR_SAMPLES = 32
PRIOR_SEED = 20261218
SPLITS = ("train", "test", "heldout")
THESIS = {"dataset": "8 Drums (16 kHz, 1 s one-shots, grains of 1024)",
          "VAE_fi": {"rmse": 2.65, "lsd": 0.52}, "VAE_fi+pp": {"rmse": 2.79, "lsd": 0.52},
          "source": "thesis L10130-10144 (ICMC 2020 Table 1), DIGEST.md §3d"}


def spectrogram_metrics(output: torch.Tensor, target: torch.Tensor, sizes: Sequence[int] = SIZES,
                        eps: float = LOG_EPS) -> Dict[str, torch.Tensor]:
    """output, target [B, L] -> {"rmse": [B], "lsd": [B]} (float64; module doc)."""
    from timbrel.train.grains import power_spectrogram
    out = output.detach().double()
    ref = target.detach().double()
    rmse = out.new_zeros(out.shape[0])
    lsd = out.new_zeros(out.shape[0])
    for n in sizes:
        P = power_spectrogram(ref, n)
        Q = power_spectrogram(out, n)
        rmse = rmse + (P.sqrt() - Q.sqrt()).pow(2).mean((1, 2)).sqrt()
        lsd = lsd + (torch.log(eps + P) - torch.log(eps + Q)).pow(2).mean(2).sqrt().mean(1)
    return {"rmse": rmse / len(sizes), "lsd": lsd / len(sizes)}


def lsd_db(output: np.ndarray, target: np.ndarray) -> float:
    from timbrel.eval.metrics import lsd, power_spectra
    return float(lsd(power_spectra(target), power_spectra(output)))


@torch.no_grad()
def score(model, data, paths: Sequence[str] = ("grains", "sequence"), batch: int = 8,
          classifier=None, reference: Optional[np.ndarray] = None) -> Dict:
    """Mean RMSE, LSD and LSD dB of ``data`` (a DrumSet) per path; per-class LSD too. With a
    ``classifier`` (a DrumClassifier), ``classified``: its labels of the resyntheses against
    the true classes and against ``reference`` (its labels of the originals)."""
    from timbrel.models.grains import parity_noise, samples_for
    model.eval()
    dev = next(model.parameters()).device
    L = samples_for(model.grains)
    per: Dict[str, Dict[str, List[float]]] = {p: {"rmse": [], "lsd": [], "lsd_db": []} for p in paths}
    labelled: Dict[str, List[np.ndarray]] = {p: [] for p in paths}
    for s in range(0, len(data), batch):
        idx = np.arange(s, min(len(data), s + batch))
        x = torch.from_numpy(data.batch(idx)).to(dev)[:, :L]
        labels = data.conditioning(idx, model).to(dev)
        noise = parity_noise(len(idx), model.grains).to(dev)
        r = model(x, labels, joint="sequence" in paths, sample=False, noise=noise.float())
        for p in paths:
            y = r[f"out_{p}"]
            m = spectrogram_metrics(y, x)
            per[p]["rmse"] += m["rmse"].tolist()
            per[p]["lsd"] += m["lsd"].tolist()
            xn, yn = x.double().cpu().numpy(), y.double().cpu().numpy()
            per[p]["lsd_db"] += [lsd_db(yn[i], xn[i]) for i in range(len(idx))]
            if classifier is not None:
                labelled[p].append(classifier.predict(y.float().cpu()))
    out: Dict = {"items": int(len(data))}
    for p in paths:
        v = {k: np.asarray(a) for k, a in per[p].items()}
        out[p] = {k: round(float(a.mean()), 4) if len(a) else None for k, a in v.items()}
        out[p]["lsd_by_class"] = {c: round(float(v["lsd"][data.label == i].mean()), 4)
                                  for i, c in enumerate(data.classes) if (data.label == i).any()}
        if classifier is not None and len(data):
            out[p]["classified"] = classified(np.concatenate(labelled[p]), data.label,
                                              data.classes, reference)
    return out


def classified(pred: np.ndarray, true: np.ndarray, classes: Sequence[str],
               reference: Optional[np.ndarray] = None) -> Dict:
    """The classifier's labels of resyntheses: share of the true class (overall and per
    class) and, given its labels of the originals, the share that agrees with them."""
    from timbrel.eval.drum_classifier import score as class_score
    s = class_score(pred, true, classes)
    out = {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
           "recall": {c: v["recall"] for c, v in s["per_class"].items() if v["n"]}}
    if reference is not None:
        out["agreement"] = round(float((pred == reference).mean()), 4)
        ok = reference == true  # the originals the classifier gets right
        out["accuracy_where_original_right"] = round(float((pred[ok] == true[ok]).mean()), 4) \
            if ok.any() else None
    return out


@torch.no_grad()
def prior_samples(model, label: int, n: int, temperature: float, seed: int = PRIOR_SEED) -> torch.Tensor:
    """``n`` one-shots of class ``label`` from the sequence prior, as the engine's hits:
    e = T N(0, I) (numpy, seeded per class and temperature), the class one-hot, z^ from the
    sequence decoder, the grain decoder (float32) and the contract's synthesis in float64
    with the xorshift32 noise from NOISE_SEED (every hit starts the stream at its note-on).
    float32 [n, 34816]."""
    from timbrel.models.grains import parity_noise
    model.eval()
    dev = next(model.parameters()).device
    rng = np.random.default_rng([seed, int(label), int(round(temperature * 1000))])
    e = torch.from_numpy(temperature * rng.standard_normal((n, model.embedding))).float().to(dev)
    cond = model.one_hot(torch.full((n,), int(label), dtype=torch.long), n, dev)
    z = model.decode_sequence(e, cond)
    noise = parity_noise(n, z.shape[1]).to(dev)
    return model.decode_grains(z, cond, noise).float().cpu()


@torch.no_grad()
def prior_agreement(model, classifier, classes: Sequence[str], n: int = PRIOR_SAMPLES,
                    temperatures: Sequence[float] = TEMPERATURES, seed: int = PRIOR_SEED) -> Dict:
    """Per temperature: the share of each class's prior samples that the classifier labels
    as that class, their mean over classes (against ``BAR``), the confusion matrix, and the
    median peak of the samples in dBFS (a silent sample would be a failure too)."""
    from timbrel.eval.drum_classifier import score as class_score
    out: Dict = {}
    for T in temperatures:
        preds, peaks = [], {}
        for c in range(len(classes)):
            y = prior_samples(model, c, n, T, seed)
            preds.append(classifier.predict(y))
            peak = y.abs().amax(-1).clamp_min(1e-9)
            peaks[classes[c]] = round(float(20 * torch.log10(peak).median()), 1)
        pred = np.concatenate(preds)
        true = np.repeat(np.arange(len(classes)), n)
        s = class_score(pred, true, classes)
        share = {c: v["recall"] for c, v in s["per_class"].items()}
        mean = float(np.mean(list(share.values())))
        out[f"{T:g}"] = {"temperature": T, "samples_per_class": n, "share": share,
                         "mean": round(mean, 4), "passed": mean >= BAR, "peak_dbfs_median": peaks,
                         "confusion": s["confusion"], "confusions": s["confusions"]}
    return out


@torch.no_grad()
def baselines(data, batch: int = 16) -> Dict:
    """The scale of the scores on ``data``: ``silence`` (an all-zero output) and ``oracle``
    (the synthesis with each grain's own magnitude spectrum as its filter,
    H_i = |rfft(a_i x_i)| / sqrt(2048 / 3), the same noise: what a perfect grain decoder
    could reach through noise filtering)."""
    from timbrel.models.grains import GRAINS, analysis_grains, parity_noise, synthesize
    sums = {"silence": {"rmse": 0.0, "lsd": 0.0}, "oracle": {"rmse": 0.0, "lsd": 0.0}}
    for s in range(0, len(data), batch):
        idx = np.arange(s, min(len(data), s + batch))
        x = torch.from_numpy(data.batch(idx)).double()
        H = torch.fft.rfft(analysis_grains(x, GRAINS), dim=-1).abs() / math.sqrt(2048 / 3)
        outs = {"silence": torch.zeros_like(x), "oracle": synthesize(H, parity_noise(len(idx), GRAINS))}
        for k, y in outs.items():
            m = spectrogram_metrics(y, x)
            sums[k]["rmse"] += float(m["rmse"].sum())
            sums[k]["lsd"] += float(m["lsd"].sum())
    return {k: {m: round(v / max(1, len(data)), 4) for m, v in d.items()} for k, d in sums.items()}


def corpus_summary(data_root, corpus: str = "drums") -> Dict:
    """The drum corpus's (or, ``corpus`` "notes", the pitched one-shots') sources (title,
    package, role; the notes' manifest has none) and counts per split, class and source."""
    from timbrel.train.grains_data import read_manifest
    m = read_manifest(data_root, corpus)
    counts: Dict[str, Dict[str, int]] = {}
    by_source: Dict[str, Dict[str, int]] = {}
    for r in m["rows"]:
        c = counts.setdefault(r["split"], {k: 0 for k in m["classes"]})
        c[r["class"]] += 1
        b = by_source.setdefault(r["split"], {})
        b[r.get("source", "?")] = b.get(r.get("source", "?"), 0) + 1
    sources = {k: {f: v.get(f) for f in ("title", "package", "version", "role")}
               for k, v in (m.get("sources") or {}).items()}
    return {"classes": list(m["classes"]), "sources": sources, "counts": counts, "by_source": by_source}


def find_export(name: str, dirs: Sequence) -> Optional[Dict]:
    for d in dirs or ():
        f = Path(d) / f"{name}.tmbl"
        if f.exists():
            from timbrel.data.corpus import shown
            return {"path": shown(f), "size_bytes": f.stat().st_size}
    return None


def card(data_root, runs, names: Sequence[str], max_items: int = 0, device: str = "cpu",
         samples: int = PRIOR_SAMPLES, temperatures: Sequence[float] = TEMPERATURES,
         exports: Sequence = (), classifier_epochs: Optional[int] = None, log=print) -> Dict:
    from timbrel.data.corpus import shown
    from timbrel.eval import drum_classifier as dc
    from timbrel.models.grains import costs
    from timbrel.train.grains import load_checkpoint
    from timbrel.train.grains_data import load_split
    splits = {s: load_split(data_root, s, max_items=max_items) for s in ("test", "heldout")}
    clf = dc.load_or_train(data_root, runs, classifier_epochs or dc.EPOCHS, log=log)
    judged, reference = dc.evaluate_sets(clf, splits)
    judged = {"info": clf.info, **judged}
    result: Dict = {"data": shown(Path(data_root)), "conventions": __doc__.split("Conventions")[1].split(
        "The thesis's drums")[0].strip(), "thesis": THESIS, "corpus": corpus_summary(data_root),
        "max_items": max_items, "classifier": judged, "bar": BAR,
        "baselines": {s: baselines(d) for s, d in splits.items() if len(d)}, "models": {}}
    for name in names:
        ckpt = Path(runs) / f"grains-{name}" / "checkpoint.pt"
        if not ckpt.exists():
            print(f"skipped {name}: no {ckpt}", file=sys.stderr)
            continue
        model, ck = load_checkpoint(ckpt, device)
        if list(ck["classes"]) != list(clf.classes):
            raise ValueError(f"{ckpt}: classes {ck['classes']} are not the corpus's {clf.classes}")
        st = ck["state"]
        cfg = ck.get("config", {})
        joint = st["joint_epochs"] > 0
        paths = ("grains", "sequence") if joint else ("grains",)
        variant = "VAE_fi+pp" if model.post_processing else "VAE_fi"
        t0 = time.time()
        entry = {"run": f"grains-{name}",
                 "epochs": {s: st.get(f"{s}_epochs", 0) for s in STAGES},
                 "planned_epochs": {s: cfg.get(f"{s}_epochs", 0) for s in STAGES},
                 "steps": st["step"], "training_seconds": round(st["seconds"], 1),
                 "model": model.config(), "costs": costs(model), "tmbl": find_export(name, exports),
                 "splits": {s: score(model, d, paths, classifier=clf, reference=reference.get(s))
                            for s, d in splits.items() if len(d)}}
        # the hits: the sequence prior, which only the joint stage trains
        entry["prior"] = (prior_agreement(model, clf, clf.classes, samples, temperatures)
                          if joint else None)
        entry["seconds"] = round(time.time() - t0, 1)
        result["models"].setdefault(variant, {})[name] = entry
    return result


def table(result: Dict) -> str:
    lines = ["| model | run | split | path | RMSE | LSD | LSD dB |", "|---|---|---|---|---:|---:|---:|"]
    for split, b in result.get("baselines", {}).items():
        for k in ("silence", "oracle"):
            lines.append(f"| {k} | - | {split} | - | {b[k]['rmse']:.3f} | {b[k]['lsd']:.3f} | |")
    for variant in ("VAE_fi", "VAE_fi+pp"):
        t = THESIS[variant]
        lines.append(f"| {variant} | thesis (8 Drums) | test | grains | {t['rmse']} | {t['lsd']} | |")
        for name, e in result["models"].get(variant, {}).items():
            for split, sc in e["splits"].items():
                for path in ("grains", "sequence"):
                    if path in sc:
                        m = sc[path]
                        lines.append(f"| {variant} | {name} | {split} ({sc['items']}) | {path} | "
                                     f"{m['rmse']:.3f} | {m['lsd']:.3f} | {m['lsd_db']:.2f} |")
    return "\n".join(lines)


# --- the model card -----------------------------------------------------------------------------

# docs/grains.md "Sizes and the real-time arithmetic": measured rates of the core in WebAssembly
WASM_MACS_PER_US = 1e4          # dense layers, ~10 G multiply-adds/s (docs/measurements.md)
FFT_PAIR_US = 77.6              # 2048-point real FFT forward + inverse
NOISE_US = 5.0
FILTER_MACS = 7000              # filter, window, overlap-add, division by W
RESAMPLER_RTF = 0.029           # 22050 -> 48000, measured
HOP_US = 512 / 22050 * 1e6      # 23.2 ms
VOICES = 8
RTF_BUDGET = 0.10


def _f(v, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def _models(result: Dict):
    for variant in ("VAE_fi", "VAE_fi+pp"):
        for name, e in result["models"].get(variant, {}).items():
            yield variant, name, e


def prior_table(result: Dict) -> str:
    """Per class, the share of prior samples the classifier labels as the conditioning class,
    per model and temperature; the mean over classes against the bar."""
    cols = [(v, n, t, e["prior"][t]) for v, n, e in _models(result) if e.get("prior")
            for t in e["prior"]]
    if not cols:
        return "(no model with a trained sequence prior)"
    lines = ["| class | " + " | ".join(f"{v} T={t}" for v, n, t, _ in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for c in result["corpus"]["classes"]:
        lines.append(f"| {c} | " + " | ".join(_f(p["share"].get(c), 2) for *_, p in cols) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{p['mean']:.3f}**" for *_, p in cols) + " |")
    lines.append(f"| bar {result.get('bar', BAR)} | " + " | ".join(
        "met" if p["passed"] else "not met" for *_, p in cols) + " |")
    return "\n".join(lines)


def _unfinished(e: Dict) -> bool:
    ep, plan = e["epochs"], e.get("planned_epochs") or {}
    return plan.get("bottom") is not None and any(ep.get(s, 0) < (plan.get(s) or 0) for s in STAGES)


def _epochs_text(ep: Dict) -> str:
    """'14 + 8 + 10' (bottom + joint + tune; runs from before the tune stage: two terms)."""
    return " + ".join(str(ep[s]) for s in STAGES if s in ep)


def _realtime(e: Dict) -> Dict:
    c = e["costs"]
    macs = c["grain_decoder"] + c["sequence_decoder_step"] + c["post_filter_per_hop"] + FILTER_MACS
    per_hop = macs / WASM_MACS_PER_US + FFT_PAIR_US + NOISE_US
    rtf = VOICES * per_hop / HOP_US
    return {"macs": macs, "us_per_voice_hop": per_hop, "rtf_voices": rtf,
            "rtf_total": rtf + RESAMPLER_RTF}


def _ambiguity(result: Dict) -> List[str]:
    """Sentences on the held-out confusions of the classifier (>= 20 % of a class), with the
    test split's figure for the same pair."""
    clf = result["classifier"]
    classes = result["corpus"]["classes"]
    if "heldout" not in clf:
        return []
    held, test = clf["heldout"], clf.get("test")
    out = []
    for c in held.get("confusion_rows") or held["confusions"]:
        if c["share"] < 0.15:
            continue
        i, j = classes.index(c["true"]), classes.index(c["predicted"])
        n = held["per_class"][c["true"]]["n"]
        line = (f"**{c['true']} -> {c['predicted']}**: {c['count']} of {n} held-out {c['true']} "
                f"one-shots ({c['share']:.0%})")
        if test:
            tn = test["per_class"][c["true"]]["n"]
            line += f", on test {test['confusion'][i][j]} of {tn}"
        if c.get("rows"):
            line += "; they play " + ", ".join(f"{k} ({v})" for k, v in list(c["rows"].items())[:6])
        out.append(line)
    return out


def _conventions(text: str) -> str:
    """The docstring's conventions paragraph as Markdown: the '- ' items as a list."""
    parts = [" ".join(p.split()) for p in text.split("\n- ")]
    return "\n".join([parts[0], ""] + [f"- {p}" for p in parts[1:]])


def card_markdown(result: Dict) -> str:
    """The grains model card (models/grains/MODEL_CARD.md) from the card's JSON."""
    from timbrel.eval.drum_classifier import confusion_table, table as class_table
    corpus, clf = result["corpus"], result["classifier"]
    classes = corpus["classes"]
    models = list(_models(result))
    counts = corpus["counts"]
    total = {s: sum(v.values()) for s, v in counts.items()}
    cmd = ("PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.grains_card --data $TIMBREL_DATA/full "
           "--runs $TIMBREL_DATA/runs --exports DIR... --out models/grains/evaluation.json "
           "--write-card models/grains/MODEL_CARD.md")
    L: List[str] = [
        "# Neural granular drum model (`grains`)", "",
        f"Written by `{cmd}` (`--from-json` rewrites it from the JSON); do not edit by hand.", "",
        "## What it is", "",
        "The Grains panel's model: a hierarchical VAE over grains after Bitton, Esling & Harada, "
        "*Neural Granular Sound Synthesis* (ICMC 2020; the thesis's chapter; DIGEST.md §3d), trained "
        "here on drum one-shots. A one-shot of 1.58 s at 22050 Hz is 65 grains of 2048 samples at hop "
        "512. The bottom VAE encodes each grain to a latent z (d_z) and decodes [z, class one-hot] to "
        "1025 filter magnitudes that shape uniform noise; the filtered grains are windowed, "
        "overlap-added and (VAE_fi+pp) run through a causal 64-tap FIR. The top VAE encodes the "
        "series of grain latents to one embedding e (d_e); its decoder, a GRU that reads [e, class] "
        "at every step, gives the grain latents back. A drum hit of a class is e drawn from the prior "
        "(e = T·N(0, I)) decoded through both decoders; the grain map walks z directly. Trained as "
        "the thesis, the bottom VAE first, then both levels jointly; then ours, a `tune` stage: the "
        "joint loss at a lower rate on class-balanced batches (every class drawn alike: the corpus "
        "has 188 kicks and 11 claves, and the prior is judged per class). Contract: "
        "`docs/grains.md`; code: `scripts/timbrel/models/grains.py`, `scripts/timbrel/train/grains.py`.",
        "", "## Data and sources", "",
        f"The drum corpus (`{result['data']}/drums`, `python -m timbrel.data drums`): "
        f"{len(classes)} classes ({', '.join(classes)}), "
        + ", ".join(f"{total.get(s, 0)} {s}" for s in ("train", "test", "heldout")) + " one-shots. "
        "`test` holds unseen groups of the training sources (no kit note, sample or recording "
        "straddles the split); `heldout` holds "
        + (", ".join(v.get("title") or k for k, v in corpus["sources"].items()
                     if v.get("role") == "heldout") or "the held-out sources")
        + ", never trained on.", "",
        "| source | package | role | " + " | ".join(("train", "test", "heldout")) + " |",
        "|---|---|---|---:|---:|---:|"]
    for k, v in corpus["sources"].items():
        L.append(f"| {v.get('title') or k} | {v.get('package') or '-'} {v.get('version') or ''} | "
                 f"{v.get('role') or '-'} | " + " | ".join(
                     str(corpus["by_source"].get(s, {}).get(k, 0)) for s in SPLITS) + " |")
    L += ["", "| class | " + " | ".join(("train", "test", "heldout")) + " |", "|---|---:|---:|---:|"]
    for c in classes:
        L.append(f"| {c} | " + " | ".join(str(counts.get(s, {}).get(c, 0)) for s in SPLITS) + " |")
    if result.get("max_items"):
        L += ["", f"**Scored on a seeded subset of {result['max_items']} one-shots per split.**"]

    L += ["", "## Sizes and real-time arithmetic", "",
          "Multiply-adds per voice and grain hop (512 samples, 23.2 ms) of what the core runs "
          "(`timbrel.models.grains.costs`), and the real-time factor they imply at the rates "
          "docs/grains.md measured for the core in WebAssembly (dense layers ~10 G multiply-adds/s, "
          f"a 2048-point real FFT pair {FFT_PAIR_US} µs, noise ~{NOISE_US:g} µs, {VOICES} voices, "
          f"plus the 22050 -> 48000 resampler's {RESAMPLER_RTF}; budget {RTF_BUDGET}). An "
          "estimate from those rates, not a measurement of this engine.", "",
          "| model | run | epochs (bottom + joint + tune) | training | parameters | file | grain decoder | "
          "sequence-decoder step | FIR per hop | µs per voice and hop | RTF, 8 voices + resampler |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for variant, name, e in models:
        rt = _realtime(e)
        ep, plan = e["epochs"], e.get("planned_epochs") or {}
        done = _epochs_text(ep)
        if _unfinished(e):
            done += f" (of {_epochs_text(plan)}: unfinished)"
        size = f"{e['tmbl']['size_bytes'] / 1e6:.2f} MB" if e.get("tmbl") else "-"
        c = e["costs"]
        L.append(f"| {variant} | {name} | {done} | {e['training_seconds'] / 60:.0f} min | "
                 f"{c['parameters']:,} | {size} | {c['grain_decoder']:,} | "
                 f"{c['sequence_decoder_step']:,} | {c['post_filter_per_hop']:,} | "
                 f"{rt['us_per_voice_hop']:.0f} | {rt['rtf_total']:.3f} |")
    if models:
        m = models[0][2]["model"]
        L += ["", f"Sizes ({models[0][1]}): d_z {m['latent']}, d_e {m['embedding']}, grain "
              f"decoder hidden {m['hidden']} (residual blocks: {m['blocks']}), GRUs of "
              f"{m['seq_hidden']}, encoder channels {m['encoder_channels'][0]}/"
              f"{m['encoder_channels'][1]}; the thesis's sizes "
              "(d_z 96, d_e 256, hidden 512, GRU 512) need ~2.6 M multiply-adds per voice and hop, over "
              "the budget (docs/grains.md)."]

    L += ["", "## Reconstruction beside the thesis's Table 1", "",
          "RMSE and LSD of the test and held-out one-shots resynthesised through the posterior "
          "means (`grains`: z = μ, the bottom VAE, what Table 1 compares; `sequence`: e = μ_e -> ẑ, "
          "the whole hierarchy), the contract's fixed noise. *silence* (an all-zero output) and "
          "*oracle* (the noise filtered by each grain's own spectrum) give the scale. The thesis's "
          "8 Drums were 16 kHz "
          "one-shots of 1 s from another corpus with grains of 1024, and it does not state its "
          "normalisation: compare orders of magnitude only.", "",
          "Conventions " + _conventions(result["conventions"]), "", table(result)]

    L += ["", "## The reference drum classifier (the judge)", "",
          "`timbrel.eval.drum_classifier`: a CNN on the log-mel spectrogram of the whole one-shot "
          "(Hann 1024, hop 256, 64 mel bands, dB under the hit's loudest cell floored at -80 dB), "
          "trained on the training split only, class-balanced, with augmentation (time shift "
          "-2..+20 ms; "
          f"{clf['info']['config']['augmentation']}); {clf['info']['config']['epochs']} epochs, "
          f"{clf['info']['parameters']:,} weights, {clf['info']['seconds'] / 60:.1f} min at "
          f"{clf['info']['threads']} thread(s), seed {clf['info']['config']['seed']}."]
    acc = [f"{s}: accuracy **{clf[s]['accuracy']:.3f}**, macro F1 **{clf[s]['macro_f1']:.3f}** "
           f"({clf[s]['items']} one-shots)" for s in ("test", "heldout") if s in clf]
    L += ["", "; ".join(acc) + "."]
    if clf.get("heldout_by_source"):
        L += ["", "Held-out per source: " + "; ".join(
            f"{k} {v['accuracy']:.3f} (macro F1 {v['macro_f1']:.3f}, {v['items']})"
            for k, v in clf["heldout_by_source"].items()) + "."]
    L += ["", class_table({s: clf[s] for s in ("test", "heldout") if s in clf}, classes)]
    amb = _ambiguity(result)
    if amb:
        L += ["", "Held-out confusions of at least 15 % of a class, with what the manifest says "
              "those one-shots play (source, kit: sample names; counts are one-shots, and one "
              "recording plays at three velocities and often in several kits of a font). No class "
              "is merged; the class agreement figures below carry these errors.", ""]
        L += [f"- {a}" for a in amb]
    if "heldout" in clf:
        L += ["", "Confusion matrix, held-out (rows: true class, columns: predicted):", "",
              confusion_table(clf["heldout"]["confusion"], classes)]
    if "test" in clf:
        L += ["", "Confusion matrix, test:", "", confusion_table(clf["test"]["confusion"], classes)]

    L += ["", "## Hits from the sequence prior", "",
          "Per class and temperature T, one-shots drawn as the engine's hits are (e = T·N(0, I) from "
          "a seeded generator, the class one-hot, the sequence decoder, the grain decoder, the "
          "contract's synthesis with the xorshift32 noise from its seed), labelled by the reference "
          "classifier: the share labelled as the conditioning class. Issue 15's bar: "
          f"{result.get('bar', BAR)} on average over the classes.", "", prior_table(result)]
    for variant, name, e in models:
        for t, pr in (e.get("prior") or {}).items():
            quiet = [c for c, v in pr["peak_dbfs_median"].items() if v < -60]
            if quiet:
                L.append(f"\n{variant} T={t}: median peak below -60 dBFS for {', '.join(quiet)}.")
    samples = [pr["samples_per_class"] for _, _, e in models for pr in (e.get("prior") or {}).values()]
    if samples:
        def top(pr):
            return ", ".join(f"{c['true']} -> {c['predicted']} {c['share']:.0%}"
                             for c in pr["confusions"][:6]) or "none"
        L += ["", f"{samples[0]} samples per class and temperature. The most frequent confusions "
              "(≥ 10 % of a class) at the first temperature: " + "; ".join(
                  f"{variant}: {top(next(iter(e['prior'].values())))}"
                  for variant, _, e in models if e.get("prior")) + "."]

    L += ["", "## Resynthesis judged by the classifier", "",
          "Each test and held-out one-shot resynthesised (as in the reconstruction table) and labelled "
          "by the classifier: *true class* is the share labelled as the one-shot's class, *agrees* the "
          "share given the same label as the original, *true where the original is right* the share "
          "of the true class among the one-shots whose original the classifier gets right.", "",
          "| model | split | path | true class | macro F1 | agrees | true where the original is right |",
          "|---|---|---|---:|---:|---:|---:|"]
    for variant, name, e in models:
        for split, sc in e["splits"].items():
            for path in ("grains", "sequence"):
                k = (sc.get(path) or {}).get("classified")
                if k:
                    L.append(f"| {variant} | {split} | {path} | {_f(k['accuracy'])} | "
                             f"{_f(k['macro_f1'])} | {_f(k.get('agreement'))} | "
                             f"{_f(k.get('accuracy_where_original_right'))} |")
    held = [(v, e["splits"]["heldout"]["grains"]["classified"]) for v, _, e in models
            if "heldout" in e["splits"] and e["splits"]["heldout"]["grains"].get("classified")]
    if held and "heldout" in clf:
        L += ["", "Per class on the held-out one-shots (recall: share labelled as the class):", "",
              "| class | originals | " + " | ".join(f"{v} grains" for v, _ in held) + " |",
              "|---|---:|" + "---:|" * len(held)]
        for c in classes:
            L.append(f"| {c} | {_f(clf['heldout']['per_class'][c]['recall'], 2)} | "
                     + " | ".join(_f(k["recall"].get(c), 2) for _, k in held) + " |")

    if result.get("beatbox"):
        L += ["", beatbox_section(result["beatbox"])]

    L += ["", "## Limits", ""]
    small = sorted(((n, c) for c, n in counts.get("train", {}).items()))[:3]
    L.append(f"- A small corpus: {total.get('train', 0)} training one-shots, the fewest "
             + ", ".join(f"{c} {n}" for n, c in small)
             + "; the thesis had ~6000 one-shots of 8 classes.")
    if "heldout" in clf:
        weak = [f"{c} {v['recall']:.2f}" for c, v in clf["heldout"]["per_class"].items()
                if v["n"] and v["recall"] is not None and v["recall"] < 0.6]
        test_acc = f" (test {clf['test']['accuracy']:.3f})" if "test" in clf else ""
        L.append(f"- The judge is imperfect: held-out accuracy {clf['heldout']['accuracy']:.3f}"
                 f"{test_acc}" + (f"; held-out recall under 0.6 for {', '.join(weak)}" if weak else "")
                 + ". Shares of prior samples are labels of this classifier, not of listeners; a "
                 "class it confuses on real one-shots is confused on samples too.")
    for variant, name, e in models:
        ep, plan = e["epochs"], e.get("planned_epochs") or {}
        if _unfinished(e):
            L.append(f"- {variant} ({name}) was scored before its training finished "
                     f"({_epochs_text(ep)} of {_epochs_text(plan)} epochs).")
        for t, pr in (e.get("prior") or {}).items():
            if not pr["passed"]:
                L.append(f"- {variant} at T = {t}: prior samples labelled as their class "
                         f"{pr['mean']:.3f} on average, under the bar of {result.get('bar', BAR)}.")
    L += ["- 22050 Hz: nothing above 11 kHz, which cymbals and hats have; a hit plays one of eight "
          "fixed noise streams (its seed mod 8; the engine computes their spectra once), so two "
          "hits of one e, class and stream are identical. The prior samples above all use stream 0.",
          "- The thesis's Table 1 was measured on another corpus at 16 kHz with an unstated "
          "normalisation: the comparison is of orders of magnitude.",
          "- Reconstruction needs the grain encoder (32 M multiply-adds per one-shot): offline in the "
          "page (beat-box encodes one grain per onset)."]
    return "\n".join(L) + "\n"


def beatbox_section(b: Dict) -> str:
    """The card's "Beat-box" section from ``timbrel.eval.beatbox``'s JSON."""
    t, d, c, src = b["timing"], b["detection"], b["classes"], b["sources"]
    L = ["## Beat-box", "",
         f"`python -m timbrel.eval.beatbox --model {Path(b['model']).name} --count {b['count']} "
         f"--seed {b['seed']} --rate {b['rate']}`: {b['count']} vocal-percussion sounds "
         f"**{src['note']}** ({src.get('espeak_ng') or ''}{'; ' if src.get('espeak_ng') and src.get('sox') else ''}"
         f"{src.get('sox') or ''}) placed with random gaps of {b['gap_s'][0]:g}-{b['gap_s'][1]:g} s "
         f"in a {b['clip_seconds']:.1f} s clip at {b['rate']} Hz over a {b['noise_dbfs']:g} dBFS "
         f"noise floor, each true onset the {b['onset_definition']}; run through `timbrel grains "
         "beatbox` (the engine's onset detector; the class "
         + ("from what the sound is made of, the kit's boom/tss/ka slots (docs/grains.md, "
            "'Beat-box kit'; " + b["tuning"] + ")" if b.get("classifier") == "sound"
            else "of the nearest onset centroid") +
         "; offline, so the live engine's fixed beat-box latency is compensated and only the "
         "detector's placement is measured).", "",
         "| onset error median | p95 | mean signed | recall | precision | class agreement |",
         "|---:|---:|---:|---:|---:|---:|",
         f"| {_f(t['median_ms'], 1)} ms | {_f(t['p95_ms'], 1)} ms (target ≤ {t['target_ms']:g}) | "
         f"{_f(t['mean_signed_ms'], 1)} ms | {_f(d['recall'])} | {_f(d['precision'])} | "
         f"{_f(c['overall'])} |", "",
         f"Detection within {d['tolerance_ms']:g} ms: {d['matched']} of {d['true']} true onsets, "
         f"{d['detected']} detected.", "",
         "| intended class | model's class | matched | agreement | labelled as |",
         "|---|---|---:|---:|---|"]
    for k, v in c["per_class"].items():
        L.append(f"| {k} | {v['model_class'] or '(none)'} | {v['n']} | {_f(v['share'])} | "
                 + ", ".join(f"{p} {n}" for p, n in sorted(v["predicted"].items(), key=lambda x: -x[1]))
                 + " |")
    L += ["", "| source | intended | placed | agreement | extra onsets |", "|---|---|---:|---:|---:|"]
    for k, v in c["per_source"].items():
        L.append(f"| `{k}` | {v['intended']} | {v['placed']} | {_f(v['share'])} | {v['extra_onsets']} |")
    kinds = "; ".join(f"{k} {_f(v['share'])} ({v['n']})" for k, v in c["per_kind"].items() if v["n"])
    conf = ", ".join(f"{x['intended']} -> {x['predicted']} {x['count']}" for x in c["confusions"][:8])
    L += ["", f"Agreement by kind of source: {kinds}. Confusions: {conf or 'none'}. Extra onsets are "
          "detections matched to no placed sound, counted against the one sounding before them "
          "(espeak's [pf] is a [p] and an [f] ~70 ms later, \"ka\" a [k] and its vowel). The "
          "sources are synthetic and few; a person's beat-boxing differs."]
    if b.get("morph"):
        L += ["", morph_section(b["morph"])]
    return "\n".join(L)


def morph_section(r: Dict) -> str:
    """The beat-box morph's table from ``timbrel.eval.beatbox.evaluate_morph``."""
    morphs = list(r["morphs"].items())
    n = morphs[0][1]["n"] if morphs else 0
    L = ["### Beat-box morph", "",
         f"`python -m timbrel.eval.beatbox --model {Path(r['model']).name} --morph "
         + " ".join(m for m, _ in morphs) + " --data ... --runs ...`: each of the "
         f"{n} synthesised sources of both sets alone (its first 93 ms), through `timbrel grains "
         "beatbox --morph M`; each hit labelled by the reference drum classifier, and its attack "
         "(first 2048 samples) compared with the voice's: spectral centroid (octaves) and "
         "third-octave band shape (dB, RMS over 22 bands of each band's share of the power).", "",
         "| morph (page: \"Follow your voice\" = 1 − morph) | heard as the class played | "
         "attack centroid from the voice's | band shape from the voice's | peak |",
         "|---:|---:|---:|---:|---:|"]
    for m, v in morphs:
        L.append(f"| {m} | {_f(v['agreement'])} | {_f(v['octaves_from_voice_median'], 2)} oct | "
                 f"{_f(v.get('shape_db_from_voice_median'), 1)} dB | "
                 f"{_f(v['peak_dbfs_median'], 1)} dBFS |")
    first, last = morphs[0][1], morphs[-1][1]
    closer = (last.get("shape_db_from_voice_median") or 0) < (first.get("shape_db_from_voice_median") or 0) - 1.0
    L += ["", "Reading it: lowering the morph changes the hits and, far enough, which drum they "
          "sound like (" + f"{_f(first['agreement'])} at {morphs[0][0]}, {_f(last['agreement'])} at "
          f"{morphs[-1][0]}" + "); " + ("it brings their attacks closer to the voice's." if closer else
          "it does not bring their attacks closer to the voice's spectrum (band shape "
          f"{_f(first.get('shape_db_from_voice_median'), 1)} -> {_f(last.get('shape_db_from_voice_median'), 1)} dB): "
          "the grain VAE learned drums only, and a voice's grain lies outside what it decodes, "
          "so moving toward the voice's latent varies the hit with the sound made but does not "
          "make it sound like the voice. The page calls it \"Follow your voice\" and says so; "
          "a grain VAE trained on vocal sounds too would be needed for more.")]
    return "\n".join(L)


MORPHS = (1.0, 0.75, 0.5, 0.25, 0.0)   # the beat-box morphs the card reports


def _beatbox(args) -> Optional[Dict]:
    """The beat-box figures: --beatbox-json, else computed with --model-file and the tool."""
    if args.beatbox_json:
        result = json.loads(Path(args.beatbox_json).read_text())
        if "morph" not in result and getattr(args, "model_file", None):
            from timbrel.eval import beatbox
            result["morph"] = beatbox.evaluate_morph(args.model_file, args.data, args.runs, MORPHS,
                                                     Path(args.binary) if args.binary else None)
        return result
    if not args.model_file:
        return None
    from timbrel.eval import beatbox
    from timbrel.eval.core import cli_path
    binary = Path(args.binary) if args.binary else None
    try:
        binary = binary or cli_path()
    except FileNotFoundError as e:
        print(f"beat-box skipped: {e}", file=sys.stderr)
        return None
    if not (Path(args.model_file).is_file() and binary.is_file()):
        print(f"beat-box skipped: {args.model_file} or {binary} is missing", file=sys.stderr)
        return None
    result = beatbox.evaluate(args.model_file, binary)
    result["morph"] = beatbox.evaluate_morph(args.model_file, args.data, args.runs, MORPHS, binary)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/full")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--names", nargs="+", default=["small-fi", "small-pp"],
                   help="run names (<runs>/grains-<name>/checkpoint.pt)")
    p.add_argument("--out", help="JSON file (default <runs>/grains-card.json)")
    p.add_argument("--max-items", type=int, default=0, help="seeded subset per split")
    p.add_argument("--samples", type=int, default=PRIOR_SAMPLES,
                   help="prior samples per class and temperature")
    p.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    p.add_argument("--exports", nargs="*", default=[],
                   help="folders holding the exported <name>.tmbl (their sizes go in the card)")
    p.add_argument("--classifier-epochs", type=int, help="epochs of the reference classifier if it "
                   "must be trained (default timbrel.eval.drum_classifier.EPOCHS)")
    p.add_argument("--write-card", help="write the model card (Markdown) there")
    p.add_argument("--from-json", action="store_true", help="the card from --out's JSON, no evaluation")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--beatbox-json", help="timbrel.eval.beatbox's JSON for the card's Beat-box section")
    p.add_argument("--model-file", help="an exported grains .tmbl: the beat-box is evaluated on it "
                   "(when the native tool exists) unless --beatbox-json is given")
    p.add_argument("--binary", help="the native tool (default: TIMBREL_CLI or build/core/timbrel)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else Path(args.runs) / "grains-card.json"
    if args.from_json:
        if not args.write_card:
            print("error: --from-json needs --write-card", file=sys.stderr)
            return 2
        result = json.loads(out.read_text())
    else:
        try:
            result = card(args.data, args.runs, args.names, args.max_items, args.device, args.samples,
                          args.temperatures, args.exports, args.classifier_epochs)
        except (ValueError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    bb = _beatbox(args)
    if bb is not None:
        result["beatbox"] = bb
    if not args.from_json or bb is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(prior_table(result))
    if not args.from_json:
        print(f"wrote {out}")
    if args.write_card:
        Path(args.write_card).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write_card).write_text(card_markdown(result))
        print(f"wrote {args.write_card}")
    return 0 if result["models"] else 1


if __name__ == "__main__":
    sys.exit(main())
