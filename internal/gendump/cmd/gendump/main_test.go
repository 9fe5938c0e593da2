package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"50MB", 50e6, true},
		{"200mb", 200e6, true},
		{"1.5GB", 1.5e9, true},
		{"64MiB", 64 << 20, true},
		{"12345", 12345, true},
		{"10 KB", 10e3, true},
		{"", 0, false},
		{"-1MB", 0, false},
		{"lots", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestRunIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
	}{
		{"services", []string{"-services", "150", "-seed", "4"}},
		{"clusters", []string{"-services", "150", "-seed", "4", "-clusters"}},
		{"size", []string{"-size", "2MB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sums [2][32]byte
			for i := range sums {
				out := filepath.Join(dir, tt.name+".json")
				var stderr bytes.Buffer
				if code := run(append(tt.args, "-o", out), nil, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if !json.Valid(data) {
					t.Fatalf("%s: output is not valid JSON", tt.name)
				}
				sums[i] = sha256.Sum256(data)
			}
			if sums[0] != sums[1] {
				t.Errorf("two runs of %v differ", tt.args)
			}
		})
	}
}

func TestRunStdoutAndUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-services", "5"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "{\n  \"configs\": [") {
		t.Errorf("exit %d, stdout starts %q", code, stdout.String()[:min(40, stdout.Len())])
	}
	for _, args := range [][]string{{"-services", "0"}, {"-size", "big"}, {"extra"}, {"-nope"}} {
		stderr.Reset()
		if code := run(args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("run %v: exit %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
}
