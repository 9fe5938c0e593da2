package formatter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/traffic"
)

func TestExplainTrace(t *testing.T) {
	var rejected []traffic.Rejected
	for i := range 30 {
		rejected = append(rejected, traffic.Rejected{Name: fmt.Sprintf("vh%d", i), Why: "no domain matches"})
	}
	e := &traffic.Explanation{
		Listener: "0.0.0.0_80\x1b[31m", Error: "no_virtual_host", Message: "no virtual host matches \"evil\x07\"",
		Steps: []traffic.TraceStep{
			{Step: "LISTENER", Name: "0.0.0.0_80\x1b[31m", Rule: "bound"},
			{Step: "VIRTUAL HOST", Rule: "none matches", Notes: []string{"action: nothing"}, Rejected: rejected},
		},
		Endpoints: []traffic.EndpointInfo{},
	}
	var short, verbose, js bytes.Buffer
	if err := Explain(&short, e, Short, false); err != nil {
		t.Fatal(err)
	}
	if err := Explain(&verbose, e, Short, true); err != nil {
		t.Fatal(err)
	}
	if err := Explain(&js, e, JSON, false); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"short": short.String(), "verbose": verbose.String(), "json": js.String()} {
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s output has a raw control character: %q", name, out)
		}
	}
	want := "LISTENER      0.0.0.0_80\\x1b[31m  (bound)\nVIRTUAL HOST  -  (none matches)  action: nothing\nERROR         no_virtual_host: no virtual host matches \"evil\\x07\"\n"
	if short.String() != want {
		t.Errorf("short:\n%s\nwant:\n%s", short.String(), want)
	}
	if n := strings.Count(verbose.String(), "    x "); n != maxRejected+1 || !strings.Contains(verbose.String(), "... 5 more (-o json lists them all)") {
		t.Errorf("verbose lists %d candidates, want %d and a line for the rest:\n%s", n, maxRejected+1, verbose.String())
	}
	var back traffic.Explanation
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Steps[1].Rejected) != 30 || back.Listener != e.Listener {
		t.Errorf("JSON does not carry the explanation whole (%v): %d candidates", err, len(back.Steps[1].Rejected))
	}
}
