// Command proxyctl inspects the configuration of Envoy proxies: a faithful,
// faster clone of `istioctl proxy-config` and `istioctl proxy-status`.
package main

import (
	"os"

	"github.com/proxyctl/proxyctl/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
