// Command gendescriptors writes the descriptors configdump embeds for the Envoy types proxyctl
// does not link: go run ./hack/gendescriptors configdump.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/proxyctl/proxyctl/internal/alltypes"
	"github.com/proxyctl/proxyctl/internal/descgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendescriptors DIR")
		os.Exit(2)
	}
	descriptors, index, err := descgen.Generate()
	if err == nil {
		err = os.WriteFile(filepath.Join(os.Args[1], "descriptors.pb"), descriptors, 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(os.Args[1], "types.idx"), index, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
