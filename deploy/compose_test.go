package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"gopkg.in/yaml.v3"
)

const repo = ".."

func loadProject(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, ComposeFile)},
		cli.WithWorkingDirectory(root), cli.WithName("minewatch"), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go cannot load %s: %v", ComposeFile, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// inRepo turns a resolved absolute path back into a repository path.
func inRepo(t *testing.T, abs string) string {
	t.Helper()
	root, _ := filepath.Abs(repo)
	rel, err := filepath.Rel(root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("%s lies outside the repository", abs)
		return abs
	}
	return filepath.ToSlash(rel)
}

// TestComposeRefersOnlyToExistingFiles: every bind mount, build context and
// Dockerfile (and what the Dockerfile copies) exists in the repository, apart from
// declared build outputs that a make target creates.
func TestComposeRefersOnlyToExistingFiles(t *testing.T) {
	p := loadProject(t)
	for _, want := range []string{"victoriametrics", "vmagent", "vmalert", "alertmanager", "alertmanager-config", "grafana", "exporter", "simulator", "mailpit"} {
		service(t, p, want)
	}
	checked := 0
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %q is not declared", s.Name, v.Source)
				}
				continue
			}
			rel := inRepo(t, v.Source)
			checked++
			if target, ok := BuildOutputs[rel]; ok {
				if !makeTargetExists(t, target) {
					t.Errorf("%s mounts %s, made by `make %s`, but no Makefile defines that target", s.Name, rel, target)
				}
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: bind mount source %s does not exist", s.Name, rel)
			}
		}
		if s.Build != nil {
			checked++
			if st, err := os.Stat(s.Build.Context); err != nil || !st.IsDir() {
				t.Errorf("%s: build context %s missing", s.Name, s.Build.Context)
			}
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			checkDockerfile(t, s.Name, df, s.Build.Context)
		}
	}
	for name, c := range p.Configs {
		if c.File != "" {
			checked++
			if _, err := os.Stat(c.File); err != nil {
				t.Errorf("config %s: file %s missing", name, c.File)
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d file references checked", checked)
	}
}

func makeTargetExists(t *testing.T, target string) bool {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `\s*:`)
	files, _ := filepath.Glob(filepath.Join(repo, "Makefile"))
	more, _ := filepath.Glob(filepath.Join(repo, "*", "*.mk"))
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err == nil && re.Match(b) {
			return true
		}
	}
	return false
}

// checkDockerfile: the sources of COPY/ADD (not --from) exist in the context, and
// the Go packages it builds exist.
func checkDockerfile(t *testing.T, svc, path, context string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("%s: Dockerfile %s: %v", svc, path, err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	stages := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages++
		case "COPY", "ADD":
			args := fields[1:]
			fromStage := false
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				fromStage = fromStage || strings.HasPrefix(args[0], "--from")
				args = args[1:]
			}
			if fromStage || len(args) < 2 {
				continue
			}
			for _, src := range args[:len(args)-1] {
				if _, err := os.Stat(filepath.Join(context, src)); err != nil {
					t.Errorf("%s: Dockerfile copies %s, missing from the build context", svc, src)
				}
			}
		case "RUN":
			for _, pkg := range regexp.MustCompile(`\./exporter/cmd/[A-Za-z0-9_-]+`).FindAllString(sc.Text(), -1) {
				if _, err := os.Stat(filepath.Join(context, pkg)); err != nil {
					t.Errorf("%s: Dockerfile builds %s, which does not exist", svc, pkg)
				}
			}
		}
	}
	if stages < 2 {
		t.Errorf("%s: Dockerfile has %d stages, want a build stage and a slim runtime stage", svc, stages)
	}
}

// hostPath maps a path inside a service's container to the repository file behind
// its bind mounts.
func hostPath(t *testing.T, s types.ServiceConfig, inContainer string) string {
	t.Helper()
	best := ""
	var src string
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if (inContainer == v.Target || strings.HasPrefix(inContainer, v.Target+"/")) && len(v.Target) > len(best) {
			best, src = v.Target, v.Source
		}
	}
	if best == "" {
		t.Fatalf("%s: no bind mount holds %s", s.Name, inContainer)
	}
	return filepath.Join(src, strings.TrimPrefix(inContainer, best))
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// TestHealthchecks: every long-running service says when it is healthy, and a
// service that needs another waits for its health (or, for one-shot jobs, its
// successful end), so `docker compose up` starts in order on a fresh machine.
func TestHealthchecks(t *testing.T) {
	p := loadProject(t)
	longRunning := map[string]bool{}
	for _, s := range p.Services {
		if s.Restart == types.RestartPolicyUnlessStopped || s.Restart == types.RestartPolicyAlways { // on-failure: a job that ends
			longRunning[s.Name] = true
			if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Disable {
				t.Errorf("%s runs for good but has no healthcheck", s.Name)
			}
		}
	}
	if len(longRunning) < 7 {
		t.Fatalf("only %d long-running services: the compose file changed shape", len(longRunning))
	}
	for _, s := range p.Services {
		for dep, d := range s.DependsOn {
			want := types.ServiceConditionHealthy
			if !longRunning[dep] {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %q", s.Name, dep, d.Condition, want)
			}
		}
	}
}

