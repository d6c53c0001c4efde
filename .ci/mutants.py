#!/usr/bin/env python3
"""Mutation testing of the mathematical core: a stratified random sample of cargo-mutants
mutants, each run against the tests that check its stratum (docs/mutation.md).

    python3 .ci/mutants.py sample [--seed 20261203] [--size 420]   # writes docs/mutation-sample.tsv
    python3 .ci/mutants.py run [--stratum S] [--only-missed] [--dir DIR]
    python3 .ci/mutants.py sync [--dir DIR]                         # records a running run's progress
    python3 .ci/mutants.py table                                    # prints the docs/mutation.md table
    python3 .ci/mutants.py relabel --from COMMIT                    # renames moved mutants to HEAD

`sample` lists every mutant of the core with `cargo mutants --list --json`, groups them by
stratum (the file's module) and draws from each stratum a share of `--size` proportional to its
size (at least 20), with Python's `random.Random(seed)` over the names sorted: the same seed and
the same source give the same sample. `run` runs the sampled mutants of each stratum with
`cargo mutants --in-place --baseline skip --re <the names>` in DIR (a scratch checkout of the
same commit; the baseline, an unmutated `cargo test` of the same test binaries, is checked
first by `run`), scoped to the stratum's test binaries (TESTS below), and records each
mutant's outcome (caught / missed / unviable / timeout) in the sample file. `table` prints the
per-stratum counts and the 95 % Clopper–Pearson lower bound of the caught fraction.
"""

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "docs" / "mutation-sample.tsv"

# Stratum -> (cargo-mutants file globs, the modules of tests/suite that check it). `registry` runs every
# theorem check end to end (64 instances each) and `planted` runs them on planted defects.
STRATA = {
    "tweedie+level": (["src/tweedie.rs", "src/level.rs"], ["registry", "planted", "r01_tweedie"]),
    "schedule": (["src/schedule/**"], ["registry", "planted", "schedules"]),
    "model": (
        ["src/model/**"],
        ["registry", "planted", "r02_r03_gaussian_molrg", "r04_empirical", "r14_jacobian",
         "fast_paths"],
    ),
    "reduction": (
        ["src/reduction/**", "src/study/phase_transition.rs", "src/study/small_ball.rs"],
        ["registry", "planted", "r05_loss", "r06_recovery", "r07_failure", "r08_clustering",
         "r09_phase", "fast_paths"],
    ),
    "flow": (
        ["src/flow/**"],
        ["registry", "planted", "r10_probability_flow", "r11_pfd", "r12_bias_variance",
         "subspace_sampler", "flow_interop"],
    ),
    "metric": (
        ["src/metric/**", "src/study/memorization.rs"],
        ["registry", "planted", "r11_pfd", "r12_bias_variance", "r13_scores",
         "r15_hidden_gaussian", "r16_perturbation", "subspace_sampler"],
    ),
}


def stratum_of(path):
    for name, (globs, _) in STRATA.items():
        for g in globs:
            if g.endswith("/**") and path.startswith(g[:-2]):
                return name
            if path == g:
                return name
    return None


def list_mutants(cwd):
    globs = [a for g in STRATA.values() for f in g[0] for a in ("-f", f)]
    out = subprocess.run(
        ["cargo", "mutants", "--list", "--json", *globs],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def read_sample():
    rows = []
    for line in SAMPLE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        stratum, outcome, name, *was = line.split("\t")
        rows.append({"stratum": stratum, "outcome": outcome, "name": name,
                     "listed_as": was[0] if was else ""})
    return rows


def write_sample(rows, header):
    lines = [f"# {h}" for h in header] + ["# stratum\toutcome\tname\tlisted as (if moved)"]
    lines += [f"{r['stratum']}\t{r['outcome']}\t{r['name']}"
              + (f"\t{r['listed_as']}" if r.get("listed_as") else "") for r in rows]
    SAMPLE.write_text("\n".join(lines) + "\n")


def split_name(name):
    """`file:line:col: description` -> (file, line, col, description)."""
    m = re.match(r"^(.*?):(\d+):(\d+): (.*)$", name)
    return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)


