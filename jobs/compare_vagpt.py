"""VA-GPT checkpoints compared on the same held-out questions: the answer loss per record task.

The model card's held-out loss is over one build's own few test questions; two builds (another
seed, another recipe, another classifier in TETG) are only comparable on one record set:

    python jobs/compare_vagpt.py --records R/instruct-minimal/test/records.jsonl \
        models/demo/vagpt OTHER/vagpt [--out report.json]

Each checkpoint's TETG scores come from its own bundled classifier (CHECKPOINT/classifier), as
in training. The loss is `va_gpt.eval.ablation.heldout_nll`'s (the ablation's held-out NLL: mean
answer NLL per token of each record, averaged per task). Prints one JSON line per checkpoint:
{task: {records, loss}} plus "all".
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch

from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.data.records import read_records
from va_gpt.eval.ablation import heldout_nll
from va_gpt.train.samples import SampleBuilder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", help="VA-GPT checkpoint folders (with a bundled classifier)")
    p.add_argument("--records", required=True, help="VA-Instruction records (a .jsonl file or folder)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (results do not depend on it)")
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    records = read_records(a.records)
    report = {}
    for url in a.checkpoints:
        if not (Path(url) / "classifier").is_dir():
            raise SystemExit(f"{url}: no bundled classifier folder ({url}/classifier) to score TETG with")
        ck = load_checkpoint(url)
        data = SampleBuilder(ck.preset, classifier_dir=f"{url}/classifier").build(records, what="records")
        nll = heldout_nll(ck.model.eval(), data.records, data.samples)
        counts = Counter(str(r.get("task")) for r in data.records)
        counts["all"] = len(data.records)
        report[url] = {t: {"records": counts[t], "loss": round(v, 4)} for t, v in nll.items()}
        print(json.dumps({"checkpoint": url, **report[url]}), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
