// Package formatter writes every byte proxyctl prints: the tables of each view, laid out
// exactly as istioctl lays them out, and the JSON and YAML forms of the resources.
package formatter

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/configdump"
)

// Format is an output format.
type Format string

// The output formats of -o/--output.
const (
	Short Format = "short"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// Formats lists the formats -o accepts.
var Formats = []Format{Short, JSON, YAML}

// ParseFormat validates an -o value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown output format %q: use one of short, json, yaml", s)
}

// newTable returns a tab writer laid out as istioctl's tables: columns separated by at least
// padding spaces.
func newTable(w io.Writer, padding int) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)
}

// encodeChunk is the number of resources one goroutine encodes at a time.
const encodeChunk = 64

// Resources writes msgs as a JSON array, or a YAML sequence, as istioctl prints a view's
// resources. Resources are encoded in parallel and written in order.
func Resources[T proto.Message](w io.Writer, d *configdump.Dump, msgs []T, f Format) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if len(msgs) == 0 {
		fmt.Fprintln(bw, "[]")
		return bw.Flush()
	}
	if f == JSON {
		bw.WriteString("[\n    ")
	}
	err := encodeInOrder(d, msgs, f, func(i int, out []byte) error {
		if f == YAML {
			_, err := bw.Write(out)
			return err
		}
		if i > 0 {
			bw.WriteString(",\n    ")
		}
		_, err := bw.Write(out)
		return err
	})
	if err != nil {
		return err
	}
	if f == JSON {
		bw.WriteString("\n]\n")
	}
	return bw.Flush()
}

// encodeInOrder encodes msgs (as JSON elements of an indented array, or YAML sequence items)
// on all cores and hands the results to emit in order.
func encodeInOrder[T proto.Message](d *configdump.Dump, msgs []T, f Format, emit func(i int, out []byte) error) error {
	type chunk struct {
		outs [][]byte
		err  error
		done chan struct{}
	}
	n := (len(msgs) + encodeChunk - 1) / encodeChunk
	chunks := make([]*chunk, n)
	for i := range chunks {
		chunks[i] = &chunk{done: make(chan struct{})}
	}
	work := make(chan int)
	workers := min(runtime.GOMAXPROCS(0), n)
	// slots bounds the chunks encoded but not yet written, so memory stays flat when the
	// output is slower than the encoders.
	slots := make(chan struct{}, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := d.NewEncoder()
			for c := range work {
				ch := chunks[c]
				for i := c * encodeChunk; i < min((c+1)*encodeChunk, len(msgs)); i++ {
					out, err := encodeOne(enc, msgs[i], f)
					if err != nil {
						ch.err = err
						break
					}
					ch.outs = append(ch.outs, out)
				}
				close(ch.done)
			}
		}()
	}
	go func() {
		for c := range chunks {
			slots <- struct{}{}
			work <- c
		}
		close(work)
	}()
	defer wg.Wait()
	var firstErr error
	for c, ch := range chunks {
		<-ch.done
		<-slots
		if firstErr != nil {
			continue
		}
		if ch.err != nil {
			firstErr = ch.err
			continue
		}
		for k, out := range ch.outs {
			if err := emit(c*encodeChunk+k, out); err != nil {
				firstErr = err
				break
			}
		}
		ch.outs = nil
	}
	return firstErr
}

// encodeOne encodes one resource as an element of an indented JSON array, or as a YAML
// sequence item.
func encodeOne(enc *configdump.Encoder, m proto.Message, f Format) ([]byte, error) {
	enc.Reset()
	if f == JSON {
		enc.SetDepth(1)
	} else {
		enc.SetDepth(0)
	}
	if err := enc.Message(m); err != nil {
		return nil, err
	}
	if f == JSON {
		return bytes.Clone(enc.Bytes()), nil
	}
	y, err := yaml.JSONToYAML(enc.Bytes())
	if err != nil {
		return nil, err
	}
	return yamlItem(y), nil
}

// yamlItem turns a YAML document into an item of a YAML sequence.
func yamlItem(doc []byte) []byte {
	var b bytes.Buffer
	lines := strings.SplitAfter(string(doc), "\n")
	for i, l := range lines {
		if l == "" {
			continue
		}
		if i == 0 {
			b.WriteString("- ")
		} else {
			b.WriteString("  ")
		}
		b.WriteString(l)
	}
	return b.Bytes()
}

// Message writes one message as indented JSON, or YAML.
func Message(w io.Writer, d *configdump.Dump, m proto.Message, f Format) error {
	enc := d.NewEncoder()
	if err := enc.Message(m); err != nil {
		return err
	}
	out := append(enc.Bytes(), '\n')
	if f == YAML {
		y, err := yaml.JSONToYAML(out)
		if err != nil {
			return err
		}
		out = y
	}
	_, err := w.Write(out)
	return err
}

// Raw writes a JSON document as it is, or converted to YAML.
func Raw(w io.Writer, data []byte, f Format) error {
	if f == YAML {
		y, err := yaml.JSONToYAML(data)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		_, err := w.Write([]byte{'\n'})
		return err
	}
	return nil
}
