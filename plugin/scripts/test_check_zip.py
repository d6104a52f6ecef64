"""check-zip.py must pass the packaged zip and refuse each kind of broken zip.

PLUGIN_ZIP names the zip `make plugin` wrote; run from the repository root (make plugin-check).
"""
import importlib.util
import json
import os
import shutil
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
spec = importlib.util.spec_from_file_location("check_zip", os.path.join(HERE, "check-zip.py"))
check_zip = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_zip)

ZIP = os.environ.get("PLUGIN_ZIP", "")
PID = "minewatch-campaign-app"
DS = f"{PID}/datasource/"
EXE = f"{DS}gpx_minewatch_mining_datasource_linux_"


_entries = None


def entries():
    """The packaged zip's entries (read once), as fresh ZipInfo copies a test may edit."""
    global _entries
    if _entries is None:
        with zipfile.ZipFile(ZIP) as z:
            _entries = [(i, z.read(i.filename)) for i in z.infolist()]
    out = []
    for i, d in _entries:
        c = zipfile.ZipInfo(i.filename, i.date_time)
        c.external_attr = i.external_attr
        out.append((c, d))
    return out


class CheckZip(unittest.TestCase):
    def setUp(self):
        if not os.path.isfile(ZIP):
            self.fail(f"PLUGIN_ZIP={ZIP!r} is not a file: run make plugin")
        # Each test writes a copy of the zip (~75 MB) here: removed after it,
        # or every `make test` leaves ~1.5 GB in /tmp.
        self.tmp = tempfile.mkdtemp(prefix="test-check-zip-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def run_check(self, items, name=None):
        path = os.path.join(self.tmp, name or os.path.basename(ZIP))
        # Stored, not deflated: the binaries make compression the slow part.
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for info, data in items:
                info.compress_type = zipfile.ZIP_STORED
                z.writestr(info, data)
        r = check_zip.check(path, REPO, os.path.join(REPO, "plugin", "src"), os.path.join(REPO, "plugin", "package.json"))
        return r.errors

    def assertRefused(self, items, rule, name=None):
        errs = self.run_check(items, name)
        self.assertTrue(any(e.startswith(rule) for e in errs), f"expected {rule}, got {errs}")

    def test_packaged_zip_passes(self):
        self.assertEqual(self.run_check(entries()), [])

    def test_root_dir_not_the_id(self):
        items = []
        for info, data in entries():
            info.filename = info.filename.replace(PID + "/", "dist/", 1)
            items.append((info, data))
        self.assertRefused(items, "archivename/no-ident-root-dir")

    def test_two_top_level_entries(self):
        items = entries()
        extra = zipfile.ZipInfo("README.md")
        self.assertRefused(items + [(extra, b"x")], "archive/more-than-one-dir")

    def test_zip_name(self):
        self.assertRefused(entries(), "archivename/zip-name", name="plugin.zip")

    def test_binary_not_executable(self):
        items = []
        for info, data in entries():
            if info.filename.startswith(EXE):
                info.external_attr = (0o100644 << 16)
            items.append((info, data))
        self.assertRefused(items, "binarypermissions/binary-executable-permissions")

    def test_no_amd64_binary(self):
        self.assertRefused([(i, d) for i, d in entries() if i.filename != EXE + "amd64"], "backendbinary/backend-binary-not-linux-amd64")

    def test_no_arm64_binary(self):
        self.assertRefused([(i, d) for i, d in entries() if i.filename != EXE + "arm64"], "backendbinary/linux-arm64")

    def test_binary_named_for_the_wrong_platform(self):
        items = []
        for info, data in entries():
            if info.filename == EXE + "arm64":
                continue
            items.append((info, data))
            if info.filename == EXE + "amd64":
                dup = zipfile.ZipInfo(EXE + "arm64")
                dup.external_attr = info.external_attr
                items.append((dup, data))
        self.assertRefused(items, "backendbinary/name-platform")

    def test_go_manifest_stale(self):
        items = []
        for info, data in entries():
            if info.filename.endswith("/go_plugin_build_manifest"):
                lines = data.decode().splitlines()
                lines[0] = "0" * 64 + ":" + lines[0].split(":", 1)[1]
                data = ("\n".join(lines) + "\n").encode()
            items.append((info, data))
        self.assertRefused(items, "gomanifest/go-manifest-issue")

    def test_go_manifest_missing(self):
        self.assertRefused([(i, d) for i, d in entries() if not i.filename.endswith("/go_plugin_build_manifest")], "gomanifest/no-go-manifest")

    def test_source_map_differs_from_src(self):
        items = []
        for info, data in entries():
            if info.filename.endswith("/module.js.map"):
                m = json.loads(data)
                m["sourcesContent"][0] += "// edited after the build\n"
                data = json.dumps(m).encode()
            items.append((info, data))
        self.assertRefused(items, "jssourcemap/js-map-no-match")

    def test_no_source_map(self):
        self.assertRefused([(i, d) for i, d in entries() if not i.filename.endswith("module.js.map")], "jssourcemap/js-map-not-found")

    def test_missing_readme_license_logo(self):
        self.assertRefused([(i, d) for i, d in entries() if not i.filename.endswith("/README.md")], "readme/missing-readme")
        self.assertRefused([(i, d) for i, d in entries() if not i.filename.endswith("/LICENSE")], "license/license-not-provided")
        self.assertRefused([(i, d) for i, d in entries() if not i.filename.endswith("/img/logo.svg")], "metadatapaths/path-not-exists")

    def edit(self, name, change):
        """The packaged entries with the JSON file `name` changed by change(m)."""
        items = []
        for info, data in entries():
            if info.filename == name:
                m = json.loads(data)
                change(m)
                data = json.dumps(m).encode()
            items.append((info, data))
        return items

    def test_bad_metadata(self):
        app, ds = f"{PID}/plugin.json", f"{DS}plugin.json"
        self.assertRefused(self.edit(app, lambda m: m.update(type="panel")), "typesuffix/plugin-type-suffix")
        self.assertRefused(self.edit(ds, lambda m: m.update(type="panel")), "typesuffix/plugin-type-suffix")
        self.assertRefused(self.edit(app, lambda m: m["dependencies"].update(grafanaDependency="eleven")), "grafanadependency/invalid-grafana-dependency")
        self.assertRefused(self.edit(app, lambda m: m["info"].update(version="9.9.9")), "packagejson/packagecode-version-mismatch")
        self.assertRefused(self.edit(ds, lambda m: m.update(backend=False)), "backendbinary/alerting-found-but-backend-false")
        self.assertRefused(self.edit(ds, lambda m: m["info"]["logos"].update(small="img/missing.svg")), "metadatapaths/path-not-exists")

    def test_nested_datasource_not_declared(self):
        drop = lambda m: m.update(includes=[i for i in m["includes"] if i.get("type") != "datasource"])  # noqa: E731
        self.assertRefused(self.edit(f"{PID}/plugin.json", drop), "includesnested/nested-plugins-not-declared")

    def test_nested_datasource_declared_as_another_type(self):
        def retype(m):
            for i in m["includes"]:
                if i.get("path") == "datasource/plugin.json":
                    i["type"] = "panel"
        self.assertRefused(self.edit(f"{PID}/plugin.json", retype), "includesnested/nested-plugin-type-missmatch")

    def test_nested_plugin_json_unreadable(self):
        items = [(i, b"{not json" if i.filename == f"{DS}plugin.json" else d) for i, d in entries()]
        self.assertRefused(items, "nestedmetadata/invalid-metadata")

    def test_backend_at_the_top_not_beside_the_datasource(self):
        # Grafana looks for a nested plugin's executable beside its own plugin.json: binaries left at
        # the top (the old datasource-only layout) mean no backend for the datasource.
        items = []
        for info, data in entries():
            if info.filename.startswith(EXE):
                info.filename = info.filename.replace(DS, f"{PID}/", 1)
            items.append((info, data))
        self.assertRefused(items, "backendbinary/backend-binary-mission")

    def test_unsafe_svg(self):
        items = []
        for info, data in entries():
            if info.filename.endswith("/img/logo.svg"):
                data = data.replace(b"</svg>", b"<script>alert(1)</script></svg>")
            items.append((info, data))
        self.assertRefused(items, "unsafesvg/unsafe-svg-file")

    def test_debug_file(self):
        self.assertRefused(entries() + [(zipfile.ZipInfo(f"{PID}/standalone.txt"), b"1")], "backenddebug/backend-debug-file-present")


if __name__ == "__main__":
    unittest.main()
