package main

// Shared output machinery for the bench commands: result rows, percentiles, the
// Markdown table, CSV files, the JSON array and gonum/plot charts.

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Row is one result line. A distribution fills Samples and P50..Max (milliseconds);
// a single figure fills Value (with Unit). Absent figures are nil and left out of JSON.
type Row struct {
	Condition string   `json:"condition"`
	Channel   string   `json:"channel"`
	Metric    string   `json:"metric"`
	Clients   int      `json:"clients,omitempty"`
	Samples   int      `json:"samples,omitempty"`
	Delivered *float64 `json:"delivered,omitempty"` // fraction of messages sent that arrived
	P50       *float64 `json:"p50_ms,omitempty"`
	P90       *float64 `json:"p90_ms,omitempty"`
	P99       *float64 `json:"p99_ms,omitempty"`
	Max       *float64 `json:"max_ms,omitempty"`
	Value     *float64 `json:"value,omitempty"`
	Unit      string   `json:"unit,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// f returns a pointer to v, for Row's optional figures.
func f(v float64) *float64 { return &v }

// Dist collects latency samples.
type Dist struct {
	ms     []float64
	sorted bool
}

// Add records one sample.
func (d *Dist) Add(v time.Duration) {
	d.ms = append(d.ms, float64(v)/float64(time.Millisecond))
	d.sorted = false
}

// AddMS records one sample given in milliseconds.
func (d *Dist) AddMS(v float64) {
	d.ms = append(d.ms, v)
	d.sorted = false
}

// Len is the number of samples.
func (d *Dist) Len() int { return len(d.ms) }

// Sorted returns the samples in ascending order (milliseconds); do not modify it.
func (d *Dist) Sorted() []float64 {
	if !d.sorted {
		slices.Sort(d.ms)
		d.sorted = true
	}
	return d.ms
}

// Percentile returns the nearest-rank q-th percentile (0 < q <= 100) in
// milliseconds, or NaN without samples.
func (d *Dist) Percentile(q float64) float64 {
	s := d.Sorted()
	if len(s) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// Row returns a distribution row for d.
func (d *Dist) Row(condition, channel, metric string) Row {
	r := Row{Condition: condition, Channel: channel, Metric: metric, Samples: d.Len(), Unit: "ms"}
	if d.Len() > 0 {
		r.P50, r.P90, r.P99, r.Max = f(d.Percentile(50)), f(d.Percentile(90)), f(d.Percentile(99)), f(d.Percentile(100))
	}
	return r
}

// Result is a row with the samples behind it, for charts.
type Result struct {
	Row
	Dist *Dist
}

// fmtMS formats an optional figure for the Markdown table.
func fmtMS(v *float64) string {
	switch {
	case v == nil || math.IsNaN(*v):
		return "–"
	case *v >= 100:
		return strconv.FormatFloat(*v, 'f', 0, 64)
	case *v >= 10:
		return strconv.FormatFloat(*v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
}

// fmtPct formats an optional fraction as a percentage.
func fmtPct(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

// writeMarkdown writes a GitHub Markdown table.
func writeMarkdown(w io.Writer, header []string, rows [][]string) error {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(strings.ReplaceAll(c, "|", `\|`))
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
		if i > 0 {
			sep[i] = "---:"
		}
	}
	b.WriteString("|" + strings.Join(sep, "|") + "|\n")
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// latencyTable renders distribution rows: one line per row.
func latencyTable(rows []Row) (header []string, cells [][]string) {
	header = []string{"condition", "channel", "metric", "samples", "delivered", "p50 ms", "p90 ms", "p99 ms", "max ms"}
	for _, r := range rows {
		cells = append(cells, []string{r.Condition, r.Channel, r.Metric, strconv.Itoa(r.Samples),
			fmtPct(r.Delivered), fmtMS(r.P50), fmtMS(r.P90), fmtMS(r.P99), fmtMS(r.Max)})
	}
	return header, cells
}

// csvHeader lists Row's columns in CSV order.
var csvHeader = []string{"condition", "channel", "metric", "clients", "samples", "delivered",
	"p50_ms", "p90_ms", "p99_ms", "max_ms", "value", "unit", "note"}

// writeCSV writes rows as a CSV file, creating its directory.
func writeCSV(path string, rows []Row) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(file)
	opt := func(v *float64) string {
		if v == nil || math.IsNaN(*v) {
			return ""
		}
		return strconv.FormatFloat(*v, 'g', 6, 64)
	}
	_ = w.Write(csvHeader)
	for _, r := range rows {
		clients := ""
		if r.Clients > 0 {
			clients = strconv.Itoa(r.Clients)
		}
		_ = w.Write([]string{r.Condition, r.Channel, r.Metric, clients, strconv.Itoa(r.Samples),
			opt(r.Delivered), opt(r.P50), opt(r.P90), opt(r.P99), opt(r.Max), opt(r.Value), r.Unit, r.Note})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// writeJSON writes rows as one indented JSON array. NaN figures become null.
func writeJSON(w io.Writer, rows []Row) error {
	clean := make([]Row, len(rows)) // never nil: no rows encode as [], not null
	for i, r := range rows {
		for _, p := range []**float64{&r.Delivered, &r.P50, &r.P90, &r.P99, &r.Max, &r.Value} {
			if *p != nil && (math.IsNaN(**p) || math.IsInf(**p, 0)) {
				*p = nil
			}
		}
		clean[i] = r
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(clean)
}

// machineLine names the machine, the date and the command, for results quoted in the README.
func machineLine(command string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs (%s), load average %s at the end, %s, `%s`", cpuModel(), numCPU(), host,
		loadAvg(), time.Now().UTC().Format("2006-01-02 15:04 MST"), command)
}

// loadAvg returns the 1-minute load average from /proc/loadavg: other work on
// the machine shows in every latency and tick figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return "unknown"
	}
	return fields[0]
}

// cpuModel reads the CPU model name from /proc/cpuinfo where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// outputFlags are the output flags every bench command shares.
type outputFlags struct {
	JSON   bool   // print a JSON array of rows instead of the Markdown table
	Out    string // directory for the CSV file
	Charts string // directory for the PNG charts
	Quiet  bool   // no progress on stderr
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.JSON, "json", false, "print a JSON array of rows instead of the Markdown table")
	fs.StringVar(&o.Out, "out", filepath.Join("bench", "out"), "directory for the CSV file (and charts unless -charts)")
	fs.StringVar(&o.Charts, "charts", "", "directory for the PNG charts (default: -out)")
	fs.BoolVar(&o.Quiet, "q", false, "no progress on stderr")
}

// resolve applies the defaults that depend on other flags; call it after parsing.
func (o *outputFlags) resolve() {
	if o.Charts == "" {
		o.Charts = o.Out
	}
}

// writeFiles writes rows to <Out>/<name>.csv and the charts that draw returns, says
// where on prog, and with -json prints the rows to w. It returns the errors and
// whether the JSON was printed (the caller prints its Markdown table otherwise).
func (o *outputFlags) writeFiles(w io.Writer, name string, rows []Row, draw func() ([]string, error), prog *progress) (printed bool, errs []error) {
	csvPath := filepath.Join(o.Out, name+".csv")
	if err := writeCSV(csvPath, rows); err != nil {
		errs = append(errs, err)
	}
	charts, err := draw()
	if err != nil {
		errs = append(errs, err)
	}
	prog.Printf("wrote %s and %s", csvPath, strings.Join(charts, ", "))
	if o.JSON {
		return true, append(errs, writeJSON(w, rows))
	}
	return false, errs
}
