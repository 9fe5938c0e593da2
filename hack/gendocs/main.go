// Command gendocs writes proxyctl's command reference, one Markdown page per command, from
// the cobra command tree: go run ./hack/gendocs docs/reference.
package main

import (
	"fmt"
	"os"

	"github.com/proxyctl/proxyctl/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := cli.WriteReference(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
