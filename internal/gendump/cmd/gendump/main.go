// Command gendump writes a large, realistic Envoy config dump of an Istio
// sidecar (or, with -clusters, the matching /clusters?format=json document;
// with -doc, another admin document of the same proxy). The same flags always
// give the same bytes.
//
//	go run ./internal/gendump/cmd/gendump -services 4000 -o big.json
//	go run ./internal/gendump/cmd/gendump -size 200MB -o big.json
//	go run ./internal/gendump/cmd/gendump -services 4000 -clusters -o clusters.json
//	go run ./internal/gendump/cmd/gendump -services 4000 -doc stats -o stats.txt
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/proxyctl/proxyctl/internal/gendump"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gendump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	services := fs.Int("services", gendump.DefaultServices, "number of services in the mesh")
	seed := fs.Uint64("seed", 1, "seed: picks names, ports, subsets and endpoints")
	out := fs.String("o", "-", "output file (- for stdout)")
	clusters := fs.Bool("clusters", false, "write the /clusters?format=json document instead of /config_dump")
	doc := fs.String("doc", "config_dump", "the admin document to write: config_dump, clusters, server_info, certs, listeners, stats, runtime or memory")
	size := fs.String("size", "", "pick -services for about this output size (e.g. 50MB, 200MB, 1GiB)")
	verbose := fs.Bool("v", false, "print the service count, size and time on stderr")
	later := fs.Bool("later", false, "the same proxy's dump taken later: other update times and versions, resources in another order")
	replicas := fs.Int("replicas", 0, "pods of the proxy's workload (productpage-v1)")
	replica := fs.Int("replica", 0, "which of the -replicas pods the dump is of (0 to replicas-1)")
	change := fs.Float64("change", 0, "change about this percentage of the outbound clusters, TCP listeners and EDS assignments")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gendump [-services N | -size SIZE] [-seed S] [-clusters | -doc NAME] [-later] [-replicas N -replica I] [-change PCT] [-o FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gendump: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *clusters {
		*doc = "clusters"
	}
	write, ok := gendump.Writers[*doc]
	if !ok {
		fmt.Fprintf(stderr, "gendump: unknown -doc %q\n", *doc)
		return 2
	}
	if *size != "" {
		target, err := parseSize(*size)
		if err != nil {
			fmt.Fprintf(stderr, "gendump: -size: %v\n", err)
			return 2
		}
		n, err := gendump.ServicesForSize(target, *seed, write)
		if err != nil {
			fmt.Fprintf(stderr, "gendump: %v\n", err)
			return 1
		}
		*services = n
	}
	if *services <= 0 {
		fmt.Fprintln(stderr, "gendump: -services must be positive")
		return 2
	}

	start := time.Now()
	w := stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "gendump: %v\n", err)
			return 1
		}
		w = f
	}
	cw := &countingWriter{w: w}
	err := write(cw, gendump.Options{Services: *services, Seed: *seed, Later: *later, Replicas: *replicas, Replica: *replica, ChangePercent: *change})
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gendump: %v\n", err)
		return 1
	}
	if *verbose {
		fmt.Fprintf(stderr, "gendump: %d services, %d bytes (%.1f MB) in %s\n",
			*services, cw.n, float64(cw.n)/1e6, time.Since(start).Round(time.Millisecond))
	}
	return 0
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// parseSize reads "50MB" (10^6), "50MiB" (2^20), "1GB", "123456" (bytes).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, x := range units {
		if strings.HasSuffix(u, x.suffix) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, x.suffix)), x.mult
			break
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("invalid size %q: want a positive number with an optional unit (KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return int64(v * float64(mult)), nil
}
