package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"strings"
)

// The HTML report is one self-contained page: the summary table and charts
// over time drawn as inline SVG. It loads nothing from anywhere.

type chartSeries struct {
	name  string
	color string
	ys    []float64
}

const (
	chartW, chartH                     = 860, 230
	padL, padR, padT, padB             = 64, 16, 28, 34
	plotW, plotH                       = chartW - padL - padR, chartH - padT - padB
	colorA, colorB, colorC, colorShade = "#1f77b4", "#d62728", "#2ca02c", "#eef4ea"
)

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", math.Round(v*1000)/1000)
	}
}

// svgChart draws a line chart of series over xs (seconds). The steady
// window [steady0, steady1] is shaded when steady1 > steady0.
func svgChart(title, unit string, xs []float64, series []chartSeries, steady0, steady1 float64) template.HTML {
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="t">%s</text>`, padL, esc(title))
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="l">no samples</text></svg>`, padL, padT+plotH/2)
		return template.HTML(b.String())
	}
	xmax := xs[len(xs)-1]
	if xmax <= 0 {
		xmax = 1
	}
	ymax := 0.0
	for _, s := range series {
		for _, y := range s.ys {
			ymax = max(ymax, y)
		}
	}
	ymax = niceCeil(ymax)
	px := func(x float64) float64 { return padL + x/xmax*plotW }
	py := func(y float64) float64 { return padT + plotH - y/ymax*plotH }

	if steady1 > steady0 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>steady window</title></rect>`,
			px(steady0), padT, px(steady1)-px(steady0), plotH, colorShade)
	}
	// Grid and axes.
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/>`, padL, padL+plotW, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="l" text-anchor="end">%s</text>`, padL-6, py(y)+4, fmtTick(y))
	}
	xstep := niceCeil(xmax / 8)
	for x := 0.0; x <= xmax+1e-9; x += xstep {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="l" text-anchor="middle">%s</text>`, px(x), padT+plotH+16, fmtTick(x))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="l" text-anchor="end">seconds</text>`, padL+plotW, chartH-2)
	fmt.Fprintf(&b, `<text x="12" y="%d" class="l" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>`,
		padT+plotH/2, padT+plotH/2, esc(unit))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="f"/>`, padL, padT, plotW, plotH)

	for i, s := range series {
		var pts strings.Builder
		for j, y := range s.ys {
			if j >= len(xs) {
				break
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(xs[j]), py(y))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.6"/>`, pts.String(), s.color)
		lx := padL + plotW - 150*(len(series)-i)
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="4" fill="%s"/><text x="%d" y="14" class="l">%s</text>`,
			lx, s.color, lx+16, esc(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Prism load test {{.R.Started.Format "2006-01-02 15:04:05"}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:900px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{font-weight:600;white-space:nowrap}
.pass{color:#2a7d2a;font-weight:700}.fail{color:#c62828;font-weight:700}
svg{display:block;margin:8px 0 18px}svg .t{font-size:14px;font-weight:600}svg .l{font-size:11px;fill:#555}
svg .g{stroke:#e2e2e2}svg .f{fill:none;stroke:#999}
details pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}
</style></head><body>
<h1>Prism load test — <span class="{{if .R.Pass}}pass{{else}}fail{{end}}">{{if .R.Pass}}PASS{{else}}FAIL{{end}}</span></h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}} against <code>{{.R.Setup.URL}}</code>; {{.Mode}}.
Figures cover the {{if eq .R.Window "steady"}}steady window of {{printf "%.1f" .R.WindowSeconds}} s (shaded in the charts){{else}}whole run (no steady window was measured){{end}}{{if .R.Partial}}; the run was interrupted{{end}}.</p>
<table>
<tr><th>clients</th><td>{{.R.Clients.Joined}} joined, {{.R.Clients.Failed}} failed ({{.R.Clients.Publishers}} publishers, {{.R.Clients.Subscribers}} subscribers)</td></tr>
<tr><th>join</th><td>p50 {{.R.JoinMS.P50}} ms, p95 {{.R.JoinMS.P95}} ms, p99 {{.R.JoinMS.P99}} ms, max {{.R.JoinMS.Max}} ms</td></tr>
<tr><th>tracks</th><td>{{.R.TracksReceived}} of {{.R.TracksExpected}} expected received</td></tr>
<tr><th>latency</th><td>p50 {{.R.LatencyMS.P50}} ms, p95 {{.R.LatencyMS.P95}} ms, p99 {{.R.LatencyMS.P99}} ms, max {{.R.LatencyMS.Max}} ms</td></tr>
<tr><th>packets</th><td>sent {{.R.PacketsSent}}, expected {{.R.PacketsExpected}}, received {{.R.PacketsReceived}} ({{.R.PPSOut}}/s out, {{.R.PPSIn}}/s in)</td></tr>
<tr><th>loss</th><td>{{.R.LossPct}} %</td></tr>
<tr><th>RTCP</th><td>{{.R.NacksSent}} NACKs ({{.R.NackedPackets}} packets), {{.R.PlisSent}} PLIs sent; {{.R.PlisReceived}} keyframe requests reached publishers</td></tr>
<tr><th>video bitrate</th><td>min {{.R.BitrateKbps.Min}} kbit/s, p50 {{.R.BitrateKbps.P50}} kbit/s over {{.R.BitrateKbps.Tracks}} subscriber tracks</td></tr>
<tr><th>client CPU</th><td>{{.R.ClientCPUSeconds}} s</td></tr>
{{with .R.Server}}<tr><th>server</th><td>pid {{.PID}}: {{.CPUSeconds}} s CPU ({{.CPUPct}} % of a core), {{.CPUUsPerPacket}} µs per forwarded packet, RSS {{.RSSMB}} MB (peak {{.RSSPeakMB}} MB)</td></tr>{{end}}
<tr><th>UDP rcvbuf errors</th><td>{{.R.UDPRcvbufErrors}}{{with .R.UDPSocketDrops}} (socket drops: client {{.Client}}{{with .Server}}, server {{.}}{{end}}){{end}}</td></tr>
{{range .R.Violations}}<tr><th class="fail">fail</th><td>{{.}}</td></tr>{{end}}
{{range .R.MissingTracks}}<tr><th class="fail">missing</th><td>{{.}}</td></tr>{{end}}
</table>
<h2>Over time</h2>
{{range .Charts}}{{.}}{{end}}
<details><summary>Report JSON</summary><pre>{{.JSON}}</pre></details>
</body></html>
`))

