package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// BenchmarkAll runs `pc all` whole, from the command line in, on a generated and a real-shaped
// dump of about 12 MB (the real one skipped without Python 3 or ../shared): the tables, whose
// sections are read two at a time (run with -cpu 1,2 to see what that buys), -o name, and
// -o json, the document itself.
func BenchmarkAll(b *testing.B) {
	for _, in := range testutil.BenchInputs() {
		b.Run(in.Name, func(b *testing.B) {
			data := in.Data(b)
			path := filepath.Join(b.TempDir(), "config_dump.json")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			for _, view := range [][]string{{"all"}, {"all", "-o", "name"}, {"all", "-o", "json"}} {
				b.Run(strings.Join(view, " "), func(b *testing.B) {
					b.SetBytes(int64(len(data)))
					args := append(append([]string{"pc"}, view...), "-f", path)
					for b.Loop() {
						var errOut strings.Builder
						if code := Run(args, Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &errOut}); code != ExitOK {
							b.Fatalf("%v: exit %d: %s", args, code, errOut.String())
						}
					}
				})
			}
		})
	}
}
