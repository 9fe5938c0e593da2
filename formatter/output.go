package formatter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/proxyctl/proxyctl/internal/safetext"
)

// ResourceName is a resource as -o name lists it, KIND/NAME, as `pc all` names them in its NAME
// column too.
func ResourceName(kind, name string) string { return kind + "/" + name }

// WriteNames writes -o name's lines: one KIND/NAME per line, as kubectl -o name prints them,
// with the characters a terminal acts on escaped as in tables (a name comes from the proxy).
func WriteNames(w io.Writer, names []string) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, n := range names {
		bw.WriteString(safetext.Escape(n))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseJSONPath compiles an -o jsonpath template with kubectl's engine (client-go's
// util/jsonpath), as kubectl does: text outside {} is printed as it is, a key a value lacks
// prints nothing (kubectl's --allow-missing-template-keys default).
func ParseJSONPath(template string) (*jsonpath.JSONPath, error) {
	if strings.TrimSpace(template) == "" {
		return nil, fmt.Errorf("-o jsonpath needs a template, e.g. -o jsonpath='{[*].name}'")
	}
	j := jsonpath.New("output").AllowMissingKeys(true)
	if err := j.Parse(template); err != nil {
		return nil, fmt.Errorf("invalid -o jsonpath template %q: %w", template, err)
	}
	return j, nil
}

// WriteJSONPath evaluates a compiled template over a JSON document (the -o json value of a
// view) and writes the result, with no newline added, as kubectl -o jsonpath does. Numbers
// are integers when they are whole, as in kubectl's unstructured objects, so that filters
// such as ?(@.port==15000) compare as expected.
func WriteJSONPath(w io.Writer, doc []byte, j *jsonpath.JSONPath) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("-o jsonpath: reading the -o json value: %w", err)
	}
	v = jsonNumbers(v)
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := j.Execute(bw, v); err != nil {
		return fmt.Errorf("-o jsonpath: %w", err)
	}
	return bw.Flush()
}

// jsonNumbers replaces json.Numbers with int64 (whole numbers that fit) or float64 values.
func jsonNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = jsonNumbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}
