#!/usr/bin/env python3
"""Checks a packaged plugin zip the way Grafana's plugin validator does.

The validator (github.com/grafana/plugin-validator) cannot run here: its npm wrapper downloads a
binary at run time and its Go module is refused by the proxy. So this script applies the rules of
its analyzers (pkg/analysis/passes/<name>, read at commit a7e38aae, Aug 2026) that can be decided
from the zip and the source tree alone. Each finding is named "<analyzer>/<rule>" after the
validator's; errors fail, warnings are printed. Rules that need grafana.com or external scanners
(org, published, version, signature status on grafana.com, brokenlinks, safelinks, osvscanner,
govulncheck, gosec, virusscan, llmreview, sdkusage, reactcompat, coderules, legacyplatform's
remote patterns) are not applied; `--list-skipped` names them.

plugin.json against Grafana's JSON schema (metadatavalid) is checked by check-schema.mjs (ajv).

usage: check-zip.py ZIP --source REPO_ROOT [--plugin-src plugin/src] [--package-json plugin/package.json]
"""
import argparse
import hashlib
import json
import os
import re
import shutil

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile

SKIPPED = [
    "org (needs grafana.com)", "published/version (needs grafana.com)", "signature/manifest (plugin is unsigned: reported as a warning)",
    "brokenlinks/safelinks (network)", "osvscanner/govulncheck/gosec/virusscan/llmreview/coderules (external scanners)",
    "sdkusage (needs the SDK release list)", "reactcompat (runs react-detect)", "legacyplatform (patterns come from grafana.com; a local Angular check is applied)",
    "buildtools (create-plugin / SDK mage build: this project builds with esbuild and go build on purpose)",
    "provenance/sponsorshiplink/plugindocs/discoverability links (catalogue-side)",
]

# Elements the validator's svgvalidate refuses outright; event-handler attributes and script URLs
# are refused too. (The validator also applies an attribute allow-list; not reproduced here.)
SVG_FORBIDDEN = {"script", "iframe", "audio", "noscript", "template", "math", "foreignobject", "noembed", "noframes", "plaintext", "xmp", "annotation-xml"}
VALID_LICENSES = [r"^0BSD$", r"^BSD-.*$", r"^MIT.*$", r"^Apache-2\.0$", r"^LGPL-3.*$", r"^GPL-3\.0.*$", r"^AGPL-3\.0.*$"]
# A Masterminds/semver constraint: comparator groups joined by || or , or spaces.
CONSTRAINT = re.compile(
    r"^\s*(?:(?:[<>=!~^]{0,2}\s*v?\d+(?:\.(?:\d+|[xX*]))?(?:\.(?:\d+|[xX*]))?(?:-[0-9A-Za-z.-]+)?\s*,?\s*)+)"
    r"(?:\|\|\s*(?:(?:[<>=!~^]{0,2}\s*v?\d+(?:\.(?:\d+|[xX*]))?(?:\.(?:\d+|[xX*]))?(?:-[0-9A-Za-z.-]+)?\s*,?\s*)+))*$"
)


class Report:
    def __init__(self):
        self.errors, self.warnings = [], []

    def error(self, rule, msg):
        self.errors.append(f"{rule}: {msg}")

    def warn(self, rule, msg):
        self.warnings.append(f"{rule}: {msg}")


def sniff_image(path):
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if b"<svg" in head:
        return "image/svg+xml"
    return "unknown"


EXT_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml"}


def read(path, **kw):
    with open(path, encoding="utf-8", **kw) as f:
        return f.read()


_settings_cache = {}


