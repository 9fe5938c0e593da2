package formatter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// TestCaptureSummary pins the summary's table and last line.
func TestCaptureSummary(t *testing.T) {
	rows := []CaptureRow{
		{Proxy: "web-1.shop", Status: "ok", Documents: 8, Total: 8, Size: 12_400_000, Envoy: "1.32.3-dev/Clean/RELEASE/BoringSSL"},
		{Proxy: "web-2.shop", Status: "partial", Documents: 6, Total: 8, Size: 812, Envoy: "1.31.0", Missing: []string{"memory (404)", "stats (error)"}},
		{Proxy: "web-3.shop\x1b[2J", Status: "failed", Total: 8},
	}
	var b bytes.Buffer
	if err := CaptureSummary(&b, rows, "proxyctl-capture-20250602T081405Z.tar.gz", 1_234_567); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "formatter/capture_summary.out", b.Bytes())
	if strings.Contains(b.String(), "\x1b") {
		t.Error("a control character reached the table")
	}
}

// TestCaptureProgress: the line fits the terminal, the bar follows the count, and it is
// erased whole.
func TestCaptureProgress(t *testing.T) {
	cases := []struct {
		p     CaptureProgress
		width int
		want  string
	}{
		{CaptureProgress{Total: 50}, 80, "\rcapturing 0/50 proxies [" + strings.Repeat(" ", 40) + "] 0B" + strings.Repeat(" ", 11)},
		{CaptureProgress{Done: 25, Failed: 2, Total: 50, Bytes: 41_200_000}, 80, "\rcapturing 25/50 proxies [" + strings.Repeat("=", 18) + strings.Repeat(" ", 18) + "] 2 failed, 41.2MB"},
		{CaptureProgress{Done: 50, Total: 50, Bytes: 2e9}, 50, "\rcapturing 50/50 proxies [" + strings.Repeat("=", 17) + "] 2.0GB"},
		// Too narrow for a bar: the count alone, at the least width (40).
		{CaptureProgress{Done: 3, Total: 7, Failed: 1, Bytes: 5}, 20, "\rcapturing 3/7 proxies 1 failed, 5B" + strings.Repeat(" ", 5)},
	}
	for _, tc := range cases {
		var b bytes.Buffer
		WriteCaptureProgress(&b, tc.p, tc.width)
		if b.String() != tc.want {
			t.Errorf("%+v at %d columns:\n%q\nwant\n%q", tc.p, tc.width, b.String(), tc.want)
		}
		if n := len(b.String()) - 1; n != max(tc.width, 40)-1 {
			t.Errorf("%+v: %d columns written, want %d", tc.p, n, max(tc.width, 40)-1)
		}
	}
	var b bytes.Buffer
	ClearCaptureProgress(&b, 80)
	if b.String() != "\r"+strings.Repeat(" ", 79)+"\r" {
		t.Errorf("clear: %q", b.String())
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1.0kB", 12_345: "12.3kB", 5_000_000: "5.0MB", 7_250_000_000: "7.2GB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "a\nb": `a\nb`, "\x1b[31mred": `\x1b[31mred`, "tab\there": `tab\there`, "é ok": "é ok", "\u0085": `\u0085`} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
