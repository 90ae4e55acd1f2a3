#!/usr/bin/env python3
"""ferry side by side with its peers (s5cmd, rclone, the aws cli, the AWS CRT), driven by
benches/peers.sh, which installs the tools and starts each server.

  peers.py run --server NAME --mode quick|full --work DIR --results FILE
      runs every tool on the server whose endpoint is in FERRY_TEST_NULL_SINK or
      FERRY_TEST_SEAWEEDFS, alternating tools within each round, and appends one JSON line
      per run to FILE.
  peers.py report --results FILE [--meta FILE] --out DIR [--name NAME]
      writes DIR/NAME.md (medians, ratios) and DIR/NAME.png.

Each run is timed by GNU time: wall seconds, user + sys CPU seconds of the tool's process
tree, peak RSS (of its largest process). Then `sync` is timed: the writeback the tool left to
the kernel (a tool that does not flush what it wrote exits before its files are on disk, and
the kernel's flusher threads, outside its CPU account, write them later).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20
GIB = 1 << 30

TOOLS = ["ferry", "s5cmd", "rclone", "aws cli", "crt"]
# ferry and its variants, listed first in the table and the chart.
FERRIES = ["ferry", "ferry (base)", "ferry (no checks)"]


def env_for(tool, endpoint):
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", "testkey"),
        AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", "testsecret"),
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    if tool == "rclone":
        env.update(
            RCLONE_CONFIG_LOC_TYPE="s3",
            RCLONE_CONFIG_LOC_PROVIDER="Other",
            RCLONE_CONFIG_LOC_ENDPOINT=endpoint,
            RCLONE_CONFIG_LOC_ACCESS_KEY_ID=env["AWS_ACCESS_KEY_ID"],
            RCLONE_CONFIG_LOC_SECRET_ACCESS_KEY=env["AWS_SECRET_ACCESS_KEY"],
            RCLONE_CONFIG_LOC_REGION="us-east-1",
            RCLONE_CONFIG_LOC_FORCE_PATH_STYLE="true",
        )
    return env


def commands(tool, direction, endpoint, local, bucket, key, work, defaults=False):
    """The command that copies `local` to s3://bucket/key (up) or back (down). For many
    objects, `local` is a folder and `key` a prefix. With `defaults`, no tool is tuned."""
    url = f"s3://{bucket}/{key}"
    many = os.path.isdir(local) or key.endswith("/")
    t = os.environ
    if tool == "ferry":
        src, dst = (local, url) if direction == "up" else (url, local)
        return [t["FERRY"], "cp", src, dst, "--quiet"] + (["--recursive"] if many else [])
    if tool == "ferry (base)":
        # The same commands with another build of ferry (FERRY_BASE): a tuning step measured
        # against what it changes, in one run.
        cmd = commands("ferry", direction, endpoint, local, bucket, key, work, defaults)
        return [c.replace(t["FERRY"], t["FERRY_BASE"]) for c in cmd]
    if tool == "ferry (no checks)":
        src, dst = (local, url) if direction == "up" else (url, local)
        extra = ["--checksum", "none"] if direction == "up" else ["--verify", "none"]
        return [t["FERRY"], "cp", src, dst, "--quiet", *extra]
    if tool == "s5cmd":
        base = [t["S5CMD"], "--endpoint-url", endpoint]
        if many:
            src, dst = (f"{local}/*", url) if direction == "up" else (f"{url}*", local + "/")
            return base + ["cp", src, dst]
        src, dst = (local, url) if direction == "up" else (url, local)
        return base + ["cp", "-c", "8", "-p", "16", src, dst]
    if tool == "rclone":
        # --ignore-times: always transfer (else a round finding the same size skips the copy).
        base = [t["RCLONE"], "--config", "/dev/null", "--ignore-times", "--s3-list-version", "2"]
        remote = f"loc:{bucket}/{key}"
        if many:
            src, dst = (local, remote) if direction == "up" else (remote, local)
            return base + ["copy", src, dst] + ([] if defaults else ["--transfers", "8"])
        src, dst = (local, remote) if direction == "up" else (remote, local)
        return base + [
            "copyto", src, dst,
            "--s3-chunk-size", "16M", "--s3-upload-concurrency", "8",
            "--multi-thread-streams", "8",
        ]
    if tool == "aws cli":
        base = [t["AWS"], "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors"]
        src, dst = (local, url) if direction == "up" else (url, local)
        return base + ([src, dst, "--recursive"] if many else [src, dst])
    if tool == "crt":
        return [t["PYTHON"], t["CRT_CP"], direction, endpoint, local, bucket, key]
    raise ValueError(tool)


def timed(cmd, env, cwd):
    """Runs cmd under GNU time; returns (wall s, cpu s, peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name] + cmd
        p = subprocess.run(full, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({p.returncode}): {p.stderr[-2000:]}")
        wall, user, sys_, rss = tf.read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(rss)


def remove(path):
    """Removes a file or a folder, if there."""
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def settle():
    """Writes back dirty pages and, where allowed (root), drops the page cache: otherwise the
    kernel time a run pays for reclaiming what earlier runs left swings from 0.6 to 5 s per GiB,
    whichever tool happens to run then."""
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


def make_file(path, size, pattern_tool=None):
    if pattern_tool:
        subprocess.run([pattern_tool, "--write-pattern", path, str(size)], check=True)
    else:
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(left, 16 * MIB)
                f.write(os.urandom(n))
                left -= n


def workloads(mode, server):
    """(name, size in bytes, objects)."""
    if server == "seaweedfs-wan":
        # Latency-bound: small objects over a 40 ms round trip, every tool at its defaults.
        return [("500 x 64 KiB", 64 * 1024, 500)]
    w = [("1 GiB", GIB, 1)]
    if mode == "full":
        if server == "null-sink":
            # SeaweedFS keeps every overwritten copy until a vacuum: 8 GiB rounds of five
            # tools would fill the disk, so 8 GiB runs against the null sink only.
            w.append(("8 GiB", 8 * GIB, 1))
        w.append(("100 x 8 MiB", 8 * MIB, 100))
        if server == "seaweedfs":
            w.append(("2000 x 64 KiB", 64 * 1024, 2000))
    return w


def at_defaults(workload):
    """Small-object workloads run every tool at its defaults (what a user gets)."""
    return "64 KiB" in workload


def run(args):
    endpoint = os.environ.get("FERRY_TEST_NULL_SINK") or os.environ["FERRY_TEST_SEAWEEDFS"]
    # More rounds steady the medians of short runs on a noisy machine.
    rounds = 1 if args.mode == "quick" else int(os.environ.get("FERRY_BENCH_ROUNDS", "3"))
    work = args.work
    bucket = "bench"
    subprocess.run([os.environ["FERRY"], "mb", f"s3://{bucket}"], env=env_for("ferry", endpoint),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tools = list(TOOLS)
    if args.server == "seaweedfs-wan":
        # The CRT script copies one file, not a folder.
        tools.remove("crt")
    if args.server == "null-sink":
        tools.insert(1, "ferry (no checks)")
    if os.environ.get("FERRY_BASE"):
        tools.insert(1, "ferry (base)")
    if os.environ.get("FERRY_BENCH_TOOLS"):
        # e.g. FERRY_BENCH_TOOLS="ferry,s5cmd": only these (and the base build, when given).
        chosen = os.environ["FERRY_BENCH_TOOLS"].split(",")
        tools = [t for t in tools if t in chosen or t == "ferry (base)"]
    pattern = os.environ["TESTBED"] if args.server == "null-sink" else None
    only = os.environ.get("FERRY_BENCH_WORKLOADS")  # e.g. "1 GiB,100 x 8 MiB": only these
    for name, size, count in workloads(args.mode, args.server):
        if only and name not in only.split(","):
            continue
        src = os.path.join(work, "src")
        remove(src)
        if count == 1:
            make_file(src, size, pattern)
        else:
            os.makedirs(src)
            for i in range(count):
                make_file(os.path.join(src, f"o{i:03}"), size, pattern)
        total = size * count
        # Checks off is a floor for one big object; many objects have no such variant.
        tools_here = [t for t in tools if count == 1 or t != "ferry (no checks)"]
        for direction in ["up", "down"]:
            # One unmeasured run first: the first transfer after a phase change pays for the
            # page cache the last one left (up to 3 s of kernel time here, whoever runs it).
            runs = [(0, tools_here[0], False)]
            # Each round starts one tool later, so no tool always runs right after the same one.
            runs += [(r, tools_here[(i + r) % len(tools_here)], True)
                     for r in range(rounds) for i in range(len(tools_here))]
            outs = []
            for r, tool, measured in runs:
                key = f"{name.replace(' ', '')}/{tool.replace(' ', '-')}" + ("/" if count > 1 else "")
                if direction == "down":
                    # What ferry uploaded (CRC64NVME checksums), or with FERRY_BENCH_DOWN_FROM=s5cmd
                    # what s5cmd uploaded (MD5 ETags only, as most buckets hold).
                    by = os.environ.get("FERRY_BENCH_DOWN_FROM", "ferry")
                    key = f"{name.replace(' ', '')}/{by}" + ("/" if count > 1 else "")
                # Each download of many small objects gets a folder of its own, all removed
                # once the direction is done: this ext4 has no journal, and without one it
                # skips every inode freed in the last minute when it looks for a free one, so
                # a run that follows the removal of the last run's 2,000 files paid nearly a
                # third of its CPU for that scan, and whichever tool ran second in a round lost.
                fresh = direction == "down" and count > 1 and total <= 256 * MIB
                out = os.path.join(work, f"out-{len(outs)}" if fresh else "out")
                outs.append(out)
                remove(out)
                if count > 1:
                    os.makedirs(out)
                local = src if direction == "up" else out
                cmd = commands(tool, direction, endpoint, local, bucket, key, work, at_defaults(name))
                settle()
                wall, cpu, rss = timed(cmd, env_for(tool, endpoint), work)
                began = time.monotonic()
                subprocess.run(["sync"])
                sync = time.monotonic() - began
                if not measured:
                    continue
                if direction == "down" and r == 0:
                    same = subprocess.run(["cmp", "-s", src, out]).returncode == 0 if count == 1 else \
                        subprocess.run(["diff", "-rq", src, out], stdout=subprocess.DEVNULL).returncode == 0
                    if not same:
                        raise RuntimeError(f"{tool} downloaded different bytes ({name})")
                rec = dict(server=args.server, workload=name, bytes=total, objects=count,
                           direction=direction, tool=tool, round=r, wall=wall, cpu=cpu, rss_kib=rss,
                           sync=sync)
                print(f"{args.server:9} {name:11} {direction:4} {tool:17} round {r}: "
                      f"{total / MIB / wall:8.0f} MiB/s  {count / wall:7.0f} objects/s  "
                      f"{cpu / (total / GIB):5.2f} CPU-s/GiB  {rss / 1024:6.0f} MiB RSS  sync after {sync:5.2f} s",
                      flush=True)
                with open(args.results, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            for out in outs:
                remove(out)
    remove(os.path.join(work, "out"))
    remove(os.path.join(work, "src"))


def report(args):
    runs = [json.loads(line) for line in open(args.results) if line.strip()]
    meta = json.load(open(args.meta)) if args.meta else {}
    groups = {}
    for r in runs:
        groups.setdefault((r["server"], r["workload"], r["direction"]), {}).setdefault(r["tool"], []).append(r)
    lines = []
    if meta:
        lines.append(f"Measured {meta.get('date', '')} on {meta.get('machine', '')}, mode `{meta.get('mode', '')}` "
                     f"(`{meta.get('command', '')}`); rounds alternate the tools. Versions: {meta.get('versions', '')}.")
        if meta.get("floor"):
            lines.append("")
            lines.append(f"Floor: {meta['floor']}")
        lines.append("")
    lines.append("| server | workload | direction | tool | MiB/s (median) | objects/s (median) | CPU-s/GiB (median) | peak RSS MiB (max) | sync after, s (median) | ferry's speed ratio | ferry's CPU ratio |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    chart = []
    for (server, workload, direction), by_tool in sorted(groups.items(), key=lambda kv: (kv[0][0] != "null-sink", kv[0][1], kv[0][2] != "up")):
        stats = {}
        for tool, rs in by_tool.items():
            mibs = statistics.median(r["bytes"] / MIB / r["wall"] for r in rs)
            ops = statistics.median(r.get("objects", 1) / r["wall"] for r in rs)
            cpu = statistics.median(r["cpu"] / (r["bytes"] / GIB) for r in rs)
            rss = max(r["rss_kib"] for r in rs) / 1024
            # (Runs recorded before `sync` was timed have none.)
            syncs = [r["sync"] for r in rs if "sync" in r]
            sync = f"{statistics.median(syncs):.2f}" if syncs else ""
            stats[tool] = (mibs, cpu, rss, len(rs), ops, sync)
        f = stats.get("ferry")
        for tool in [t for t in FERRIES + TOOLS[1:] if t in stats]:
            mibs, cpu, rss, n, ops, sync = stats[tool]
            ratio = cpu_ratio = ""
            if f and tool not in ("ferry", "ferry (no checks)"):
                ratio = f"{f[0] / mibs:.2f}x"
                cpu_ratio = f"{f[1] / cpu:.2f}x" if cpu > 0 else ""
            lines.append(f"| {server} | {workload} | {direction} | {tool} | {mibs:.0f} | {ops:.0f} | {cpu:.2f} | {rss:.0f} | {sync} | {ratio} | {cpu_ratio} |")
        chart.append(((server, workload, direction), stats))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)
        return
    n = len(chart)
    fig, axes = plt.subplots(2, n, figsize=(3.2 * n, 7), squeeze=False)
    colours = {"ferry": "#d62728", "ferry (no checks)": "#ff9896", "ferry (base)": "#7f7f7f", "s5cmd": "#1f77b4", "rclone": "#2ca02c",
               "aws cli": "#9467bd", "crt": "#8c564b"}
    for i, ((server, workload, direction), stats) in enumerate(chart):
        tools = [t for t in FERRIES + TOOLS[1:] if t in stats]
        for row, (idx, label) in enumerate([(0, "MiB/s (higher is better)"), (1, "CPU-s per GiB (lower is better)")]):
            ax = axes[row][i]
            ax.bar(range(len(tools)), [stats[t][idx] for t in tools], color=[colours[t] for t in tools])
            ax.set_xticks(range(len(tools)))
            ax.set_xticklabels(tools, rotation=45, ha="right", fontsize=8)
            ax.set_title(f"{server}\n{workload} {direction}", fontsize=9)
            if i == 0:
                ax.set_ylabel(label)
    fig.suptitle(f"ferry and peers, medians ({meta.get('date', '')}, {meta.get('machine', '')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{args.name}.png"), dpi=90)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("--server", required=True)
    r.add_argument("--mode", default="quick")
    r.add_argument("--work", required=True)
    r.add_argument("--results", required=True)
    o = sub.add_parser("report")
    o.add_argument("--results", required=True)
    o.add_argument("--meta")
    o.add_argument("--out", required=True)
    o.add_argument("--name", default="peers")
    a = p.parse_args()
    run(a) if a.what == "run" else report(a)


if __name__ == "__main__":
    main()
