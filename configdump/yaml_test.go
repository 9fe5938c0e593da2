package configdump

import (
	"strings"
	"testing"
)

func TestLooksLikeYAML(t *testing.T) {
	tests := []struct {
		start string
		want  bool
	}{
		{`{"configs": []}`, false},
		{"  \n[1]", false},
		{"configs:\n- '@type': x", true},
		{"---\nconfigs: []", true},
		{"# saved with proxyctl\n\nconfigs:\n", true},
		{"'@type': type.googleapis.com/x\n", true},
		{"# " + strings.Repeat("a long comment ", 300), true}, // past the bytes looked at
		{"", false},
		{"garbage", false},
		{"<!DOCTYPE html>", false},
		{"\x00\xff", false},
		{"key:value", false}, // a YAML key is followed by a space
	}
	for _, tt := range tests {
		if got := LooksLikeYAML([]byte(tt.start)); got != tt.want {
			t.Errorf("LooksLikeYAML(%.40q) = %v, want %v", tt.start, got, tt.want)
		}
	}
}