// TestDockerignore: the build context of both images leaves out what the build
// makes or installs itself and local state: node_modules (hundreds of MB),
// .git, caches, binaries, the plugin's build output.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			have[l] = true
		}
	}
	for _, want := range []string{".git", ".cache", "bin", "**/node_modules", "plugin/dist"} {
		if !have[want] {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// pluginIDs reads the app's id from plugin/src/plugin.json (its one owner) and checks that the
// datasource nested in it (plugin/src/datasource/plugin.json) is the contract's models.PluginID.
func pluginIDs(t *testing.T) (app, ds string) {
	t.Helper()
	var meta struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	for _, f := range []struct {
		path, typ string
		id        *string
	}{{"plugin/src/plugin.json", "app", &app}, {"plugin/src/datasource/plugin.json", "datasource", &ds}} {
		b, err := os.ReadFile(filepath.Join(repo, f.path))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if meta.Type != f.typ {
			t.Fatalf("%s is a %s plugin, want %s", f.path, meta.Type, f.typ)
		}
		*f.id = meta.ID
	}
	if ds != models.PluginID {
		t.Fatalf("the nested datasource is %s, the contract's is %s", ds, models.PluginID)
	}
	return app, ds
}

// TestGrafanaProvisioning: the app plugin (with the datasource nested in it) is built into the
// image, installed under the app's id and allowed unsigned (both ids), the app is enabled, the
// datasource has the contract's uid, type and settings, and the dashboards provider reads the
// mounted dashboards directory.
func TestGrafanaProvisioning(t *testing.T) {
	p := loadProject(t)
	g := service(t, p, "grafana")
	appID, dsID := pluginIDs(t)
	allowed := map[string]bool{}
	if v := g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]; v != nil {
		for _, id := range strings.Split(*v, ",") {
			allowed[strings.TrimSpace(id)] = true
		}
	}
	for _, id := range []string{appID, dsID} {
		if !allowed[id] {
			t.Errorf("grafana does not allow the unsigned %s plugin", id)
		}
	}
	// The plugin is built into the image: no manual step, no empty mount.
	if g.Build == nil || inRepo(t, filepath.Join(g.Build.Context, g.Build.Dockerfile)) != GrafanaDockerfile {
		t.Fatalf("grafana is not built from %s", GrafanaDockerfile)
	}
	for _, v := range g.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(v.Target, "/var/lib/grafana/plugins") {
			t.Errorf("grafana mounts %s over its plugins: the image holds the built plugin", inRepo(t, v.Source))
		}
	}
	df, err := os.ReadFile(filepath.Join(repo, GrafanaDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^RUN make `+PluginMakeTarget+`$`).Match(df) || !makeTargetExists(t, PluginMakeTarget) {
		t.Errorf("%s does not build the plugin with `make %s` (the target make test runs)", GrafanaDockerfile, PluginMakeTarget)
	}
	if !regexp.MustCompile(`(?m)^COPY --from=\S+ /src/plugin/dist /var/lib/grafana/plugins/` + regexp.QuoteMeta(appID) + `$`).Match(df) {
		t.Errorf("%s does not install plugin/dist as /var/lib/grafana/plugins/%s", GrafanaDockerfile, appID)
	}

	// The app is enabled in the main org, pointed at the provisioned datasource.
	var appFile struct {
		APIVersion int `yaml:"apiVersion"`
		Apps       []struct {
			Type     string         `yaml:"type"`
			OrgID    int            `yaml:"org_id"`
			Disabled bool           `yaml:"disabled"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"apps"`
	}
	readYAML(t, hostPath(t, g, "/etc/grafana/provisioning/plugins/minewatch.yml"), &appFile)
	if appFile.APIVersion != 1 || len(appFile.Apps) != 1 {
		t.Fatalf("plugins provisioning: apiVersion %d, %d apps, want 1 and 1", appFile.APIVersion, len(appFile.Apps))
	}
	if a := appFile.Apps[0]; a.Type != appID || a.OrgID != 1 || a.Disabled || a.JSONData["datasourceUid"] != "minewatch" {
		t.Errorf("app provisioned as %+v, want %s enabled in org 1 with datasourceUid minewatch", a, appID)
	}

	var dsFile struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			UID      string         `yaml:"uid"`
			Type     string         `yaml:"type"`
			URL      string         `yaml:"url"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, hostPath(t, g, "/etc/grafana/provisioning/datasources/minewatch.yml"), &dsFile)
	if len(dsFile.Datasources) != 1 {
		t.Fatalf("%d datasources provisioned, want 1", len(dsFile.Datasources))
	}
	ds := dsFile.Datasources[0]
	if ds.UID != "minewatch" || ds.Type != models.PluginID {
		t.Errorf("datasource uid %q type %q", ds.UID, ds.Type)
	}
	// The campaign values come from the definition, not from a copy here; the
	// ledger the tracker takes device and person from must be mounted, and the
	// app's pages need a case store to record dispositions and reports in.
	for k := range ds.JSONData {
		if k != "ledgerFiles" && k != "caseStore" {
			t.Errorf("datasource jsonData sets %q: only ledgerFiles and caseStore belong there", k)
		}
	}
	if cs, _ := ds.JSONData["caseStore"].(string); !strings.HasPrefix(cs, "/var/lib/grafana/") {
		t.Errorf("datasource caseStore %q: want an SQLite file in Grafana's data volume (/var/lib/grafana/…), so that cases survive a restart", cs)
	}
	files, _ := ds.JSONData["ledgerFiles"].([]any)
	if len(files) == 0 {
		t.Error("datasource jsonData has no ledgerFiles: the tracker would show no device or person")
	}
	for _, f := range files {
		if _, err := os.Stat(hostPath(t, g, fmt.Sprint(f))); err != nil {
			t.Errorf("ledgerFiles %v: %v", f, err)
		}
	}
	u, err := url.Parse(ds.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetService(u.Hostname()); err != nil || u.Hostname() != "victoriametrics" {
		t.Errorf("datasource URL %s does not point at the victoriametrics service", ds.URL)
	}
	if _, err := models.LoadSettings(ds.URL, mustJSON(t, ds.JSONData), nil); err != nil {
		t.Errorf("the plugin rejects the provisioned settings: %v", err)
	}

	var dbFile struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, hostPath(t, g, "/etc/grafana/provisioning/dashboards/minewatch.yml"), &dbFile)
	if len(dbFile.Providers) != 1 || dbFile.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers: %+v", dbFile.Providers)
	}
	dir := hostPath(t, g, dbFile.Providers[0].Options.Path)
	if inRepo(t, dir) != "dashboards" {
		t.Errorf("dashboards provider reads %s, want the repository's dashboards/", dir)
	}
	if js, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(js) < 5 {
		t.Errorf("only %d dashboards in %s", len(js), dir)
	}
	home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	if home == nil {
		t.Error("no home dashboard")
	} else if _, err := os.Stat(hostPath(t, g, *home)); err != nil {
		t.Errorf("home dashboard %s: %v", *home, err)
	}
}

