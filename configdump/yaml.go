package configdump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	"sigs.k8s.io/yaml"
)

// yamlStart matches the start of a YAML document: a "---" line, or a first key.
var yamlStart = regexp.MustCompile(`^(---|[A-Za-z_@"'][^\n:]*:(\s|$))`)

// LooksLikeYAML reports whether a document, from its first bytes, is YAML rather than JSON:
// `proxyctl pc all -o yaml` prints dumps so, and people keep them.
func LooksLikeYAML(start []byte) bool {
	start = bytes.TrimLeft(start, " \t\r\n")
	for bytes.HasPrefix(start, []byte("#")) { // comment lines
		if i := bytes.IndexByte(start, '\n'); i >= 0 {
			start = bytes.TrimLeft(start[i+1:], " \t\r\n")
			continue
		}
		return true // comments up to the end of what was seen: JSON has none
	}
	return yamlStart.Match(start)
}

// YAMLToJSON converts a YAML document to the JSON Parse reads, indented as Envoy's admin API
// indents it, so that `pc all -o json` prints it as it prints a dump read as JSON.
func YAMLToJSON(data []byte) ([]byte, error) {
	out, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("the document looks like YAML but is not: %w", err)
	}
	var indented bytes.Buffer
	indented.Grow(len(out) * 2)
	if err := json.Indent(&indented, out, "", "  "); err != nil {
		return nil, fmt.Errorf("the document looks like YAML but is not: %w", err)
	}
	return indented.Bytes(), nil
}