func writeHTML(path string, r *Report) error {
	var xs, out, in, p50, p95, p99, loss, nacks, srvCPU, cliCPU, joined, flowing []float64
	steady0, steady1 := 0.0, 0.0
	if r.Window == "steady" {
		steady0, steady1 = r.WindowStartS, r.WindowStartS+r.WindowSeconds
	}
	for _, s := range r.Series {
		xs = append(xs, s.T)
		out = append(out, s.PPSOut)
		in = append(in, s.PPSIn)
		p50 = append(p50, s.P50MS)
		p95 = append(p95, s.P95MS)
		p99 = append(p99, s.P99MS)
		loss = append(loss, s.LossPct)
		nacks = append(nacks, s.NacksPerSec)
		srvCPU = append(srvCPU, s.ServerCPUPct)
		cliCPU = append(cliCPU, s.ClientCPUPct)
		joined = append(joined, float64(s.Joined))
		flowing = append(flowing, float64(s.TracksFlowing))
	}
	charts := []template.HTML{
		svgChart("Packets per second", "packets/s", xs, []chartSeries{
			{"sent by publishers", colorA, out}, {"received by subscribers", colorB, in}}, steady0, steady1),
		svgChart("Latency percentiles (each second)", "ms", xs, []chartSeries{
			{"p50", colorC, p50}, {"p95", colorA, p95}, {"p99", colorB, p99}}, steady0, steady1),
		svgChart("Loss", "% of packets", xs, []chartSeries{{"loss %", colorB, loss}}, steady0, steady1),
		svgChart("NACKs sent", "NACKs/s", xs, []chartSeries{{"NACKs/s", colorA, nacks}}, steady0, steady1),
	}
	cpu := []chartSeries{{"load-test client", colorA, cliCPU}}
	if r.Server != nil {
		cpu = append(cpu, chartSeries{"server", colorB, srvCPU})
	}
	charts = append(charts,
		svgChart("CPU", "% of one core", xs, cpu, steady0, steady1),
		svgChart("Clients and tracks", "count", xs, []chartSeries{
			{"clients joined", colorA, joined}, {"tracks flowing", colorC, flowing}}, steady0, steady1))

	compact := *r
	compact.Series = nil
	js, err := json.MarshalIndent(&compact, "", "  ")
	if err != nil {
		return err
	}
	mode := fmt.Sprintf("%s → %s", plural(r.Setup.Publishers, "publisher"), plural(r.Setup.Subscribers, "subscriber"))
	if r.Setup.Conference {
		mode = fmt.Sprintf("conference of %d (+%s)", r.Setup.Publishers, plural(r.Setup.Subscribers, "subscriber"))
	}
	if r.Setup.Rooms > 1 {
		mode += fmt.Sprintf(" over %d rooms", r.Setup.Rooms)
	}
	var buf bytes.Buffer
	err = htmlPage.Execute(&buf, map[string]any{"R": r, "Charts": charts, "JSON": string(js), "Mode": mode})
	if err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