def cmd_relabel(args):
    """cargo-mutants names a mutant by file, line and column, so any edit above it renames
    it. Maps every sampled name that no longer exists to the mutant of the current tree with
    the same file, description (operator, replacement, function) and column whose source line
    has the same text as the line the name pointed to at `--from`; the nearest such line if
    several. The old name is kept in the fourth column."""
    rows = read_sample()
    header = [l[2:] for l in SAMPLE.read_text().splitlines() if l.startswith("# ")][:-1]
    current = list_mutants(ROOT)
    names = {m["name"] for m in current}
    by_key = {}
    for m in current:
        f, line, col, desc = split_name(m["name"])
        by_key.setdefault((f, col, desc), []).append(line)
    old_src, new_src = {}, {}

    def text(cache, rev, f, line):
        if f not in cache:
            out = subprocess.run(["git", "show", f"{rev}:{f}"], cwd=ROOT, capture_output=True,
                                 text=True)
            cache[f] = out.stdout.splitlines() if out.returncode == 0 else []
        lines = cache[f]
        return lines[line - 1].strip() if 0 < line <= len(lines) else None

    renamed = dict(m.split("=", 1) for m in args.moved)
    moved = lost = 0
    for r in rows:
        if r["name"] in names:
            continue
        original = r["listed_as"] or r["name"]
        f, line, col, desc = split_name(r["name"])
        want = text(old_src, args.source, f, line)
        # A file that was moved or split: the same mutant in any of its new files.
        targets = renamed.get(f, f).split(",")
        cands = [(g, l) for g in targets for l in by_key.get((g, col, desc), [])
                 if text(new_src, "HEAD", g, l) == want]
        if not cands:
            lost += 1
            print(f"no counterpart: {r['name']}", file=sys.stderr)
            continue
        g, best = min(cands, key=lambda c: (c[0] != f, abs(c[1] - line)))
        r["name"] = f"{g}:{best}:{col}: {desc}"
        r["listed_as"] = original
        moved += 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    header = [h for h in header if not h.startswith("names relabelled")]
    moves = "".join(f" --moved {m}" for m in args.moved)
    header.append(f"names relabelled to commit {commit} by `python3 .ci/mutants.py relabel "
                  f"--from {args.source}{moves}` (cargo-mutants names by line; the listed name is kept)")
    write_sample(rows, header)
    print(f"{moved} renamed, {lost} without a counterpart")


def cmd_sample(args):
    mutants = list_mutants(ROOT)
    by = {}
    for m in mutants:
        s = stratum_of(m["file"])
        if s is not None:
            by.setdefault(s, []).append(m["name"])
    total = sum(len(v) for v in by.values())
    rng = random.Random(args.seed)
    rows = []
    for s in STRATA:
        names = sorted(by.get(s, []))
        k = min(len(names), max(20, round(args.size * len(names) / total)))
        for name in rng.sample(names, k):
            rows.append({"stratum": s, "outcome": "pending", "name": name})
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    header = [
        f"Stratified sample of core mutants: seed {args.seed}, {len(rows)} drawn of {total}",
        f"listed at commit {commit} by `python3 .ci/mutants.py sample --seed {args.seed} --size {args.size}`",
        "per stratum: " + ", ".join(f"{s} {len(by.get(s, []))}" for s in STRATA),
    ]
    write_sample(rows, header)
    print(f"{len(rows)} mutants sampled of {total} -> {SAMPLE}")


def parse_outcomes(outdir):
    """Outcome per mutant name from cargo-mutants' outcomes.json."""
    data = json.loads((outdir / "mutants.out" / "outcomes.json").read_text())
    res = {}
    for o in data["outcomes"]:
        scen = o["scenario"]
        if not isinstance(scen, dict) or "Mutant" not in scen:
            continue
        name = scen["Mutant"]["name"]
        summary = o["summary"]
        res[name] = {
            "CaughtMutant": "caught",
            "MissedMutant": "missed",
            "Unviable": "unviable",
            "Timeout": "timeout",
        }.get(summary, summary.lower())
    return res


def cmd_sync(args):
    """Records the outcomes a run has reached so far (its caught/missed/unviable/timeout
    lists), for progress while `run` is still going."""
    rows = read_sample()
    header = [l[2:] for l in SAMPLE.read_text().splitlines() if l.startswith("# ")][:-1]
    base = Path(args.dir).resolve() / ".mutants-out"
    for s in STRATA:
        out = base / s / "mutants.out"
        for kind in ("caught", "missed", "unviable", "timeout"):
            f = out / f"{kind}.txt"
            if not f.exists():
                continue
            names = set(f.read_text().splitlines())
            for r in rows:
                if r["stratum"] == s and r["name"] in names:
                    r["outcome"] = kind
    write_sample(rows, header)
    print(table(rows))