def go_build_settings(binary):
    """GOOS/GOARCH from the binary's Go build info (what the validator reads with debug/buildinfo)."""
    with open(binary, "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()
    if key not in _settings_cache:
        _settings_cache[key] = _go_version_m(binary)
    return _settings_cache[key]


def _go_version_m(binary):
    go = shutil.which("go") or "/usr/local/go/bin/go"
    try:
        out = subprocess.run([go, "version", "-m", binary], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    settings = {}
    for line in out.splitlines():
        parts = line.strip().split("\t")
        if len(parts) == 2 and parts[0] == "build" and "=" in parts[1]:
            k, v = parts[1].split("=", 1)
            settings[k] = v
    return settings


def source_go_files(source):
    out = []
    for d, dirs, files in os.walk(source):
        dirs[:] = [x for x in dirs if x not in (".git", "node_modules")]
        for f in files:
            if f.endswith(".go"):
                out.append(os.path.relpath(os.path.join(d, f), source).replace(os.sep, "/"))
    return sorted(out)


def sha256_lf(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read().replace(b"\r\n", b"\n")).hexdigest()


def check(zip_path, source, plugin_src, package_json):
    r = Report()
    if not zipfile.is_zipfile(zip_path):
        r.error("archive/empty-archive", f"{zip_path} is not a zip")
        return r
    tmp = tempfile.mkdtemp(prefix="check-zip-")
    try:
        with zipfile.ZipFile(zip_path) as z:
            modes = {}
            for info in z.infolist():
                name = info.filename
                if name.startswith("/") or ".." in name.split("/"):
                    r.error("archive/unsafe-path", f"entry {name!r} escapes the archive")
                    return r
                z.extract(info, tmp)
                modes[name.rstrip("/")] = (info.external_attr >> 16) & 0o7777
        _check_tree(r, zip_path, tmp, modes, source, plugin_src, package_json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return r


def _check_tree(r, zip_path, tmp, modes, source, plugin_src, package_json):
    tops = os.listdir(tmp)
    if not tops:
        r.error("archive/empty-archive", "archive is empty")
        return
    if len(tops) != 1:
        r.error("archive/more-than-one-dir", f"archive root holds {sorted(tops)}, not one directory")
        return
    root = os.path.join(tmp, tops[0])
    if not os.path.isdir(root):
        r.error("archive/no-root-dir", f"archive root {tops[0]!r} is not a directory")
        return
    if os.path.isdir(os.path.join(root, "dist")):
        r.error("archive/dist", "plugin files are under <root>/dist (legacy layout)")
    pj = os.path.join(root, "plugin.json")
    if not os.path.isfile(pj):
        r.error("metadata/missing-metadata", "missing plugin.json")
        return
    try:
        meta = json.loads(read(pj))
    except ValueError as e:
        r.error("metadatavalid/invalid-metadata", f"plugin.json: {e}")
        return
    pid, ptype = meta.get("id", ""), meta.get("type", "")
    info = meta.get("info", {})
    version = info.get("version", "")

    # archivename, and the catalogue's file name <id>-<version>.zip
    if tops[0] == "dist" or tops[0] != pid:
        r.error("archivename/no-ident-root-dir", f"archive root directory is {tops[0]!r}, should be {pid!r}")
    if os.path.basename(zip_path) != f"{pid}-{version}.zip" and not os.path.basename(zip_path).startswith(f"{pid}-{version}."):
        r.error("archivename/zip-name", f"zip is named {os.path.basename(zip_path)!r}, expected {pid}-{version}.zip")

    # nestedmetadata: every plugin.json of the archive, keyed by its path from the root as the
    # validator keys them ("plugin.json", "datasource/plugin.json"); the per-plugin rules below run
    # for each, relative to the folder of its plugin.json (metadatapaths, backendbinary, ...).
    metas = {"plugin.json": meta}
    for d, dirs, fs in os.walk(root):
        dirs.sort()
        if "plugin.json" in fs and d != root:
            rel = os.path.relpath(os.path.join(d, "plugin.json"), root).replace(os.sep, "/")
            try:
                metas[rel] = json.loads(read(os.path.join(d, "plugin.json")))
            except ValueError as e:
                r.error("nestedmetadata/invalid-metadata", f"{rel}: {e}")
    for rel, m in metas.items():
        _check_plugin(r, root, tmp, modes, rel, m)

    # discoverability
    if not info.get("description"):
        r.warn("discoverability/empty-description", "info.description empty")
    if not info.get("keywords"):
        r.warn("discoverability/empty-keywords", "info.keywords empty")

    # modulejs, jssourcemap (against the plugin's src/, as the validator compares the map's sources)
    modules = [os.path.join(d, "module.js") for d, _, fs in os.walk(root) if "module.js" in fs]
    if not modules:
        r.error("modulejs/missing-modulejs", "missing module.js")
    for m in modules:
        mp = m + ".map"
        rel = os.path.relpath(mp, root)
        if not os.path.isfile(mp):
            r.error("jssourcemap/js-map-not-found", f"{rel} missing")
            continue
        try:
            smap = json.loads(read(mp))
        except ValueError:
            r.error("jssourcemap/js-map-invalid", f"{rel} is not JSON")
            continue
        srcs, contents = smap.get("sources", []), smap.get("sourcesContent", [])
        if not srcs or not contents or len(srcs) != len(contents):
            r.error("jssourcemap/js-map-invalid", f"{rel}: sources and sourcesContent missing or of different lengths")
            continue
        for name, content in zip(srcs, contents):
            name = re.sub(rf"^webpack://{re.escape(pid)}/*|^webpack:/*", "", name).split("?")[0]
            if name.startswith(("external ", "webpack/", "../node_modules", "./node_modules/")) or "/node_modules/.pnpm/" in name:
                continue
            if name.endswith((".css", ".scss", ".sass", ".less", ".svg", ".json")):
                continue
            f = os.path.join(plugin_src, name)
            if not os.path.isfile(f):
                r.error("jssourcemap/js-map-no-match", f"{rel}: source {name} not in {plugin_src}")
            elif read(f).replace("\r\n", "\n") != (content or "").replace("\r\n", "\n"):
                r.error("jssourcemap/js-map-no-match", f"{rel}: source {name} differs from {plugin_src}/{name}")
        js = read(m, errors="replace")
        # legacyplatform: an Angular plugin (the validator's remote patterns are richer).
        if re.search(r"\bangular\b.*\bmodule\(|PanelCtrl|QueryCtrl|MetricsPanelCtrl", js):
            r.error("legacyplatform/legacy-platform", f"{os.path.relpath(m, root)} looks like an Angular plugin")

    # includesnested: nested plugins only in an app, each declared in the app's includes by its
    # plugin.json path with the same type
    nested = [k for k in metas if k != "plugin.json"]
    if nested and ptype != "app":
        r.error("includesnested/nested-plugin-in-non-app", f"nested plugin.json {nested} in a {ptype} plugin")
    includes = meta.get("includes", []) or []
    for k in nested:
        inc = [i for i in includes if i.get("path") == k]
        if not inc:
            r.error("includesnested/nested-plugins-not-declared", f"{k} is not in plugin.json's includes (type and path)")
        elif not inc[0].get("type"):
            r.error("includesnested/nested-plugin-missing-type", f"the include of {k} has no type")
        elif inc[0]["type"] != metas[k].get("type"):
            r.error("includesnested/nested-plugin-type-missmatch", f"{k} is included as {inc[0]['type']}, is a {metas[k].get('type')}")

    # backenddebug: no debug files where any plugin of the archive has an executable
    if any(m.get("executable") for m in metas.values()):
        for d, _, fs in os.walk(root):
            for f in fs:
                if f in ("standalone.txt", "pid.txt"):
                    r.error("backenddebug/backend-debug-file-present", f"{os.path.relpath(os.path.join(d, f), root)} present")

    # gomanifest: every Go file of the source tree, with its sha256, and nothing else. The validator
    # reads it at the archive's top when the top plugin.json has a backend; here also when only a
    # nested plugin has one (this app's case), so the bundled datasource's build stays checked.
    if any(m.get("backend") for m in metas.values()) and source:
        mf = os.path.join(root, "go_plugin_build_manifest")
        go_files = source_go_files(source)
        if go_files and not os.path.isfile(mf):
            r.error("gomanifest/no-go-manifest", "go_plugin_build_manifest missing")
        elif go_files:
            manifest = {}
            ok = True
            for line in read(mf).splitlines():
                if not line:
                    continue
                parts = line.split(":")
                if len(parts) != 2:
                    r.error("gomanifest/invalid-go-manifest", f"line {line!r} is not sha256:path")
                    ok = False
                    break
                manifest[parts[1].strip().replace("\\", "/")] = parts[0].strip()
            if ok:
                for g in go_files:
                    if g not in manifest:
                        r.error("gomanifest/go-manifest-issue", f"{g} is in the source code but not in the manifest")
                    elif manifest[g] != sha256_lf(os.path.join(source, g)):
                        r.error("gomanifest/go-manifest-issue", f"sha256 of {g} does not match the manifest")
                for g in manifest:
                    if not os.path.isfile(os.path.join(source, g)):
                        r.error("gomanifest/go-manifest-issue", f"{g} is in the manifest but not in the source code")

    # license
    lic = os.path.join(root, "LICENSE")
    if not os.path.isfile(lic):
        r.error("license/license-not-provided", "LICENSE missing")
    else:
        text = read(lic, errors="replace")
        if "{name of copyright owner}" in text or "{yyyy}" in text:
            r.error("license/license-not-valid", "LICENSE still holds the template's placeholders")
        declared = json.loads(read(package_json)).get("license", "") if package_json else ""
        if not any(re.match(p, declared) for p in VALID_LICENSES):
            r.error("license/license-not-valid", f"package.json licence {declared!r} is not one the catalogue accepts")
        elif declared == "Apache-2.0" and not re.search(r"Apache License\s+Version 2\.0", text):
            r.error("license/license-not-valid", "LICENSE is not the Apache License 2.0 that package.json declares")

    # readme, templatereadme, jargon, changelog
    rd = os.path.join(root, "README.md")
    if not os.path.isfile(rd) or not read(rd).strip():
        r.error("readme/missing-readme", "README.md missing or empty")
    else:
        text = read(rd)
        if re.search(r"<!--(.*?)-->", text):
            r.warn("readme/readme-comment", "README.md holds an HTML comment")
        if re.search(r"(?i)Grafana (Panel|Data Source|Datasource|App|Data Source Backend) Plugin Template", text):
            r.error("templatereadme/template-readme", "README.md is the create-plugin template's")
        for word in ("yarn", "nodejs"):
            if word in text:
                r.warn("jargon/developer-jargon", f"README.md mentions {word}")
    ch = os.path.join(root, "CHANGELOG.md")
    if not os.path.isfile(ch) or not read(ch).strip():
        r.warn("changelog/missing-changelog", "CHANGELOG.md missing or empty")

    # packagejson
    if package_json:
        pv = json.loads(read(package_json)).get("version")
        if pv != version:
            r.error("packagejson/packagecode-version-mismatch", f"package.json version {pv} != plugin.json {version}")

    # unsafesvg
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.lower().endswith(".svg"):
                p = os.path.join(d, f)
                try:
                    for el in ET.parse(p).iter():
                        tag = el.tag.split("}")[-1].lower()
                        if tag in SVG_FORBIDDEN:
                            r.error("unsafesvg/unsafe-svg-file", f"{os.path.relpath(p, root)} has <{tag}>")
                        for a, v in el.attrib.items():
                            a = a.split("}")[-1].lower()
                            if a.startswith("on") or (a == "href" and v.strip().lower().startswith("javascript:")):
                                r.error("unsafesvg/unsafe-svg-file", f"{os.path.relpath(p, root)} has {a}=")
                except ET.ParseError as e:
                    r.error("unsafesvg/unsafe-svg-file", f"{os.path.relpath(p, root)}: {e}")

    # manifest/signature: the plugin is distributed unsigned (private installs allow_loading_unsigned_plugins)
    if not os.path.isfile(os.path.join(root, "MANIFEST.txt")):
        r.warn("manifest/unsigned-plugin", "no MANIFEST.txt: unsigned plugin")



def _check_plugin(r, root, tmp, modes, rel, meta):
    """The validator's per-plugin.json rules, for the plugin whose plugin.json is root/rel."""
    pdir = os.path.join(root, os.path.dirname(rel))
    where = "" if rel == "plugin.json" else f"{rel}: "
    pid, ptype = meta.get("id", ""), meta.get("type", "")
    info = meta.get("info", {})
    # typesuffix, pluginname
    if not ptype or pid.split("-")[-1] != ptype:
        r.error("typesuffix/plugin-type-suffix", f"{where}id {pid!r} does not end with its type {ptype!r}")
    if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-(app|panel|datasource|secretsmanager)", pid) is None:
        r.warn("pluginname/invalid-id-format", f"{where}id {pid!r} is not <org>-<name>-<type>")
    if pid and meta.get("name") == pid:
        r.error("pluginname/human-friendly-name", f"{where}name equals the id")

    # grafanadependency, restrictivedep
    dep = meta.get("dependencies", {}).get("grafanaDependency", "")
    if not dep or CONSTRAINT.match(dep) is None:
        r.error("grafanadependency/invalid-grafana-dependency", f"{where}grafanaDependency {dep!r} is not a version constraint")
    elif re.fullmatch(r"[0-9]+.[0-9]+.x", dep):
        r.warn("restrictivedep/depends-on-patch-releases", f"grafanaDependency {dep!r}")
    elif re.fullmatch(r"[0-9]+.[0-9]+.[0-9]+", dep):
        r.warn("restrictivedep/depends-on-single-release", f"grafanaDependency {dep!r}")

    # logos, metadatapaths, screenshots
    logos = info.get("logos", {})
    for k in ("small", "large"):
        if not str(logos.get(k, "")).strip():
            r.error("logos/logos", f"{where}info.logos.{k} empty")
    paths = [("logo " + k, logos.get(k, "")) for k in ("small", "large")]
    paths += [("screenshot " + s.get("name", ""), s.get("path", "")) for s in info.get("screenshots", [])]
    for what, p in paths:
        if not p:
            continue
        if re.match(r"^[a-z]+://", p) or p.startswith(".") or p.startswith("/"):
            r.error("metadatapaths/invalid-relative-path", f"{where}{what} path {p!r} must be relative, without ./ or /")
        elif not os.path.isfile(os.path.join(pdir, p)):
            r.error("metadatapaths/path-not-exists", f"{where}{what} {p!r} not in the archive")
    if not info.get("screenshots"):
        r.warn("screenshots/screenshots", f"{where}no screenshots listed")
    for s in info.get("screenshots", []):
        p = os.path.join(pdir, s.get("path", ""))
        if os.path.isfile(p):
            mime = sniff_image(p)
            if mime == "unknown" or EXT_MIME.get(os.path.splitext(p)[1].lower()) != mime:
                r.error("screenshots/screenshots-image-type", f"{s.get('path')} is {mime}")

    # backendbinary, binarypermissions, backenddebug
    exe = meta.get("executable", "")
    if meta.get("alerting") and not meta.get("backend"):
        r.error("backendbinary/alerting-found-but-backend-false", f"{where}alerting without backend")
    if exe and not meta.get("backend"):
        r.error("backendbinary/backend-found-but-not-declared", f"{where}executable without backend")
    if meta.get("backend") and not exe:
        r.error("backendbinary/backend-binary-mission", f"{where}backend without executable")
    binaries = []
    if exe:
        d = os.path.join(pdir, os.path.dirname(exe))
        base = os.path.basename(exe)
        binaries = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith(base) and os.path.isfile(os.path.join(d, f))) if os.path.isdir(d) else []
        if meta.get("backend") and not binaries:
            r.error("backendbinary/backend-binary-mission", f"{where}no {exe}* binary")
        platforms = {}
        for b in binaries:
            s = go_build_settings(b)
            platforms[(s.get("GOOS"), s.get("GOARCH"))] = b
            if b.endswith(".exe"):
                continue
            rel = os.path.relpath(b, tmp).replace(os.sep, "/")
            mode = modes.get(rel, 0)
            if mode & 0o777 != 0o755:
                r.error("binarypermissions/binary-executable-permissions", f"{os.path.basename(b)} has mode {oct(mode & 0o777)} in the zip, needs 0755")
        if binaries and ("linux", "amd64") not in platforms:
            r.error("backendbinary/backend-binary-not-linux-amd64", f"no linux/amd64 Go binary among {[os.path.basename(b) for b in binaries]}")
        # Not a validator rule: this project ships arm64 too (Grafana on ARM servers), and each
        # binary's name must say the platform its build info says.
        if binaries and ("linux", "arm64") not in platforms:
            r.error("backendbinary/linux-arm64 (minewatch)", "no linux/arm64 Go binary")
        for (goos, goarch), b in platforms.items():
            if goos and not os.path.basename(b).endswith(f"_{goos}_{goarch}" + (".exe" if goos == "windows" else "")):
                r.error("backendbinary/name-platform (minewatch)", f"{os.path.basename(b)} is built for {goos}/{goarch}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zip", nargs="?")
    ap.add_argument("--source", help="source tree the zip was built from (Go build manifest)")
    ap.add_argument("--plugin-src", help="the plugin's src/ (source map comparison)")
    ap.add_argument("--package-json", help="the plugin's package.json (version, licence)")
    ap.add_argument("--list-skipped", action="store_true", help="name the validator's analyzers not applied here")
    a = ap.parse_args(argv)
    if a.list_skipped:
        print("\n".join(SKIPPED))
        return 0
    if not a.zip:
        ap.error("ZIP required")
    r = check(a.zip, a.source, a.plugin_src, a.package_json)
    for w in r.warnings:
        print("warning:", w)
    for e in r.errors:
        print("FAIL:", e)
    if not r.errors:
        print(f"ok: {a.zip} passes the validator rules checked here ({len(r.warnings)} warnings)")
    return 1 if r.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
