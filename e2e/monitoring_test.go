package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore/wire"
)

// monitoringDir holds the Prometheus and Grafana examples.
const monitoringDir = "../examples/monitoring"

// promQueries returns every PromQL expression of the examples: the alert rules' exprs
// and the dashboard's targets and variable queries, each with where it comes from. It
// also checks that the files parse and that the scrape configuration loads the rules,
// and returns its job names.
func promQueries(t *testing.T) (queries map[string]string, jobs []string) {
	t.Helper()
	queries = map[string]string{}
	var scrape struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &scrape)
	for _, sc := range scrape.ScrapeConfigs {
		if len(sc.StaticConfigs) == 0 || len(sc.StaticConfigs[0].Targets) == 0 {
			t.Errorf("prometheus.yml: job %q has no targets", sc.JobName)
		}
		jobs = append(jobs, sc.JobName)
	}
	if !slices.Contains(scrape.RuleFiles, "sagate-alerts.yml") {
		t.Errorf("prometheus.yml does not load sagate-alerts.yml: %v", scrape.RuleFiles)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "sagate-alerts.yml", &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("sagate-alerts.yml: a rule without alert or expr: %+v", r)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			queries["alert "+r.Alert] = r.Expr
		}
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	b, err := os.ReadFile(filepath.Join(monitoringDir, "grafana-sagate.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-sagate.json: %v", err)
	}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			queries[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			queries["variable "+v.Name], _ = q["query"].(string)
		}
	}
	if len(queries) < 20 {
		t.Fatalf("only %d queries found in the examples", len(queries))
	}
	return queries, jobs
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// Matchers of the metric names and label selectors in PromQL: sagate's metrics all
// begin with sagate_; a selector is the braces right after a name.
var (
	metricRef   = regexp.MustCompile(`\b(sagate_[a-z0-9_]+)(\{[^}]*\})?`)
	labelName   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	histoSuffix = regexp.MustCompile(`_(bucket|sum|count)$`)
	jobMatcher  = regexp.MustCompile(`job\s*(=|=~)\s*"([^"]*)"`)
)

// scrapeFamilies reads the metric families of a /metrics endpoint.
func scrapeFamilies(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return fams
}

// TestMonitoringExamples: the scrape configuration, the alert rules and the Grafana
// dashboard in examples/monitoring parse, and every sagate metric they query, with every
// label they select on, exists on a running sidecar's (Caddy) or admin's /metrics.
func TestMonitoringExamples(t *testing.T) {
	queries, jobs := promQueries(t)

	e := newEnv(t)
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ml-team"})
	k := e.admin.newAccount("ml-team", "ci-bot", "viewer")
	if c := s.status(t, k.Key); c != http.StatusOK {
		t.Fatalf("a live key: %d", c)
	}
	if c := s.status(t, ""); c != http.StatusUnauthorized {
		t.Fatalf("no key: %d", c)
	}
	// A revocation: an event the sidecar applies (the event lag histogram).
	e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ml-team/service-accounts/ci-bot/keys/"+k.Last6, nil)
	systest.Eventually(t, 5*time.Second, "the revocation at the sidecar", func() bool { return s.status(t, k.Key) == http.StatusUnauthorized })
	// An epoch marker the admin did not sign: the admin counts it and rewrites it.
	if err := e.redis.Client().Set(context.Background(), wire.RedisEpoch, "forged", 0).Err(); err != nil {
		t.Fatal(err)
	}

	targets := map[string]string{"sidecar": "http://" + s.adminAddr + "/metrics", "admin": e.admin.url + "/metrics"}
	var fams map[string]*dto.MetricFamily
	var missing []string
	systest.Eventually(t, 10*time.Second, "every queried metric on a /metrics", func() bool {
		fams = map[string]*dto.MetricFamily{}
		for _, url := range targets {
			for name, f := range scrapeFamilies(t, url) {
				fams[name] = f
			}
		}
		missing = missingMetrics(queries, jobs, fams)
		return len(missing) == 0
	})
	if len(missing) > 0 {
		t.Errorf("queried but not exported (or unknown label/job):\n%s", strings.Join(missing, "\n"))
	}
}

// missingMetrics returns, for each query, the metric names, label names and jobs that it
// selects but that the scraped families (or the scrape configuration's jobs) lack.
func missingMetrics(queries map[string]string, jobs []string, fams map[string]*dto.MetricFamily) []string {
	var out []string
	for where, q := range queries {
		for _, jm := range jobMatcher.FindAllStringSubmatch(q, -1) {
			for j := range strings.SplitSeq(jm[2], "|") {
				if !slices.Contains(jobs, j) {
					out = append(out, fmt.Sprintf("%s: job %q is not in prometheus.yml", where, j))
				}
			}
		}
		for _, m := range metricRef.FindAllStringSubmatch(q, -1) {
			name := m[1]
			f, ok := fams[name]
			if !ok {
				base := histoSuffix.ReplaceAllString(name, "")
				if hf, hok := fams[base]; hok && hf.GetType() == dto.MetricType_HISTOGRAM {
					f, ok = hf, true
				}
			}
			if !ok {
				out = append(out, fmt.Sprintf("%s: metric %s", where, name))
				continue
			}
			for _, lm := range labelName.FindAllStringSubmatch(m[2], -1) {
				if l := lm[1]; l != "job" && l != "instance" && !hasLabel(f, l) {
					out = append(out, fmt.Sprintf("%s: metric %s has no label %q", where, name, l))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// hasLabel reports whether some series of f carries label name.
func hasLabel(f *dto.MetricFamily, name string) bool {
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name {
				return true
			}
		}
	}
	return false
}

// TestMissingMetrics: the check above finds a metric, a label and a job that are not there.
func TestMissingMetrics(t *testing.T) {
	str := func(s string) *string { return &s }
	histo, counter := dto.MetricType_HISTOGRAM, dto.MetricType_COUNTER
	fams := map[string]*dto.MetricFamily{
		"sagate_a_total": {Type: &counter, Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: str("result"), Value: str("x")}}}}},
		"sagate_h":       {Type: &histo, Metric: []*dto.Metric{{}}},
	}
	tests := []struct {
		q    string
		want int
	}{
		{`sum(rate(sagate_a_total{job="j", result="y"}[5m]))`, 0},
		{`histogram_quantile(0.9, rate(sagate_h_bucket[5m])) + sagate_h_count`, 0},
		{`sagate_b_total`, 1},
		{`sagate_a_total_bucket`, 1},
		{`sagate_a_total{kind="k"}`, 1},
		{`up{job=~"j|k"}`, 1},
	}
	for _, tt := range tests {
		if got := missingMetrics(map[string]string{"q": tt.q}, []string{"j"}, fams); len(got) != tt.want {
			t.Errorf("%s: %v, want %d findings", tt.q, got, tt.want)
		}
	}
}