def cmd_run(args):
    rows = read_sample()
    header = [l[2:] for l in SAMPLE.read_text().splitlines() if l.startswith("# ")][:-1]
    work = Path(args.dir).resolve()
    strata = [args.stratum] if args.stratum else list(STRATA)
    for s in strata:
        todo = [
            r
            for r in rows
            if r["stratum"] == s
            and (r["outcome"] == "missed" if args.only_missed else r["outcome"] == "pending")
        ]
        if args.only:
            todo = [r for r in todo if re.search(args.only, r["name"])]
        if not todo:
            continue
        if args.limit:
            # A seeded order, so that a run stopped after `limit` per stratum has run a random
            # subset of the stratum's sample (run the strata round-robin to keep them balanced).
            random.Random(args.order_seed).shuffle(todo)
            todo = todo[: args.limit]
        regex = "^(" + "|".join(re.escape(r["name"]) for r in todo) + ")$"
        # Passed to every cargo invocation (--cargo-arg), so that the build phase builds only
        # these test binaries: after `--` they would reach `cargo test` only, and the build
        # phase (`cargo test --no-run`) would build all 29 test binaries for every mutant.
        # One test binary (tests/suite), filtered to the stratum's modules; `--cargo-arg` reaches
        # the build phase too, so that it builds only that binary, and the filters after
        # `-- --` reach the test harness.
        tests = ["--cargo-arg=--test=suite"]
        filters = ["--", "--", *(f"{t}::" for t in STRATA[s][1])]
        outdir = work / ".mutants-out" / s
        outdir.mkdir(parents=True, exist_ok=True)
        # cargo-mutants selects "delete field" mutants whatever --re says: the file globs
        # keep them to the stratum, and only sampled names are recorded.
        # Only the files of the mutants to run: fewer unrequested "delete field" mutants.
        paths = sorted({r["name"].split(":", 1)[0] for r in todo})
        files = [a for g in paths for a in ("-f", g)]
        cmd = [
            "cargo", "mutants", "--in-place", "--baseline", "skip", "--no-times",
            "--timeout", "300", "--re", regex, *files, "-o", str(outdir), *tests, *filters,
        ]
        print(f"== {s}: {len(todo)} mutants; tests {STRATA[s][1]}", flush=True)
        # A mutant's cost is its build: opt-level 1 without debug info builds several times
        # faster than the test profile (opt-level 3 + debug info); the tests are the same.
        env = dict(os.environ, CARGO_PROFILE_TEST_OPT_LEVEL="1", CARGO_PROFILE_TEST_DEBUG="0")
        subprocess.run(cmd, cwd=work, env=env)
        # In-place runs leave proptest regression files of the mutants' failures behind.
        for f in (work / "tests").glob("*.proptest-regressions"):
            if subprocess.run(["git", "ls-files", "--error-unmatch", str(f)], cwd=work,
                              capture_output=True).returncode != 0:
                f.unlink()
        got = parse_outcomes(outdir)
        for r in rows:
            if r["name"] in got and r["stratum"] == s:
                r["outcome"] = got[r["name"]]
        write_sample(rows, header)
        print(table(rows), flush=True)


def cp_lower(k, n, conf=0.95):
    """One-sided-in-use lower end of the two-sided Clopper–Pearson interval: the p with
    P(Bin(n, p) >= k) = (1 - conf)/2, by bisection on the exact binomial tail."""
    if k == 0:
        return 0.0
    a = (1 - conf) / 2

    def upper_tail(p):
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))

    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if upper_tail(mid) < a:
            lo = mid
        else:
            hi = mid
    return lo


def table(rows):
    kinds = ["caught", "missed", "unviable", "timeout", "pending"]
    lines = ["| stratum | drawn | caught | missed | unviable | timed out | pending | caught / viable | 95 % CP lower |",
             "|---|---|---|---|---|---|---|---|---|"]

    def line(label, rs):
        c = {k: sum(1 for r in rs if r["outcome"] == k) for k in kinds}
        viable = c["caught"] + c["missed"]
        frac = f"{c['caught'] / viable:.3f}" if viable else "–"
        low = f"{cp_lower(c['caught'], viable):.3f}" if viable else "–"
        return (f"| {label} | {len(rs)} | {c['caught']} | {c['missed']} | {c['unviable']} | "
                f"{c['timeout']} | {c['pending']} | {frac} | {low} |")

    for s in STRATA:
        lines.append(line(s, [r for r in rows if r["stratum"] == s]))
    lines.append(line("**Total**", rows))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("sample")
    a.add_argument("--seed", type=int, default=20261203)
    a.add_argument("--size", type=int, default=420)
    b = sub.add_parser("run")
    b.add_argument("--stratum", choices=list(STRATA))
    b.add_argument("--only-missed", action="store_true")
    b.add_argument("--dir", default=str(ROOT))
    b.add_argument("--limit", type=int, default=0, help="at most this many per stratum")
    b.add_argument("--order-seed", type=int, default=20261203)
    b.add_argument("--only", help="only the mutants whose name matches this regex")
    c = sub.add_parser("sync")
    c.add_argument("--dir", default=str(ROOT))
    sub.add_parser("table")
    d = sub.add_parser("relabel")
    d.add_argument("--from", dest="source", required=True,
                   help="the commit at which the sample's current names were valid")
    d.add_argument("--moved", action="append", default=[], metavar="OLD=NEW[,NEW…]",
                   help="a source file moved or split since --from")
    args = p.parse_args()
    if args.cmd == "sample":
        cmd_sample(args)
    elif args.cmd == "run":
        cmd_run(args)
    elif args.cmd == "sync":
        cmd_sync(args)
    elif args.cmd == "relabel":
        cmd_relabel(args)
    else:
        print(table(read_sample()))


if __name__ == "__main__":
    sys.exit(main())
