"""Train the label-share variants of the note model's Table 1 (Luo et al., ISMIR 2019).

One run per (prior, share) in {mixture, isotropic} x {0, 0.25, 0.5, 0.75, 1}, named
``table-<prior>-<share>-e<epochs>``, through ``timbrel.train.gmvae --no-export``, a few
at a time (``--jobs``; one thread each: the trainer is no faster with two on this CPU).
A run that already finished is skipped, an interrupted one resumes from its checkpoint.
Then ``python -m timbrel.eval.gmvae_card --table-only`` scores them.

    PYTHONPATH=scripts python3 -m timbrel.train.gmvae_table --data $TIMBREL_DATA/full \
        --runs $TIMBREL_DATA/runs --epochs 40 --jobs 2
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

PRIORS = ("mixture", "isotropic")
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def run_names(epochs: int, priors=PRIORS, shares=SHARES) -> List[tuple]:
    return [(prior, share, f"table-{prior}-{share}-e{epochs}") for prior in priors for share in shares]


def command(data: str, runs: str, prior: str, share: float, name: str, epochs: int) -> List[str]:
    return [sys.executable, "-m", "timbrel.train.gmvae", "--out", str(Path(runs) / "unused"),
            "--name", name, "--prior", prior, "--labels", str(share), "--epochs", str(epochs),
            "--data", data, "--runs", runs, "--threads", "1", "--no-export"]


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/full")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--priors", default=",".join(PRIORS))
    p.add_argument("--shares", default=",".join(str(s) for s in SHARES))
    args = p.parse_args(argv)
    todo = run_names(args.epochs, args.priors.split(","), [float(s) for s in args.shares.split(",")])
    running, failed = [], []
    while todo or running:
        while todo and len(running) < args.jobs:
            prior, share, name = todo.pop(0)
            Path(args.runs).mkdir(parents=True, exist_ok=True)
            log = open(Path(args.runs) / f"{name}.log", "a")
            print(f"start {name}", flush=True)
            running.append((name, log, subprocess.Popen(
                command(args.data, args.runs, prior, share, name, args.epochs), stdout=log, stderr=log)))
        time.sleep(5)
        for item in list(running):
            name, log, proc = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                print(f"done {name}: exit {proc.returncode}", flush=True)
                if proc.returncode:
                    failed.append(name)
    if failed:
        print(f"error: failed runs: {', '.join(failed)} (their logs are in {args.runs})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
