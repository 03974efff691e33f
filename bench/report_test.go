package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"
)

func TestPercentile(t *testing.T) {
	d := &Dist{}
	for i := 100; i >= 1; i-- { // added out of order on purpose
		d.AddMS(float64(i))
	}
	tests := []struct {
		q    float64
		want float64
	}{
		{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0.1, 1}, {1, 1}, {99.5, 100},
	}
	for _, tt := range tests {
		if got := d.Percentile(tt.q); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := (&Dist{}).Percentile(50); !math.IsNaN(got) {
		t.Errorf("empty Percentile = %v, want NaN", got)
	}
	one := &Dist{}
	one.Add(1500 * time.Microsecond)
	if got := one.Percentile(99); got != 1.5 {
		t.Errorf("one sample p99 = %v, want 1.5", got)
	}
}

func TestDistRow(t *testing.T) {
	d := &Dist{}
	for _, v := range []float64{3, 1, 2, 4} {
		d.AddMS(v)
	}
	r := d.Row("perfect", "unreliable", "snapshot_age")
	if r.Samples != 4 || *r.P50 != 2 || *r.P90 != 4 || *r.Max != 4 {
		t.Errorf("row = %+v", r)
	}
	empty := (&Dist{}).Row("perfect", "reliable", "snapshot_age")
	if empty.P50 != nil || empty.Samples != 0 {
		t.Errorf("empty row has figures: %+v", empty)
	}
}

func TestWriteJSON(t *testing.T) {
	rows := []Row{
		{Condition: "loss5_rtt50_jitter10", Channel: "unreliable", Metric: "snapshot_age", Samples: 2, P50: f(1), P90: f(2), P99: f(2), Max: f(2)},
		{Condition: "scale", Channel: "netcode", Metric: "clients", Value: f(200)},
		{Condition: "x", Channel: "y", Metric: "z", Value: f(math.NaN())},
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, rows); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, buf.String())
	}
	if len(got) != 3 {
		t.Fatalf("got %d rows, want 3", len(got))
	}
	if got[0]["condition"] != "loss5_rtt50_jitter10" || got[0]["p99_ms"] != 2.0 || got[0]["value"] != nil {
		t.Errorf("row 0 = %v", got[0])
	}
	if got[1]["value"] != 200.0 || got[1]["p50_ms"] != nil {
		t.Errorf("row 1 = %v", got[1])
	}
	if _, ok := got[2]["value"]; ok {
		t.Errorf("NaN value should be left out: %v", got[2])
	}
	buf.Reset()
	if err := writeJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("no rows = %q, %v; want []", buf.String(), err)
	}
}

func TestWriteMarkdownAndCSV(t *testing.T) {
	d := &Dist{}
	d.AddMS(0.5)
	rows := []Row{d.Row("loopback", "udp_raw", "echo_rtt")}
	rows[0].Delivered = f(1)
	var buf bytes.Buffer
	h, cells := latencyTable(rows)
	if err := writeMarkdown(&buf, h, cells); err != nil {
		t.Fatal(err)
	}
	want := "| condition | channel | metric | samples | delivered | p50 ms | p90 ms | p99 ms | max ms |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| loopback | udp_raw | echo_rtt | 1 | 100.0% | 0.50 | 0.50 | 0.50 | 0.50 |\n"
	if buf.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", buf.String(), want)
	}

	path := filepath.Join(t.TempDir(), "sub", "rows.csv")
	if err := writeCSV(path, rows); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	recs, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1][0] != "loopback" || recs[1][6] != "0.5" {
		t.Errorf("csv = %v", recs)
	}
}

func TestCharts(t *testing.T) {
	dir := t.TempDir()
	d := &Dist{}
	for i := range 1000 {
		d.AddMS(float64(i%97) + 0.2)
	}
	cdf := filepath.Join(dir, "cdf.png")
	if err := saveCDFChart(cdf, "test", []cdfSeries{{Name: "a", Dist: d, Color: -1}, {Name: "empty", Dist: &Dist{}}}); err != nil {
		t.Fatal(err)
	}
	pts := cdfPoints(d)
	if len(pts) > maxCDFPoints+1 || pts[len(pts)-1].Y != 1 {
		t.Errorf("cdf points: %d, last %v", len(pts), pts[len(pts)-1])
	}
	line := filepath.Join(dir, "line.png")
	err := saveLineChart(line, "test", "clients", "ms", []xySeries{{"p99", plotter.XYs{{X: 10, Y: 1}, {X: 20, Y: 2}}}}, map[string]float64{"half budget": 8.3}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cdf, line} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
}