// TestAlertingPipeline: vmalert reads the repository's rules and talks to the stack's
// services; the Alertmanager configuration the stack renders from the demo ledger is
// valid (amtool) and routes to the demo's leads.
func TestAlertingPipeline(t *testing.T) {
	p := loadProject(t)
	vm := service(t, p, "vmalert")
	rules, err := filepath.Glob(hostPath(t, vm, flagValue(vm.Command, "-rule")))
	if err != nil || len(rules) < 2 {
		t.Errorf("vmalert -rule matches %v (%v)", rules, err)
	}
	for _, f := range []string{"-datasource.url", "-remoteWrite.url", "-remoteRead.url", "-notifier.url"} {
		u, err := url.Parse(flagValue(vm.Command, f))
		if err != nil || u.Host == "" {
			t.Errorf("vmalert %s: %q", f, flagValue(vm.Command, f))
			continue
		}
		if _, err := p.GetService(u.Hostname()); err != nil {
			t.Errorf("vmalert %s points at %s, not a service of the stack", f, u.Hostname())
		}
	}

	var scrape struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	agent := service(t, p, "vmagent")
	readYAML(t, hostPath(t, agent, flagValue(agent.Command, "-promscrape.config")), &scrape)
	n := 0
	for _, sc := range scrape.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				n++
				if _, err := p.GetService(strings.Split(target, ":")[0]); err != nil {
					t.Errorf("scrape target %s is not a service", target)
				}
			}
		}
	}
	if n == 0 {
		t.Error("vmagent scrapes nothing")
	}

	// Render what the alertmanager-config service renders, into a temporary directory.
	amc := service(t, p, "alertmanager-config")
	args := amc.Command
	// The exporter's own ledger loader validates the demo ledger.
	l, err := ledger.Load([]string{hostPath(t, amc, flagValue(args, "--ledger"))}, nil)
	if err != nil {
		t.Fatalf("demo ledger: %v", err)
	}
	units := alerts.LedgerUnits(l)
	smtp := flagValue(args, "--smtp")
	if _, err := p.GetService(strings.Split(smtp, ":")[0]); err != nil {
		t.Errorf("--smtp %s is not a service of the stack", smtp)
	}
	r, err := alerts.Render(units, alerts.Options{Smarthost: smtp, From: flagValue(args, "--from"),
		BureauEmail: flagValue(args, "--bureau-email"), GrafanaURL: flagValue(args, "--grafana-url")})
	if err != nil {
		t.Fatalf("rendering the stack's Alertmanager configuration: %v", err)
	}
	am := service(t, p, "alertmanager")
	if got, want := flagValue(am.Command, "--config.file"), flagValue(args, "--out"); got != want {
		t.Errorf("alertmanager reads %s, the render writes %s", got, want)
	}
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := r.WriteFiles(path); err != nil {
		t.Fatal(err)
	}
	amtool := testsupport.Require(t, "amtool")
	out, err := exec.Command(amtool, "check-config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	cmd := exec.Command(amtool, "config", "routes", "test", "--config.file="+path, "unit=zd-no1-middle", "alertname=MinewatchMiningIPNew")
	cmd.Stderr = nil
	got, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(got)) != "unit-zd-no1-middle" {
		t.Errorf("demo routing of zd-no1-middle: %q %v", got, err)
	}
}

