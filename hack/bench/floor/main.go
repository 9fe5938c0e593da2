// Command floor is the baseline make bench compares proxyctl with: it reads
// a file whole and checks that it is valid JSON, the least any reader of a
// config dump has to do.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		os.Exit(1)
	}
	if !json.Valid(data) {
		fmt.Fprintf(os.Stderr, "floor: %s is not valid JSON\n", os.Args[1])
		os.Exit(1)
	}
}
