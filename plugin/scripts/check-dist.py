#!/usr/bin/env python3
"""Static check of plugin dist/, standing in for Grafana's plugin validator (which cannot run here)."""
import json, os, re, stat, struct, sys

def main(dist):
    errs = []
    def need(ok, msg):
        if not ok:
            errs.append(msg)
    pj = os.path.join(dist, "plugin.json")
    if not os.path.isfile(pj):
        print(f"FAIL: {pj} missing"); return 1
    meta = json.load(open(pj, encoding="utf-8"))
    pid = meta.get("id", "")
    need(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-(app|panel|datasource|secretsmanager)", pid) is not None, f"id {pid!r} does not match <org>-<name>-<type>")
    need(pid == "minewatch-mining-datasource", f"id is {pid!r}")
    need(meta.get("type") == "datasource", "type is not datasource")
    need(pid.endswith("-" + meta.get("type", "")), "id suffix differs from type")
    need(meta.get("backend") is True, "backend is not true")
    need(meta.get("alerting") is True, "alerting is not true")
    need(bool(meta.get("name")), "name empty")
    info = meta.get("info", {})
    ver = info.get("version", "")
    need(re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", ver) is not None, f"info.version {ver!r} is not semver")
    need(re.fullmatch(r"\d{4}-\d{2}-\d{2}", info.get("updated", "")) is not None, "info.updated is not a date")
    need(bool(meta.get("dependencies", {}).get("grafanaDependency")), "grafanaDependency missing")
    exe = meta.get("executable", "")
    need(exe == "gpx_minewatch_mining_datasource", f"executable is {exe!r}")
    binp = os.path.join(dist, exe + "_linux_amd64")
    if not os.path.isfile(binp):
        errs.append(f"backend binary {binp} missing")
    else:
        mode = stat.S_IMODE(os.stat(binp).st_mode)
        need(mode == 0o755, f"binary mode {oct(mode)} != 0755")
        with open(binp, "rb") as f:
            h = f.read(64)
        need(h[:4] == b"\x7fELF", "binary is not ELF")
        need(len(h) >= 20 and h[4] == 2 and h[5] == 1, "binary is not ELF64 little-endian")
        if len(h) >= 20:
            need(struct.unpack("<H", h[16:18])[0] == 2, "binary is not an executable (ET_EXEC)")
            need(struct.unpack("<H", h[18:20])[0] == 62, "binary machine is not x86-64")
        need(h[7] in (0, 3), "binary OS ABI is not SYSV/Linux")
    mod = os.path.join(dist, "module.js")
    need(os.path.isfile(mod) and os.path.getsize(mod) > 0, "module.js missing or empty")
    for key, rel in info.get("logos", {}).items():
        need(bool(rel) and os.path.isfile(os.path.join(dist, rel)), f"logo {key} {rel!r} missing")
    need(bool(info.get("logos", {}).get("small")) and bool(info.get("logos", {}).get("large")), "logos small/large not set")
    for f in ("README.md", "CHANGELOG.md"):
        need(os.path.isfile(os.path.join(dist, f)), f"{f} missing")
    for e in errs:
        print("FAIL:", e)
    if not errs:
        print(f"ok: {dist} ({pid} {ver})")
    return 1 if errs else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "dist"))