// TestExporterConfig: the exporter's own config loader accepts the demo
// configuration, pushes to vmagent, and keeps its buffers and state on volumes.
func TestExporterConfig(t *testing.T) {
	p := loadProject(t)
	ex := service(t, p, "exporter")
	path := flagValue(ex.Command, "--config.file")
	if path == "" {
		t.Fatalf("exporter command %v has no --config.file", ex.Command)
	}
	cfg, err := config.Load(hostPath(t, ex, path))
	if err != nil {
		t.Fatalf("demo exporter config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("demo exporter config: %v", err)
	}
	// Samples go exporter → vmagent (disk buffer) → VictoriaMetrics, so an
	// outage of VictoriaMetrics loses nothing.
	agent := service(t, p, "vmagent")
	push, err := url.Parse(cfg.Push.URL)
	if err != nil || push.Hostname() != "vmagent" || push.Port() != strings.TrimPrefix(flagValue(agent.Command, "-httpListenAddr"), ":") {
		t.Errorf("exporter pushes to %q, not to vmagent's -httpListenAddr %q", cfg.Push.URL, flagValue(agent.Command, "-httpListenAddr"))
	}
	if rw, err := url.Parse(flagValue(agent.Command, "-remoteWrite.url")); err != nil || rw.Hostname() != "victoriametrics" {
		t.Errorf("vmagent -remoteWrite.url %q is not VictoriaMetrics", flagValue(agent.Command, "-remoteWrite.url"))
	}
	onVolume := func(s types.ServiceConfig, path, what string) {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && (path == v.Target || strings.HasPrefix(path, v.Target+"/")) {
				return
			}
		}
		t.Errorf("%s: %s %q is not on a named volume: it would not survive the container", s.Name, what, path)
	}
	onVolume(agent, flagValue(agent.Command, "-remoteWrite.tmpDataPath"), "-remoteWrite.tmpDataPath")
	if cfg.Snapshot.File == "" {
		t.Error("the demo exporter keeps no state snapshot")
	} else {
		onVolume(ex, cfg.Snapshot.File, "snapshot.file")
	}
	if flagValue(agent.Command, "-remoteWrite.maxDiskUsagePerURL") == "" {
		t.Error("vmagent's disk buffer is unbounded (-remoteWrite.maxDiskUsagePerURL)")
	}
	_, nf, _ := strings.Cut(cfg.Listen.NetFlow, ":")
	sim := service(t, p, "simulator")
	if got := flagValue(sim.Command, "--udp"); got != "exporter:"+nf {
		t.Errorf("simulator sends to %s, the exporter listens for NetFlow on %q", got, cfg.Listen.NetFlow)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
